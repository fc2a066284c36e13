"""How demo, bench and tests use the Visma eAccounting simulator (plain data, no odoo).

The coordinator aligns this with the recipe shape of sandbox/<service>/recipe.py (H1).
Paths are below the sandbox URL; ``{id}`` is filled in by the caller.
"""

from . import seed

RECIPE = {
    "service": "visma",
    "label": "Visma eAccounting",
    "link": {
        # the link's base URLs for a sandbox at {url}
        "identity_url": "{url}/visma/identity",
        "api_url": "{url}/visma/api",
        "environment": "sandbox",
    },
    "consent": {
        "path": "/_sandbox/visma/consent",
        "register_client_path": "/_sandbox/visma/clients",
        "extra": {"scope": "ea:api offline_access ea:sales ea:accounting"},
        "administration_field": "company",
    },
    "administration": {"code": seed.COMPANY_IDS[0], "name": seed.COMPANIES[0]["Name"]},
    "administrations": {
        "linked": seed.COMPANY_IDS[0],
        "second": seed.COMPANY_IDS[1],
        "without_api_module": seed.COMPANY_IDS[2],
    },
    "defaults": {
        "terms_of_payment": seed.sid("terms:30"),
        "unit": seed.sid("unit:st"),
        "receivable_account": "1300",
        "rounding_account": "8900",
    },
    "vat_codes_per_rate": {
        21.0: [seed.sid("vat:21")],
        9.0: [seed.sid("vat:9")],
        0.0: [seed.sid("vat:0"), seed.sid("vat:0eu"), seed.sid("vat:0ex")],
    },
    "codings_per_rate": {
        21.0: seed.sid("coding:21"),
        9.0: seed.sid("coding:9"),
        0.0: seed.sid("coding:0"),
    },
    "income_account": "8000",
    "demo_company": {
        "name": "Visma Demo BV",
        "invoice_mode": "remote_numbers",
        "remote_actions": {
            "convert_draft": "/_sandbox/visma/drafts/{id}/convert",
            "delete_draft": "/_sandbox/visma/drafts/{id}/delete",
            "pay_invoice": "/_sandbox/visma/invoices/{id}/pay",
            "pay_ledger_item": "/_sandbox/visma/ledgeritems/{id}/pay",
        },
    },
    "bench": {
        "rate_limit_off": ("/_sandbox/visma/config", {"rate_limit_enabled": False}),
        "rate_limit_on": ("/_sandbox/visma/config", {"rate_limit_enabled": True}),
        "pay": "/_sandbox/visma/invoices/{id}/pay",
        "finalize": "/_sandbox/visma/drafts/{id}/convert",
        "documents": "/_sandbox/state/visma",
        "throughput_probe": "/visma/api/v2/units",
    },
}


# The shape scripts/ and bench/ read (sandbox/registry.py). There is no Odoo link model for
# Visma yet, so no link, demo or bench recipe: RECIPE above holds the data they will use.
LABEL = RECIPE["label"]
LINK = None
DEMO = None
BENCH = None
THROUGHPUT = None  # its identity server takes Basic client auth only, unlike the probe's


def remote_documents(state):
    """Not wired yet (no bench recipe): the state dump is read by the contract tests."""
    return []
