"""How the demo, the benchmarks and the link script use the Exact sandbox (no odoo import).

``sandbox/registry.py`` lists this service; scripts/ and bench/ read these values instead of
naming the service themselves.
"""

LABEL = "Exact Online"

# A link to this sandbox, made as a manager makes it in the UI (scripts/sandbox_link.py).
LINK = {
    # values of the link form for a sandbox at ``url``
    "fields": lambda url: {"exact_location": "sandbox", "exact_base_url": f"{url}/exact"},
    "consent_path": "/exact/consent",
    # E11: every consentable division by default
    "consent_params": {},
    # (link field, administration option code): the division chosen on the form
    "administration": ("exact_division_id", "1001"),
    # link field -> (remote list kind, code): the defaults chosen after "Load lists"
    "defaults": {"exact_journal_id": ("journal", "70"), "exact_item_id": ("item", "CONSULT")},
    "vat_codes": {21.0: "2", 9.0: "1", 0.0: "0"},  # Odoo tax rate -> VAT code of the seed
    "income_account": "8000",
}

# The demo company (scripts/demo_data.py): Odoo numbers the invoices; the user pays two of
# the booked ones in Exact. Paths are control-API paths below /_sandbox; the placeholders
# are the invoice's remote id and ref.
DEMO = {
    "company": "Demo BV (Exact Online)",
    "invoice_mode": "odoo",
    "remote_actions": [
        {"state": None, "limit": 2, "path": "/exact/receivables/{remote_id}/pay"},
    ],
}

# The benchmark hooks (bench/harness.py): control-API calls below /_sandbox.
BENCH = {
    "rate_limit_off": ("/exact/config", {"rate_limit_enabled": False}),
    # the rate-limited run: the budget of one shortened window, or None (no such run)
    "rate_limit_on": lambda window, limit: (
        "/exact/config",
        {
            "rate_limit_enabled": True,
            "minute_window": window,
            "minutely_limit": limit,
            "daily_limit": 100000,
        },
    ),
    "pay": "/exact/receivables/{remote_id}/pay",
    "finalise": "/exact/salesinvoices/{remote_id}/print",
    "rate_note": None,
    # bench/collective.py: the default customer of collective entries, made remotely and
    # named on the link (``client`` is the link's client, ``backend`` the Odoo link).
    "collective_setup": lambda backend, client: backend.write(
        {
            "collective_customer_code": client.create_account(
                {"Name": "Particulieren (bench)", "Status": "C"}
            )["Code"].strip()
        }
    ),
}


# bench/workers.py: one user reaching many administrations (E11), each with its own budget.
WORKERS = {
    "administrations": lambda count: [2001 + i for i in range(count)],
    "add_administrations": lambda codes: ("/exact/divisions", {"codes": codes}),
    "remote_documents": lambda state, code: state.get(f"{code}/salesentry/SalesEntries", []),
}


def collective_totals(state, references):
    """Count and totals of the collective entries ``references`` as the sandbox holds
    them: {entries, total, vat, lines}."""
    refs = set(references)
    rows = [r for r in state.get("1001/salesentry/SalesEntries", []) if r.get("YourRef") in refs]
    ids = {r["EntryID"] for r in rows}
    lines = [r for r in state.get("1001/salesentry/SalesEntryLines", []) if r["EntryID"] in ids]
    return {
        "entries": len(rows),
        "total": round(sum(r["AmountFC"] for r in rows), 2),
        "vat": round(sum(r["VATAmountFC"] for r in rows), 2),
        "lines": len(lines),
    }


def remote_documents(state):
    """The invoices as the remote package holds them, from ``GET /_sandbox/state/exact``
    (division 1001): sales entries (Odoo numbers) and sales invoices (Exact numbers)."""
    return state.get("1001/salesentry/SalesEntries", []) + state.get(
        "1001/salesinvoice/SalesInvoices", []
    )


# bench/sandbox_throughput.py: one paged GET on one keep-alive connection.
THROUGHPUT = {
    "name": "exact_vatcodes_gets_per_second",
    "token_path": "/exact/api/oauth2/token",
    "setup": ("/exact/config", {"rate_limit_enabled": False}),
    "path": "/exact/api/v1/1001/vat/VATCodes?$top=2",
    "headers": {"Accept": "application/json"},
}
