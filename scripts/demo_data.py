"""Demo data: a Dutch company per sandbox service that has a demo recipe
(``sandbox/<service>/recipe.py`` ``DEMO``: today Exact Online, "Odoo numbers the invoice",
and Asperion, "Asperion numbers the invoice"), with customers and invoices in every state a
user meets: booked, paid or finalised remotely, waiting for a number, to send, and one in
error with the message that says what to fix.

Usage: python scripts/demo_data.py DB SANDBOX_URL ODOO_URL   (run by ./run demo)
Running it again adds nothing twice.
"""
# A standalone script owns its transaction: it commits like a cron would.
# pylint: disable=invalid-commit

import os
import sys
from collections import Counter
from datetime import date, timedelta

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import odoo_env  # noqa: E402
import sandbox_link  # noqa: E402

CUSTOMERS = [
    (
        "Bakkerij De Vries BV",
        "Dorpsstraat 12",
        "3511 AB",
        "Utrecht",
        "nl",
        "NL100000009B01",
        "12345678",
        "info@bakkerijdevries.example",
    ),
    (
        "Fietsenwinkel Jansen",
        "Stationsweg 4",
        "2312 AV",
        "Leiden",
        "nl",
        "NL100000010B01",
        "23456789",
        "verkoop@fietsjansen.example",
    ),
    (
        "Architectenbureau Smit",
        "Keizersgracht 100",
        "1015 AA",
        "Amsterdam",
        "nl",
        "NL100000022B01",
        "34567890",
        "studio@smit-architecten.example",
    ),
    (
        "Brouwerij Het Anker NV",
        "Guido Gezellelaan 49",
        "2800",
        "Mechelen",
        "be",
        "BE0403000059",
        False,
        "orders@hetanker.example",
    ),
    (
        "Hotel Zeezicht BV",
        "Boulevard 1",
        "4381 AA",
        "Vlissingen",
        "nl",
        "NL100000024B01",
        "45678901",
        "reserveringen@zeezicht.example",
    ),
    (
        "Kaashandel Gouda",
        "Markt 35",
        "2801 JJ",
        "Gouda",
        "nl",
        False,
        "56789012",
        "kaas@gouda.example",
    ),
]
PRODUCTS = [("Advies (uur)", 95.0), ("Implementatie (dag)", 720.0), ("Licentie", 250.0)]


def say(text):
    print(text, flush=True)


def ensure_company(env, name):
    company = env["res.company"].search([("name", "=", name)], limit=1)
    if company:
        return company
    company = env["res.company"].create(
        {
            "name": name,
            "country_id": env.ref("base.nl").id,
            "currency_id": env.ref("base.EUR").id,
            "street": "Hoofdstraat 1",
            "zip": "3511 AA",
            "city": "Utrecht",
            "vat": "NL100000034B01",
        }
    )
    env["account.chart.template"].try_loading("nl", company=company, install_demo=False)
    admin = env.ref("base.user_admin")
    admin.company_ids |= company
    return company


def sale_taxes(env, company):
    """The chart's domestic sale taxes (excluded from price) by rate."""
    taxes = {}
    for tax in env["account.tax"].search(
        [
            ("company_id", "=", company.id),
            ("type_tax_use", "=", "sale"),
            ("amount_type", "=", "percent"),
            ("price_include", "=", False),
        ],
        order="sequence, id",
    ):
        taxes.setdefault(float(tax.amount), tax)
    return taxes


def customers(env, company):
    Partner = env["res.partner"]
    result = Partner
    for name, street, zip_code, city, country, vat, coc, email in CUSTOMERS:
        partner = Partner.search([("name", "=", name)], limit=1)
        if not partner:
            partner = Partner.create(
                {
                    "name": name,
                    "is_company": True,
                    "street": street,
                    "zip": zip_code,
                    "city": city,
                    "country_id": env.ref(f"base.{country}").id,
                    "vat": vat,
                    "company_registry": coc,
                    "email": email,
                    "customer_rank": 1,
                }
            )
        result |= partner
    return result


def invoices(env, company, partners, taxes, count, tag):
    Move = env["account.move"].with_company(company)
    existing = Move.search([("company_id", "=", company.id), ("ref", "=like", f"{tag}%")])
    if existing:
        return existing
    products = env["product.product"].search([("name", "in", [p[0] for p in PRODUCTS])])
    if len(products) < len(PRODUCTS):
        products = env["product.product"].create(
            [{"name": name, "list_price": price} for name, price in PRODUCTS]
        )
    moves = Move
    for i in range(count):
        partner = partners[i % len(partners)]
        tax = taxes[9.0] if i % 4 == 3 else taxes[21.0]
        lines = (
            [(0, 0, {"display_type": "line_section", "name": "Werkzaamheden oktober"})]
            if i % 3 == 0
            else []
        )
        lines += [
            (
                0,
                0,
                {
                    "product_id": product.id,
                    "quantity": 1 + (i + j) % 4,
                    "price_unit": product.list_price,
                    "tax_ids": [(6, 0, tax.ids)],
                },
            )
            for j, product in enumerate(products[: 1 + i % 3])
        ]
        moves |= Move.create(
            {
                "move_type": "out_refund" if count > 1 and i == count - 1 else "out_invoice",
                "partner_id": partner.id,
                "ref": f"{tag}-{i + 1:02d}",
                "invoice_date": date.today() - timedelta(days=3 * (count - i)),
                "invoice_line_ids": lines,
            }
        )
    return moves


def outcome(env, moves):
    """What really happened to ``moves``, read back from the database (not what was meant)."""
    env.invalidate_all()
    states = Counter(moves.mapped("bookkeeping_state"))
    labels = dict(moves._fields["bookkeeping_state"]._description_selection(env))
    parts = [f"{count} {labels[state].lower()}" for state, count in sorted(states.items())]
    text = f"{len(moves)} invoices pushed: " + ", ".join(parts)
    no_pdf = moves.filtered(
        lambda m: m.bookkeeping_state == "done" and m.bookkeeping_pdf_state in ("pending", "failed")
    )
    if no_pdf:
        text += (
            f"; {len(no_pdf)} booked without their PDF ({no_pdf[0].bookkeeping_pdf_error.strip()})"
        )
    failed = moves.filtered(lambda m: m.bookkeeping_state == "error")
    if failed:
        text += f"; first error: {failed[0].bookkeeping_error}"
    return text


def remote_actions(url, recipe, booked):
    """What the demo user does in the remote package (the recipe's control-API paths)."""
    for action in recipe["remote_actions"]:
        moves = booked
        if action["state"]:
            moves = moves.filtered(lambda m, s=action["state"]: m.bookkeeping_state == s)
        for move in moves[: action["limit"]]:
            path = action["path"].format(
                remote_id=move.bookkeeping_remote_id, remote_ref=move.bookkeeping_remote_ref
            )
            sandbox_link.control(url, "POST", path, {})


def demo_company(env, url, service):
    recipe = sandbox_link.registry.recipe(service)
    demo, income_code = recipe.DEMO, recipe.LINK["income_account"]
    name, mode = demo["company"], demo["invoice_mode"]
    company = ensure_company(env, name)
    env = env(context=dict(env.context, allowed_company_ids=company.ids))
    taxes = sale_taxes(env, company)
    revenue = env["account.account"].search(
        [("account_type", "=", "income"), ("company_ids", "in", company.id)], limit=1
    )
    backend = sandbox_link.link(
        env, company, service, url, taxes, revenue, invoice_mode=mode, push_on_post=True
    )
    # Every income account of the chart goes to the same remote revenue account.
    incomes = env["account.account"].search(
        [("account_type", "=", "income"), ("company_ids", "in", company.id)]
    )
    remote = sandbox_link.option(env, backend, "gl_account", income_code)
    for account in incomes - backend.account_mapping_ids.account_id:
        env["bookkeeping.mapping"].create(
            {
                "backend_id": backend.id,
                "mapping_type": "account",
                "account_id": account.id,
                "option_id": remote.id,
            }
        )
    partners = customers(env, company)
    moves = invoices(env, company, partners, taxes, 8, "DEMO")
    drafts = moves.filtered(lambda m: m.state == "draft")
    if drafts:
        drafts.action_post()
        sendable = drafts[:-2]
        env["bookkeeping.backend"]._push_moves(sendable)
        left = drafts[-2:]
        say(
            f"  {name}: {outcome(env, sendable)}; "
            f"{len(left.filtered(lambda m: m.bookkeeping_state == 'to_send'))} left to send"
        )
        booked = sendable.filtered(lambda m: m.bookkeeping_remote_id)
        remote_actions(url, demo, booked)
        summary = backend._sync_remote_state()
        say(
            f"  {name}: sync: {summary['numbers']} numbers received, {summary['payments']} "
            f"payments updated" + "".join(f"; {f}" for f in summary.get("failed", []))
        )
        # One invoice whose customer has no country: it shows what a sync error looks like.
        stray = env["res.partner"].search(
            [("name", "=", "Particulier zonder land")], limit=1
        ) or env["res.partner"].create({"name": "Particulier zonder land"})
        bad = invoices(env, company, stray, taxes, 1, "DEMO-ERR")
        bad.action_post()
        env["bookkeeping.backend"]._push_moves(bad)
        say(f"  {name}: the sample invoice without a customer country: {outcome(env, bad)}")
    return company


def main(db, url, odoo_url):
    _odoo, registry = odoo_env.odoo_env(db)
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        env["ir.config_parameter"].set_param("web.base.url", odoo_url)
        env["ir.config_parameter"].set_param("web.base.url.freeze", "True")
        services = [
            name
            for name in sandbox_link.registry.link_services()
            if getattr(sandbox_link.registry.recipe(name), "DEMO", None)
        ]
        companies = []
        for service in services:
            companies.append(demo_company(env, url, service))
            cr.commit()
        # The admin opens on the first demo company (the registry's order).
        env.ref("base.user_admin").company_id = companies[0]
        cr.commit()
    say("Demo data ready.")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
