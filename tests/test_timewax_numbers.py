"""Numbers and posting: the Timewax number is the legal one; Odoo's sequence checks take it."""

from odoo import fields
from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.tests.common_timewax import (
    TimewaxCommon,
    tw_invoice,
    tw_line,
)

DAY = fields.Date.from_string


@tagged("post_install", "-at_install")
class TestTimewaxNumbers(TimewaxCommon):
    def setUp(self):
        super().setUp()
        self.backend.timewax_post = True

    def test_posted_under_the_timewax_number_in_the_timewax_journal(self):
        # Two formats Odoo would read differently, and a number whose year is not the
        # invoice's year (the customer has it: it must stay).
        for id_, number, raw in (
            (501, "20260042", "2026-02-10"),
            (502, "T-2026-0042", "2026-02-11"),
            (503, "T-2026-0043", "2025-12-31"),
            (504, "20260007", "2026-02-12"),
        ):  # lower than 20260042
            self.put_invoice(tw_invoice(id_, number, raw, [tw_line("Werk", 100.0)]))
        result = self.run_import(date_from=DAY("2025-12-01"), date_to=DAY("2026-02-12"))
        self.assertEqual(result["failed"], 0, result["reasons"])
        for number in (
            "20260042",
            "T-2026-0042",
            "T-2026-0043",
            "20260007",
            "TW2026-0001",
            "TW2026-0002",
        ):
            move = self.imported(number)
            self.assertEqual(move.state, "posted", (number, move.timewax_check))
            self.assertEqual(move.name, number)
            self.assertEqual(move.journal_id, self.backend.timewax_journal_id)
        self.assertEqual(self.backend.timewax_journal_id.code, "TWX")
        self.assertEqual(self.imported("TW2026-0002").move_type, "out_refund")
        # A posted invoice is never touched again, and a second run adds nothing.
        again = self.run_import(date_from=DAY("2025-12-01"), date_to=DAY("2026-02-12"))
        self.assertEqual((again["created"], again["updated"], again["failed"]), (0, 0, 0))

    def test_odoo_numbers_when_not_kept(self):
        self.backend.timewax_keep_numbers = False
        self.run_import()
        move = self.imported("TW2026-0001")
        self.assertEqual(move.state, "posted")
        self.assertNotEqual(move.name, "TW2026-0001")
        self.assertEqual(move.ref, "TW2026-0001")
        self.assertEqual(move.journal_id.type, "sale")
        self.assertFalse(move.journal_id.sequence_override_regex)

    def test_drafts_by_default_take_the_number_when_posted_by_hand(self):
        self.backend.timewax_post = False
        self.run_import()
        move = self.imported("TW2026-0005")
        self.assertEqual(move.state, "draft")
        move.action_post()
        self.assertEqual(move.name, "TW2026-0005")

    def test_a_total_that_differs_is_flagged_and_never_posted(self):
        # Timewax says 21.01 VAT on 100.00 at 21 %: Odoo computes 21.00.
        self.put_invoice(
            tw_invoice(601, "TW-601", "2026-02-10", [tw_line("Werk", 100.0, vat=21.01)])
        )
        result = self.run_import()
        self.assertEqual(result["flagged"], 1)
        move = self.imported("TW-601")
        self.assertEqual(move.state, "draft")
        self.assertIn("21.01", move.timewax_check)
        self.assertIn("21.00", move.timewax_check)
        self.assertTrue(
            move.activity_ids.filtered(
                lambda a: a.activity_type_id == self.env.ref("mail.mail_activity_data_warning")
            )
        )
        self.assertEqual(self.imported("TW2026-0001").state, "posted")

    def test_vat_rounded_per_line_like_timewax_or_flagged_with_the_fix(self):
        # Two lines of 1.25 at 21 %: Timewax rounds each line's VAT (0.26 + 0.26 = 0.52),
        # rounding globally gives 0.53.
        lines = [tw_line("A", 1.25, vat=0.26), tw_line("B", 1.25, vat=0.26)]
        self.put_invoice(tw_invoice(611, "TW-611", "2026-02-10", lines))
        self.company.tax_calculation_rounding_method = "round_globally"
        self.run_import(date_from=DAY("2026-02-10"), date_to=DAY("2026-02-10"))
        flagged = self.imported("TW-611")
        self.assertEqual(flagged.state, "draft")
        self.assertIn("Round per line", flagged.timewax_check)
        flagged.unlink()
        self.company.tax_calculation_rounding_method = "round_per_line"
        self.run_import(date_from=DAY("2026-02-10"), date_to=DAY("2026-02-10"))
        move = self.imported("TW-611")
        self.assertEqual((move.state, move.amount_tax), ("posted", 0.52))
