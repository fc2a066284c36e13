"""The accountant's first hour in a real browser (Chromium): Settings, the setup assistant
with the sandbox's real consent page, then an invoice posted, sent, its number synced and
its chatter read. The tour's click steps are counted: the assistant must stay within 15."""

import pathlib
import re

from odoo import Command
from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.tests.test_tour_connect import TourCase

TOUR = pathlib.Path(__file__).parent.parent / "static/tests/tours/bookkeeping_setup_tour.js"
MAX_CLICKS = 15


def assistant_clicks():
    """The user's clicks in the assistant: the tour's click steps up to Done, plus Allow
    on the consent page (done by the browser script of the test)."""
    text = TOUR.read_text(encoding="utf-8")
    assistant = text.split("// ---- after the assistant")[0]
    return len(re.findall(r'run: "click"', assistant)) + 1


@tagged("post_install", "-at_install")
class TestSetupTour(TourCase):
    def test_exact_setup_assistant_then_send_sync_and_chatter(self):
        self.assertLessEqual(assistant_clicks(), MAX_CLICKS)
        env = self.env
        company = env.company
        if not company.chart_template:
            env["account.chart.template"].try_loading("generic_coa", company, install_demo=False)
        eur = env.ref("base.EUR")
        eur.active = True
        if company.currency_id != eur:
            company.currency_id = eur
        company.country_id = env.ref("base.nl")
        env.ref("base.user_admin").group_ids |= env.ref(
            "account_bookkeeping_link.group_bookkeeping_manager"
        )
        partner = env["res.partner"].create(
            {
                "name": "Tour Klant BV",
                "country_id": env.ref("base.nl").id,
                "email": "tour@example.nl",
                "is_company": True,
            }
        )
        tax = env["account.tax"].create(
            {
                "name": "BTW 21% (tour)",
                "amount": 21,
                "type_tax_use": "sale",
                "company_id": company.id,
            }
        )
        moves = env["account.move"].create(
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": partner.id,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "name": f"Advies {n}",
                                "price_unit": 100.0 * n,
                                "tax_ids": [Command.set(tax.ids)],
                            }
                        )
                    ],
                }
                for n in (1, 2)
            ]
        )
        sandbox_exact = f"{self.sandbox.url}/exact"
        params = env["ir.config_parameter"].sudo()
        params.set_param("account_bookkeeping_link.tour_sandbox_url", sandbox_exact)
        params.set_param("account_bookkeeping_link.tour_invoice_id", str(moves[0].id))
        # The app registration holds the redirect URL the assistant shows.
        redirect = env["bookkeeping.backend"].new({"service": "exact"}).redirect_uri
        self._control("exact/clients", {"redirect_uri": redirect})
        self._control("stats/exact/reset")
        with self.consenting():
            self.start_tour(
                "/odoo/action-account.action_account_config",
                "account_bookkeeping_link_setup",
                login="admin",
                timeout=240,
            )
        backend = env["bookkeeping.backend"].search([("company_id", "=", company.id)])
        self.assertEqual(len(backend), 1)
        self.assertEqual(
            (backend.state, backend.setup_step, backend.administration_code),
            ("linked", "done", "1001"),
        )
        self.assertEqual(backend.exact_base_url, sandbox_exact)
        sent = moves[0]
        sent.invalidate_recordset()
        self.assertEqual(sent.bookkeeping_state, "done", sent.bookkeeping_error)
        self.assertIn("Booked in", " ".join(sent.message_ids.mapped("body")))
        # Every other invoice of the company is ready to send: nothing to fix first.
        moves[1].action_post()
        self.assertEqual(backend._check_move(moves[1]), [])
        detail = self._control("stats/exact", method="GET")["detail"]
        self.assertEqual(detail.get("GET /api/oauth2/auth 200"), 1, detail)
