"""19.0.1.1.0: customer links move from per-service company-dependent partner fields to
``bookkeeping.partner.link`` records, one per link and customer, with their own sync state.

The old columns stay in the table (Odoo does not drop them) and are read here once: each
link takes the ids its service kept for its company.
"""

# The columns each service used before 19.0.1.1.0: (id column, code column).
OLD_COLUMNS = {
    "exact": ("exact_account_id", "exact_account_code"),
    "asperion": ("asperion_debtor_id", "asperion_customer_number"),
}


def _has_column(cr, column):
    cr.execute(
        "SELECT 1 FROM information_schema.columns"
        " WHERE table_name = 'res_partner' AND column_name = %s",
        (column,),
    )
    return bool(cr.fetchone())


def migrate(cr, version):
    if not version:
        return
    for service, (id_column, code_column) in OLD_COLUMNS.items():
        if not _has_column(cr, id_column):
            continue
        code = f"p.{code_column} ->> b.company_id::text" if _has_column(cr, code_column) else "NULL"
        # Company-dependent columns are JSONB: {"<company id>": value}.
        cr.execute(
            f"""
            INSERT INTO bookkeeping_partner_link
                   (backend_id, company_id, partner_id, remote_id, remote_code, state)
            SELECT b.id, b.company_id, p.id, p.{id_column} ->> b.company_id::text, {code},
                   'linked'
              FROM bookkeeping_backend b
              JOIN res_partner p ON p.{id_column} ->> b.company_id::text IS NOT NULL
             WHERE b.service = %s AND b.active
            ON CONFLICT DO NOTHING
            """,  # noqa: S608 - the column names are the constants above
            (service,),
        )
