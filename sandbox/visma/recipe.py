"""How the demo, the benchmarks and the link script use the Visma eAccounting sandbox (no
odoo import).

``sandbox/registry.py`` lists this service; scripts/ and bench/ read these values instead of
naming the service themselves. Paths are control-API paths below /_sandbox.
"""

from . import seed

LABEL = "Visma eAccounting"
COMPANY = seed.COMPANY_IDS[0]  # the company the demo and bench links book in

LINK = {
    "fields": lambda url: {
        "visma_environment": "sandbox",
        "visma_identity_url": f"{url}/visma/identity",
        "visma_api_url": f"{url}/visma/api",
    },
    "consent_path": "/visma/consent",
    # V5: the user picks the company on the login page; the link stores it at connect
    "consent_params": {"company": COMPANY},
    # no administration list to choose from afterwards: the consent chose it (V5, V6)
    "administration": None,
    # link field -> (remote list kind, code): the defaults chosen after "Load lists"
    "defaults": {
        "visma_terms_of_payment_id": ("payment_condition", seed.sid("terms:30")),
        "visma_unit_id": ("unit", seed.sid("unit:st")),
        "visma_receivable_account_id": ("gl_account", "1300"),
    },
    # Odoo tax rate -> VAT code of the seed (V29: 0 % also has EU and export codes)
    "vat_codes": {21.0: seed.sid("vat:21"), 9.0: seed.sid("vat:9"), 0.0: seed.sid("vat:0")},
    "income_account": "8000",
}

# The demo company: eAccounting numbers the invoices (drafts, V31); the accountant converts
# three drafts in eAccounting (V34), the number sync brings their numbers back (V35).
DEMO = {
    "company": "Demo BV (Visma eAccounting)",
    "invoice_mode": "remote",
    "remote_actions": [
        {"state": "sent_draft", "limit": 3, "path": "/visma/drafts/{remote_id}/convert"},
    ],
}

# The benchmark hooks (bench/harness.py). The bench books with Odoo's numbers: ledger items.
BENCH = {
    "rate_limit_off": ("/visma/config", {"rate_limit_enabled": False}),
    # V21 gives no budget headers: the client paces every endpoint at the published 600
    # calls a minute, so a shortened window could not be learnt; no shortened run.
    "rate_limit_on": None,
    "pay": "/visma/ledgeritems/{remote_id}/pay",
    "finalise": "/visma/drafts/{remote_id}/convert",
    "rate_note": "Visma eAccounting sends no budget headers (V21): the client paces each "
    "endpoint under 600 calls a minute; the 429 with its wait in the text is proven by the "
    "tests.",
}


def remote_documents(state):
    """The invoices as the remote package holds them, from ``GET /_sandbox/state/visma``
    (the linked company): drafts, invoices and ledger items (Odoo's numbers)."""
    company = state.get("companies", {}).get(COMPANY, {})
    return (
        company.get("customerinvoicedrafts", [])
        + company.get("customerinvoices", [])
        + company.get("customerledgeritems", [])
    )


# bench/sandbox_throughput.py: one paged GET on one keep-alive connection.
THROUGHPUT = {
    "name": "visma_units_gets_per_second",
    "token_path": "/visma/identity/connect/token",
    "client_auth": "basic",  # V3: the client in HTTP Basic only
    "setup": ("/visma/config", {"rate_limit_enabled": False}),
    "path": "/visma/api/v2/units?$page=1&$pagesize=2",
    "headers": {"Accept": "application/json"},
}
