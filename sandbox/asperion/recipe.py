"""How the demo, the benchmarks and the link script use the Asperion sandbox (no odoo import).

``sandbox/registry.py`` lists this service; scripts/ and bench/ read these values instead of
naming the service themselves.
"""

LABEL = "Asperion"

LINK = {
    "fields": lambda url: {
        "asperion_environment": "sandbox",
        "asperion_identity_url": f"{url}/asperion/identity",
        "asperion_api_url": f"{url}/asperion/api",
    },
    "consent_path": "/asperion/consent",
    # A7: every reachable administration by default
    "consent_params": {},
    "administration": ("asperion_administration_option_id", "101"),
    "defaults": {
        "asperion_debtor_kind_id": ("debtor_kind", "DEB"),
        "asperion_sales_type_id": ("sales_type", "1"),
        "asperion_payment_condition_id": ("payment_condition", "2"),
    },
    "vat_codes": {21.0: "VH", 9.0: "VL", 0.0: "V0"},
    "income_account": "8000",
}

# The demo company: Asperion numbers the invoices (drafts); the user finalises three drafts.
DEMO = {
    "company": "Demo BV (Asperion)",
    "invoice_mode": "remote",
    "remote_actions": [
        {"state": "sent_draft", "limit": 3, "path": "/asperion/drafts/{remote_ref}/finalize"},
    ],
}

BENCH = {
    # A27: no published rate limit, nothing to turn off
    "rate_limit_off": None,
    "rate_limit_on": None,
    "pay": "/asperion/salesinvoices/{remote_id}/pay",
    "finalise": "/asperion/drafts/{remote_ref}/finalize",
    "rate_note": "Asperion publishes no rate limit; 429/503 handling is proven by the tests "
    "with Retry-After.",
    # bench/collective.py: the default debtor of collective entries, made remotely and
    # named on the link.
    "collective_setup": lambda backend, client: backend.write(
        {
            "collective_customer_code": str(
                client.create_debtor(
                    {"name": "Particulieren (bench)", "debtorKindId": "DEB", "countryCode": "NL"}
                )["customerNumber"]
            )
        }
    ),
}


def collective_totals(state, references):
    """Count and totals of the collective entries ``references`` (final sales invoices
    numbered with them) as the sandbox holds them: {entries, total, vat, lines}."""
    refs = set(references)
    adm = state.get("administrations", {}).get("101", {})
    rows = [r for r in adm.get("salesinvoices", []) if r.get("invoiceNumber") in refs]
    return {
        "entries": len(rows),
        "total": round(sum(r["amountInclVat"] for r in rows), 2),
        "vat": round(sum(r["vatAmount"] for r in rows), 2),
        "lines": sum(len(r["lines"]["_data"]) for r in rows),
    }


def remote_documents(state):
    """The invoices as the remote package holds them, from ``GET /_sandbox/state/asperion``
    (administration 101): drafts, and final invoices not made from one of those drafts."""
    adm = state.get("administrations", {}).get("101", {})
    finals = [inv for inv in adm.get("salesinvoices", []) if not inv.get("_draftId")]
    return adm.get("draftsalesinvoices", []) + finals


THROUGHPUT = {
    "name": "asperion_debtors_gets_per_second",
    "token_path": "/asperion/identity/connect/token",
    "setup": None,
    "path": "/asperion/api/v1/debtors?pageSize=2&page=1",
    "headers": {"X-Tenant-Id": "101"},
}
