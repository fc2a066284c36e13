"""Never twice, one bad invoice stops only itself, partners matched in order and
remembered, the wizard's preview, the daily cron."""

from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.tests.common_timewax import (
    ACME,
    TimewaxCommon,
    tw_invoice,
    tw_line,
)

DAY = fields.Date.from_string


@tagged("post_install", "-at_install")
class TestTimewaxRules(TimewaxCommon):
    def test_changed_in_timewax_updates_a_draft_and_reports_a_posted_one(self):
        self.put_invoice(tw_invoice(701, "TW-701", "2026-02-10", [tw_line("Werk", 100.0)]))
        self.put_invoice(tw_invoice(702, "TW-702", "2026-02-10", [tw_line("Werk", 200.0)]))
        self.run_import()
        posted = self.imported("TW-702")
        posted.action_post()
        self.put_invoice(
            tw_invoice(
                701,
                "TW-701",
                "2026-02-10",
                [tw_line("Werk", 150.0), tw_line("Extra", 10.0, "9", 9)],
            )
        )
        self.put_invoice(tw_invoice(702, "TW-702", "2026-02-10", [tw_line("Werk", 250.0)]))
        result = self.run_import()
        self.assertEqual((result["created"], result["updated"]), (0, 1), result)
        draft = self.imported("TW-701")
        self.assertEqual(len(draft.invoice_line_ids), 2)
        self.assertAlmostEqual(draft.amount_untaxed, 160.0)
        self.assertEqual(len(self.imported()), 7)
        # the posted one is untouched, and the change is reported on it and in the run
        self.assertAlmostEqual(posted.amount_untaxed, 200.0)
        self.assertIn("after it was posted", posted.timewax_check)
        self.assertIn("TW-702", "\n".join(result["reasons"]))

    def test_each_bad_invoice_stops_only_itself(self):
        self.backend.timewax_create_partners = False
        self.backend.timewax_create_analytic = False
        stranger = dict(
            ACME,
            debtorNumber="D9999",
            clientCode="C999",
            debtorName="Nobody BV",
            debtorEmail="nobody@example.com",
            clientName="Nobody BV",
        )
        self.env["res.partner"].create(
            [
                {"name": "Acme BV", "ref": "D1001", "country_id": self.env.ref("base.nl").id},
                {"name": "Globex Inc", "ref": "D2001", "country_id": self.env.ref("base.us").id},
            ]
        )
        self.env["bookkeeping.timewax.project"].create(
            {
                "backend_id": self.backend.id,
                "code": "P100",
                "analytic_account_id": self.env["account.analytic.account"]
                .create(
                    {
                        "name": "Web",
                        "plan_id": self.env["account.analytic.plan"]
                        .create({"name": "Projects"})
                        .id,
                    }
                )
                .id,
            }
        )
        self.env.ref("base.JPY").active = False
        self.put_invoice(
            tw_invoice(801, "TW-801", "2026-02-10", [tw_line("Werk", 10.0)], debtor=stranger)
        )
        self.put_invoice(
            tw_invoice(802, "TW-802", "2026-02-10", [tw_line("Werk", 10.0)], currency="JPY")
        )
        self.put_invoice(
            tw_invoice(803, "TW-803", "2026-02-10", [tw_line("Werk", 10.0)], currency="XXQ")
        )
        self.put_invoice(tw_invoice(804, "TW-804", "2026-02-10", [tw_line("Werk", 10.0)]))
        result = self.run_import()
        text = "\n".join(result["reasons"])
        self.assertIn("TW-801: No contact matches debtor Nobody BV", text)
        self.assertIn("TW-802: The currency JPY is not active", text)
        self.assertIn("TW-803: The currency XXQ is unknown", text)
        self.assertIn("VRIJ99", text)
        self.assertIn("P200", text)  # 9003: project without analytic account
        self.assertIn("TW-804", self.imported().mapped("timewax_number"))
        self.assertEqual(self.imported("TW-804").partner_id.ref, "D1001")

    def test_partner_matching_order_and_memory(self):
        by_email = self.env["res.partner"].create(
            {"name": "Initech (billing)", "email": "FINANCE@initech.example"}
        )
        by_name = self.env["res.partner"].create({"name": "Globex Inc"})
        self.run_import()
        self.assertEqual(self.imported("TW2026-0005").partner_id, by_email)
        self.assertEqual(self.imported("TW2026-0003").partner_id, by_name)
        memory = self.backend.timewax_partner_ids
        self.assertEqual(memory.filtered(lambda m: m.key == "D3001").partner_id, by_email)
        self.assertEqual(memory.filtered(lambda m: m.key == "D3001").matched_by, "email")
        # renamed in Odoo, still matched: the memory holds it
        by_email.write({"name": "Renamed", "email": False})
        self.put_invoice(
            tw_invoice(
                901,
                "TW-901",
                "2026-02-10",
                [tw_line("Werk", 10.0)],
                debtor=dict(ACME, debtorNumber="D3001", clientCode="C003", debtorName="Initech BV"),
            )
        )
        self.run_import()
        self.assertEqual(self.imported("TW-901").partner_id, by_email)

    def test_foreign_currency_credit_note(self):
        self.put_invoice(
            tw_invoice(
                1001,
                "TW-1001",
                "2026-02-20",
                [tw_line("Correctie", 300.0, "0", 0)],
                credit=True,
                currency="USD",
            )
        )
        self.config(credit_note_sign="negative", decimal_comma=True)
        self.backend.timewax_post = True
        self.run_import()
        move = self.imported("TW-1001")
        self.assertEqual(
            (move.move_type, move.currency_id, move.state), ("out_refund", self.usd, "posted")
        )
        self.assertAlmostEqual(move.amount_total, 300.0)

    def test_wizard_previews_then_imports(self):
        wizard = self.env["bookkeeping.timewax.import.wizard"].create(
            {"backend_id": self.backend.id, "date_from": "2026-01-01", "date_to": "2026-03-31"}
        )
        wizard.action_preview()
        self.assertEqual(wizard.state, "preview")
        self.assertFalse(self.imported())  # a preview writes no invoice
        lines = {line.number: line for line in wizard.line_ids}
        self.assertEqual(len(lines), 6)
        self.assertEqual(lines["TW2026-0004"].action, "fail")
        self.assertIn("VRIJ99", lines["TW2026-0004"].reason)
        self.assertEqual(lines["TW2026-0001"].action, "create")
        self.assertIn("new contact Acme BV", lines["TW2026-0001"].partner_label)
        self.assertIn("Ontwerp en bouw: 1425.00", lines["TW2026-0001"].lines_text)
        self.assertAlmostEqual(lines["TW2026-0001"].amount_total, 1779.43)
        self.assertAlmostEqual(lines["TW2026-0001"].odoo_total, 1779.43)
        # the manager maps the code the preview flagged; the import sees it at once
        self.backend.timewax_vat_code_ids.filtered(lambda m: m.code == "VRIJ99").tax_id = self.tax_0
        wizard.action_import()
        self.assertEqual(wizard.state, "done")
        self.assertEqual(wizard.result_counts["created"], 6)
        self.assertIn("6 created", wizard.result_text)
        wizard2 = self.env["bookkeeping.timewax.import.wizard"].create(
            {
                "backend_id": self.backend.id,
                "date_from": "2026-01-01",
                "date_to": "2026-03-31",
                "client_filter": "C001",
            }
        )
        wizard2.action_preview()
        self.assertEqual(set(wizard2.line_ids.mapped("action")), {"skip"})
        self.assertEqual(len(wizard2.line_ids), 3)

    def test_vat_codes_seen_get_suggestions(self):
        self.run_import()
        code = self.backend.timewax_vat_code_ids.filtered(lambda m: m.code == "VRIJ99")
        self.assertFalse(code.tax_id)  # never mapped without the manager
        self.assertEqual(code.rate_seen, 0.0)
        self.assertIn(self.tax_0, code.candidate_ids)

    def test_daily_cron_looks_back(self):
        today = fields.Date.context_today(self.backend)
        self.put_invoice(
            tw_invoice(1101, "TW-1101", str(today - timedelta(days=3)), [tw_line("Werk", 10.0)])
        )
        self.put_invoice(
            tw_invoice(1102, "TW-1102", str(today - timedelta(days=30)), [tw_line("Werk", 10.0)])
        )
        self.backend.timewax_lookback_days = 7
        self.env["bookkeeping.backend"]._cron_timewax_import()
        self.assertEqual(self.imported().mapped("timewax_number"), ["TW-1101"])
        self.assertIn("1 created", self.backend.timewax_last_result)

    def test_long_runs_import_in_steps_with_progress(self):
        from odoo.addons.account_bookkeeping_link.wizards import (  # noqa: PLC0415
            bookkeeping_timewax_import_wizard as wizard_module,
        )

        wizard = self.env["bookkeeping.timewax.import.wizard"].create(
            {"backend_id": self.backend.id, "date_from": "2026-01-01", "date_to": "2026-03-31"}
        )
        wizard.action_preview()
        with patch.object(wizard_module, "IMPORT_STEP", 4):
            wizard.action_import()
            self.assertEqual((wizard.state, wizard.done_count), ("preview", 4))
            self.assertAlmostEqual(wizard.progress, 100 * 4 / 6)
            self.assertEqual(len(self.imported()), 3)  # the 4th (VRIJ99) failed
            wizard.action_import()
        self.assertEqual((wizard.state, wizard.done_count), ("done", 6))
        self.assertEqual(wizard.result_counts["created"], 5)
        self.assertEqual(wizard.result_counts["failed"], 1)
        self.assertEqual(len(self.imported()), 5)
