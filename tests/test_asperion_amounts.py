"""Asperion: amounts that add up to the cent in both modes, against the real simulator.
Final invoices take a VAT amount per line; drafts are computed by Asperion (VAT per line),
and a draft's create answer carries only its id, so the totals are read back once."""

from odoo import Command
from odoo.tests import tagged

from .common_asperion import INVOICE_DATE, AsperionCommon


@tagged("post_install", "-at_install")
class TestAsperionAmounts(AsperionCommon):
    def setUp(self):
        super().setUp()
        self.backend.attach_pdf = False

    def warnings(self, move):
        return move.activity_ids.filtered(
            lambda a: a.activity_type_id == self.env.ref("mail.mail_activity_data_warning")
        )

    def draft_of(self, move):
        for draft in self.remote_state()["draftsalesinvoices"]:
            if draft["description"] == move.name:
                return draft
        return None

    def new_invoice(self, amounts, taxes=None, **vals):
        move = self.init_invoice(
            "out_invoice",
            partner=self.partner_a,
            invoice_date=INVOICE_DATE,
            amounts=list(amounts),
            taxes=taxes or self.tax_21,
        )
        move.write(vals)
        move.action_post()
        return move

    def rounding_setup(self):
        account = self.revenue.copy({"code": "809900", "name": "Afronding"})
        self.map("account", account, self.option("gl_account", "8010"))
        self.backend.untaxed_vat_code_id = self.option("vat_code", "V0")
        return self.env["account.cash.rounding"].create(
            {
                "name": "0.05",
                "rounding": 0.05,
                "strategy": "add_invoice_line",
                "rounding_method": "HALF-UP",
                "profit_account_id": account.id,
                "loss_account_id": account.id,
            }
        )

    def early_discount_term(self):
        self.backend.untaxed_vat_code_id = self.option("vat_code", "V0")
        return self.env["account.payment.term"].create(
            {
                "name": "2% 7 days",
                "early_discount": True,
                "discount_percentage": 2,
                "discount_days": 7,
                "early_pay_discount_computation": "mixed",
                "line_ids": [
                    Command.create({"value": "percent", "value_amount": 100, "nb_days": 30})
                ],
            }
        )

    # ------------------------------------------------------------------ point 8

    def test_draft_total_read_back_when_the_answer_has_only_an_id(self):
        """The create answer is only the id: one GET reads the totals, the total check runs
        and the remote total is stored."""
        self.backend.invoice_mode = "remote"
        move = self.invoice(amounts=(100.0, 50.0))
        self.backend._push_partner(self.backend._client(), self.partner_a)
        self.clear_stats()
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        self.assertEqual(move.bookkeeping_remote_amount, 181.5)
        # Calls per draft: the POST and one GET of its totals.
        self.assertEqual(self.calls("POST", "draftsalesinvoiceswithlines"), 1)
        self.assertEqual(self.calls("GET", "draftsalesinvoices"), 1)
        self.assertEqual(self.stats()["total"], 2)
        self.assertFalse(self.warnings(move))

    def test_draft_that_asperion_would_price_differently_is_refused(self):
        """Asperion computes a draft's VAT per line (no VAT amount on draft lines): with
        Odoo's rounding over the invoice the draft would total a cent more, so it is not
        made; the invoice says both totals and the way out (the contract suite proves the
        same for every service that prices drafts itself)."""
        self.env.company.tax_calculation_rounding_method = "round_globally"
        self.backend.invoice_mode = "remote"
        move = self.invoice(amounts=(100.0, 100.65, 122.79))
        self.assertEqual(move.amount_total, 391.36)
        self.clear_stats()
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "error")
        self.assertIn("391.37", move.bookkeeping_error)
        self.assertIn("391.36", move.bookkeeping_error)
        self.assertIn("Odoo numbers the invoice", move.bookkeeping_error)
        self.assertEqual(self.stats()["total"], 0)
        self.backend.invoice_mode = "odoo"
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(self.remote_invoice(move)["amountInclVat"], 391.36)

    def test_final_total_difference_is_flagged(self):
        """The read-back check of final invoices can trip (a sandbox fault: VAT rounded per
        line, the amounts sent ignored); the booking stands, the invoice is flagged."""
        self.env.company.tax_calculation_rounding_method = "round_globally"
        self.faults(ignore_vat_amounts=True)
        move = self.send(self.invoice(amounts=(100.0, 100.65, 122.79)))
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(self.remote_invoice(move)["amountInclVat"], 391.37)
        warning = self.warnings(move)
        self.assertEqual(len(warning), 1)
        self.assertIn("391.36", warning.note)

    # ------------------------------------------------------------------ point 7

    def test_cash_rounding_line_sent_odoo_mode(self):
        rounding = self.rounding_setup()
        move = self.new_invoice([10.01], invoice_cash_rounding_id=rounding.id)
        self.assertEqual(move.amount_total, 12.10)
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        remote = self.remote_invoice(move)
        self.assertEqual(remote["amountInclVat"], 12.10)
        self.assertEqual(
            [
                (ln["amount"], ln["vatAmount"], ln["vatCode"], ln["ledgerAccountId"])
                for ln in remote["lines"]["_data"]
            ],
            [(10.01, 2.10, "VH", 8000), (-0.01, 0.0, "V0", 8010)],
        )
        self.assertFalse(self.warnings(move))

    def test_cash_rounding_line_sent_as_draft_ledger_line(self):
        self.backend.write({"invoice_mode": "remote", "asperion_line_type": "V"})
        rounding = self.rounding_setup()
        move = self.new_invoice([10.01], invoice_cash_rounding_id=rounding.id)
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        draft = self.draft_of(move)
        self.assertEqual(draft["amountInclVat"], 12.10)
        lines = draft["lines"]["_data"]
        self.assertEqual([ln["bookingType"] for ln in lines], ["V", "G"])
        self.assertEqual((lines[1]["ledgerAccountId"], lines[1]["amount"]), (8010, -0.01))
        self.assertFalse(self.warnings(move))

    def test_early_payment_discount_both_modes(self):
        term = self.early_discount_term()
        move = self.new_invoice([100.0], invoice_payment_term_id=term.id)
        self.assertEqual(move.amount_total, 120.58)
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        remote = self.remote_invoice(move)
        self.assertEqual(remote["amountInclVat"], 120.58)
        self.assertEqual(
            sorted(
                (ln["amount"], ln["vatAmount"], ln["vatCode"]) for ln in remote["lines"]["_data"]
            ),
            [(-2.0, -0.42, "VH"), (2.0, 0.0, "V0"), (100.0, 21.0, "VH")],
        )
        self.backend.invoice_mode = "remote"
        draft_move = self.new_invoice([100.0], invoice_payment_term_id=term.id)
        self.send(draft_move)
        self.assertEqual(draft_move.bookkeeping_state, "sent_draft", draft_move.bookkeeping_error)
        self.assertEqual(self.draft_of(draft_move)["amountInclVat"], 120.58)
        self.assertEqual(len(self.draft_of(draft_move)["lines"]["_data"]), 3)

    def test_unmapped_lines_stop_before_any_call(self):
        rounding = self.rounding_setup()
        self.map("account", rounding.profit_account_id, self.env["bookkeeping.remote.option"])
        self.backend.untaxed_vat_code_id = False
        move = self.new_invoice([10.01], invoice_cash_rounding_id=rounding.id)
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "error")
        self.assertEqual(self.stats()["total"], 0)
        self.assertIn(rounding.profit_account_id.display_name, move.bookkeeping_error)
        self.assertIn("VAT code for lines without tax", move.bookkeeping_error)
