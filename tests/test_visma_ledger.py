"""Odoo numbers the invoice: a customer ledger item with its voucher under Odoo's number as
an int32, balanced to the cent (VAT per tax, cash rounding, early payment discount), the PDF
on the voucher, no duplicate after a lost answer, and what cannot be booked refused before
any call. Real HTTP to the simulator on loopback."""

from decimal import Decimal

from odoo import Command
from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.clients.visma import split_ledger_invoice_number
from odoo.addons.account_bookkeeping_link.sandbox.visma import seed
from odoo.addons.account_bookkeeping_link.tests.common_visma import INVOICE_DATE, VismaCommon


@tagged("post_install", "-at_install")
class TestVismaLedger(VismaCommon):
    invoice_mode = "odoo"

    def setUp(self):
        super().setUp()
        self.backend.invoice_mode = "odoo"

    def voucher_of(self, move):
        item = self.remote_doc("customerledgeritems", move.bookkeeping_remote_id)
        return item, self.remote_doc("vouchers", item["VoucherId"])

    def assert_balanced(self, move, item, voucher):
        debit = sum(Decimal(str(r["DebitAmount"] or 0)) for r in voucher["Rows"])
        credit = sum(Decimal(str(r["CreditAmount"] or 0)) for r in voucher["Rows"])
        self.assertEqual(debit, credit)
        receivable = sum(
            Decimal(str(r["DebitAmount"] or 0)) - Decimal(str(r["CreditAmount"] or 0))
            for r in voucher["Rows"]
            if r["AccountNumber"] == 1300
        )
        self.assertEqual(Decimal(str(item["TotalAmountInvoiceCurrency"])), receivable)
        self.assertEqual(abs(item["TotalAmountInvoiceCurrency"]), move.amount_total)

    def test_ledger_item_under_odoos_number_cent_exact_with_pdf(self):
        self.env.company.tax_calculation_rounding_method = "round_globally"
        move = self.invoice(amounts=(100.0, 100.65, 122.79), post=False)
        move.invoice_line_ids[2].tax_ids = self.tax_9
        move.action_post()
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        item, voucher = self.voucher_of(move)
        series, year, seq = split_ledger_invoice_number(item["InvoiceNumber"])
        self.assertEqual((series, year), (1, 26))
        self.assertEqual(f"INV/2026/{seq:05d}", move.name)
        self.assert_balanced(move, item, voucher)
        vat_rows = [r for r in voucher["Rows"] if r["AccountNumber"] in (1500, 1510)]
        self.assertEqual(
            sum(Decimal(str(r["CreditAmount"])) for r in vat_rows),
            Decimal(str(move.amount_tax)),
        )
        revenue = [r for r in voucher["Rows"] if r["AccountNumber"] == 8000]
        self.assertEqual([r["VatCodeId"] for r in revenue][:1], [seed.sid("vat:21")])
        self.assertEqual(
            sum(Decimal(str(r["VatAmount"])) for r in revenue), Decimal(str(move.amount_tax))
        )
        self.assertEqual(len(voucher["Attachments"]), 1, "the PDF is on the voucher")
        self.assertEqual(move.bookkeeping_pdf_state, "attached")

    def test_credit_note_is_a_credit_ledger_item(self):
        move = self.invoice(amounts=(80.0,), move_type="out_refund")
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        item, voucher = self.voucher_of(move)
        self.assertTrue(item["IsCreditInvoice"])
        self.assertEqual(item["TotalAmountInvoiceCurrency"], -move.amount_total)
        self.assertEqual(split_ledger_invoice_number(item["InvoiceNumber"])[0], 2)
        self.assert_balanced(move, item, voucher)

    def test_cash_rounding_and_early_payment_discount_to_the_cent(self):
        account = self.revenue.copy({"code": "809900", "name": "Afronding"})
        self.map("account", account, self.option("gl_account", "8900"))
        self.backend.untaxed_vat_code_id = self.option("vat_code", seed.sid("vat:0"))
        rounding = self.env["account.cash.rounding"].create(
            {
                "name": "0.05",
                "rounding": 0.05,
                "strategy": "add_invoice_line",
                "rounding_method": "HALF-UP",
                "profit_account_id": account.id,
                "loss_account_id": account.id,
            }
        )
        move = self.invoice(amounts=(10.01,), post=False)
        move.invoice_cash_rounding_id = rounding
        move.action_post()
        self.assertEqual(move.amount_total, 12.10)
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        item, voucher = self.voucher_of(move)
        self.assert_balanced(move, item, voucher)
        self.assertIn(8900, [r["AccountNumber"] for r in voucher["Rows"]])
        term = self.env["account.payment.term"].create(
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
        self.map(
            "account",
            self.env.company.account_journal_early_pay_discount_loss_account_id,
            self.option("gl_account", "8950"),
        )
        epd = self.invoice(amounts=(200.0,), post=False)
        epd.invoice_payment_term_id = term
        epd.action_post()
        self.send(epd)
        self.assertEqual(epd.bookkeeping_state, "done", epd.bookkeeping_error)
        item, voucher = self.voucher_of(epd)
        self.assert_balanced(epd, item, voucher)

    def test_a_lost_answer_is_found_by_its_number(self):
        move = self.invoice()
        self.send(self.invoice(amounts=(1.0,)))  # the customer exists now
        self.faults(lose_next_creates=1)
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        numbers = [i["InvoiceNumber"] for i in self.remote("customerledgeritems")]
        self.assertEqual(len(numbers), len(set(numbers)), "no duplicate")
        self.assertEqual(len(numbers), 2)

    def test_payments_of_ledger_items_come_back(self):
        move = self.send(self.invoice())
        self.control("POST", f"/visma/ledgeritems/{move.bookkeeping_remote_id}/pay")
        self.backend._sync_remote_state()
        self.assertEqual(move.bookkeeping_remote_payment_state, "paid")

    def test_what_eaccounting_cannot_book_is_refused_before_any_call(self):
        gbp = self.env.ref("base.GBP")
        gbp.active = True
        foreign = self.invoice(currency=gbp)
        other_journal = self.company_data["default_journal_sale"].copy({"code": "INV2"})
        elsewhere = self.init_invoice(
            "out_invoice",
            partner=self.partner_a,
            invoice_date=INVOICE_DATE,
            amounts=[10.0],
            taxes=self.tax_21,
            journal=other_journal,
            post=True,
        )
        self.clear_stats()
        self.send(foreign | elsewhere)
        self.assertEqual(foreign.bookkeeping_state, "error")
        self.assertIn("GBP", foreign.bookkeeping_error)
        self.assertEqual(elsewhere.bookkeeping_state, "error")
        self.assertIn("journal", elsewhere.bookkeeping_error)
        self.assertEqual(self.api_calls(), 0)
