"""Timewax invoices become Odoo invoices: one per invoice, lines, credit notes, currency,
narration, partners, projects, totals to the cent; never twice."""

from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.tests.common_timewax import TimewaxCommon


@tagged("post_install", "-at_install")
class TestTimewaxImport(TimewaxCommon):
    def test_first_import_creates_draft_invoices_and_fails_only_the_bad_one(self):
        result = self.run_import()
        self.assertEqual(
            (result["created"], result["updated"], result["skipped"], result["failed"]),
            (5, 0, 0, 1),
            result,
        )
        self.assertIn("VRIJ99", "\n".join(result["reasons"]))
        moves = self.imported()
        self.assertEqual(
            moves.mapped("timewax_number"),
            ["TW2026-0001", "TW2026-0002", "TW2026-0003", "TW2026-0005", "TW2026-0006"],
        )
        self.assertEqual(set(moves.mapped("state")), {"draft"})
        first = self.imported("TW2026-0001")
        self.assertEqual(first.move_type, "out_invoice")
        self.assertEqual(str(first.invoice_date), "2026-01-05")
        self.assertEqual(first.currency_id, self.eur)
        self.assertEqual(len(first.invoice_line_ids), 2)
        line = first.invoice_line_ids[0]
        self.assertEqual((line.price_unit, line.quantity, line.tax_ids), (1425.0, 1.0, self.tax_21))
        self.assertIn("Ontwerp en bouw", line.name)
        self.assertIn("Jan Jansen: 10 h × 95.00", line.name)
        self.assertIn("120 km", first.invoice_line_ids[1].name)
        self.assertIn("PO-4711", first.narration)
        self.assertIn("Fase 1", first.narration)
        self.assertAlmostEqual(first.amount_tax, round(1470.6 * 0.21, 2))
        self.assertEqual(first.partner_id.name, "Acme BV")
        self.assertEqual(first.partner_id.ref, "D1001")
        self.assertEqual(first.partner_id.country_id, self.env.ref("base.nl"))
        self.assertEqual(first.partner_id.street, "Damrak 1")  # from company/list
        analytic = first.invoice_line_ids[0].analytic_distribution
        account = self.env["account.analytic.account"].browse(int(next(iter(analytic))))
        self.assertEqual((account.code, account.name), ("P100", "Website redesign"))
        # the same debtor on the next invoice: remembered, not created again
        self.assertEqual(self.imported("TW2026-0006").partner_id, first.partner_id)
        self.assertEqual(self.env["res.partner"].search_count([("ref", "=", "D1001")]), 1)
        # credit note with positive amounts
        credit = self.imported("TW2026-0002")
        self.assertEqual(credit.move_type, "out_refund")
        self.assertAlmostEqual(credit.amount_total, 229.9)
        # a run report in the call log
        log = self.env["bookkeeping.log"].search(
            [("backend_id", "=", self.backend.id), ("operation", "=", "timewax_import")]
        )
        self.assertEqual(len(log), 1)
        self.assertIn("5 created", log.message)
        self.assertIn("VRIJ99", log.message)

    def test_second_run_finds_nothing_new(self):
        self.run_import()
        again = self.run_import()
        self.assertEqual((again["created"], again["updated"], again["skipped"]), (0, 0, 5))
        self.assertEqual(len(self.imported()), 5)
