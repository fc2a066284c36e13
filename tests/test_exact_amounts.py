"""Exact Online: amounts that add up to the cent, in every mode and currency, against the
real simulator over HTTP. The simulator rounds VAT per line (as Exact does) unless a VAT
amount is sent, and computes the company-currency side from AmountFC and Rate."""

from odoo import Command
from odoo.tests import tagged

from ..models.bookkeeping_backend_exact import exact_entry_rate
from .common_exact import ExactCommon

# Three lines at 21%: per line 21.00 + 21.14 + 25.79 = 67.93; Odoo rounds per tax:
# 323.44 x 21% = 67.9224 -> 67.92. Odoo's total 391.36, per line 391.37.
CENT_LINES = [(100.0, 1.0), (100.65, 1.0), (122.79, 1.0)]


@tagged("post_install", "-at_install")
class TestExactAmounts(ExactCommon):
    def setUp(self):
        super().setUp()
        self.backend.attach_pdf = False
        self.company_data["company"].tax_calculation_rounding_method = "round_globally"

    def warnings(self, move):
        return move.activity_ids.filtered(
            lambda a: a.activity_type_id == self.env.ref("mail.mail_activity_data_warning")
        )

    def entry_of(self, move):
        entry = self.remote_rows("salesentry/SalesEntries", YourRef=move.name)[0]
        lines = self.remote_rows("salesentry/SalesEntryLines", EntryID=entry["EntryID"])
        return entry, sorted(lines, key=lambda line: line["LineNumber"])

    def invoice_of(self, move):
        invoice = self.remote_rows("salesinvoice/SalesInvoices", YourRef=move.name)[0]
        lines = self.remote_rows("salesinvoice/SalesInvoiceLines", InvoiceID=invoice["InvoiceID"])
        return invoice, sorted(lines, key=lambda line: line["LineNumber"])

    # ------------------------------------------------------------------ point 5

    def test_remote_mode_totals_equal_to_the_cent(self):
        """SalesInvoices: Exact rounds VAT per line (391.37); the VAT amounts sent per line
        sum per tax to Odoo's tax line, so the draft totals 391.36 like Odoo."""
        self.backend.invoice_mode = "remote"
        move = self.invoice(CENT_LINES)
        self.assertEqual(move.amount_total, 391.36)
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        invoice, lines = self.invoice_of(move)
        self.assertEqual(invoice["AmountFC"], 391.36)
        self.assertEqual(invoice["VATAmountFC"], move.amount_tax)
        self.assertEqual(round(sum(line["VATAmountFC"] for line in lines), 2), 67.92)
        self.assertEqual(move.bookkeeping_remote_amount, 391.36)
        self.assertFalse(self.warnings(move))

    def test_remote_mode_total_difference_is_flagged_and_not_processed(self):
        """Exact ignores the VAT amounts (a sandbox fault): the read-back total differs,
        so the invoice gets a warning activity and is NOT processed ("print at once"):
        it stays open in Exact, where it can still be corrected."""
        self.backend.write({"invoice_mode": "remote", "exact_print_invoices": True})
        self.faults(ignore_vat_amounts=True)
        move = self.invoice(CENT_LINES)
        self.send(move)
        invoice, _lines = self.invoice_of(move)
        self.assertEqual(invoice["AmountFC"], 391.37)
        self.assertEqual(invoice["Status"], 20, "a wrong total is never processed")
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        self.assertEqual(move.bookkeeping_remote_id, invoice["InvoiceID"])
        self.assertEqual(move.bookkeeping_remote_amount, 391.37)
        warning = self.warnings(move)
        self.assertEqual(len(warning), 1)
        self.assertIn("391.37", warning.note)
        self.assertIn("391.36", warning.note)
        # The number sync does not process it behind the user's back either.
        self.backend._sync_remote_state()
        self.assertEqual(self.invoice_of(move)[0]["Status"], 20)
        self.assertEqual(move.bookkeeping_state, "sent_draft")

    def test_odoo_mode_total_difference_is_flagged(self):
        """The read-back check of SalesEntries can trip: the entry stands (it is booked and
        never made twice), the invoice carries a warning with both totals."""
        self.faults(ignore_vat_amounts=True)
        move = self.invoice(CENT_LINES)
        self.send(move)
        entry, _lines = self.entry_of(move)
        self.assertEqual(entry["AmountFC"], 391.37)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(move.bookkeeping_remote_id, entry["EntryID"])
        warning = self.warnings(move)
        self.assertEqual(len(warning), 1)
        self.assertIn("391.37", warning.note)
        # Sending again looks it up: no second entry, no second warning.
        move.bookkeeping_state = "to_send"
        self.send(move)
        self.assertEqual(len(self.remote_rows("salesentry/SalesEntries", YourRef=move.name)), 1)
        self.assertEqual(len(self.warnings(move)), 1)

    # ------------------------------------------------------------------ point 6

    def assert_company_side_equals_odoo(self, move):
        entry, lines = self.entry_of(move)
        receivable = move.line_ids.filtered(lambda aml: aml.display_type == "payment_term")
        tax_lines = move.line_ids.filtered("tax_line_id")
        self.assertEqual(entry["AmountDC"], round(sum(receivable.mapped("balance")), 2))
        self.assertEqual(entry["VATAmountDC"], round(-sum(tax_lines.mapped("balance")), 2))
        self.assertEqual(entry["AmountFC"], move.amount_total_in_currency_signed)
        # Odoo's balance per income account (Odoo may put a rounding cent on any line).
        products = move.invoice_line_ids.sorted("sequence")
        for account in products.account_id:
            self.assertEqual(
                round(
                    sum(
                        line["AmountDC"]
                        for line, aml in zip(lines, products, strict=True)
                        if aml.account_id == account
                    ),
                    2,
                ),
                round(
                    -sum(
                        products.filtered(lambda a, c=account: a.account_id == c).mapped("balance")
                    ),
                    2,
                ),
            )
        return entry, lines

    def test_foreign_currency_company_side_equals_odoo(self):
        """USD at 1.0823 per EUR: 200.35 USD is 185.12 EUR in Odoo; a rate rounded to six
        decimals (0.923958) books 185.11. The rate sent makes every line agree."""
        usd = self.setup_other_currency("USD", rates=[("2025-01-01", 1.0823)])
        move = self.invoice([(200.35, 1.0)], currency=usd)
        self.assertEqual(move.invoice_line_ids.balance, -185.12)
        self.assertEqual(
            round(200.35 * round(1 / 1.0823, 6), 2), 185.11, "the naive rate drifts for this amount"
        )
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        entry, lines = self.assert_company_side_equals_odoo(move)
        self.assertEqual(lines[0]["AmountDC"], 185.12)
        self.assertEqual(entry["Currency"], "USD")
        self.assertFalse(self.warnings(move))

    def test_foreign_currency_many_lines_round_globally(self):
        """Several lines of one tax, each with a naive drift, rounded per tax by Odoo: the
        lines, the VAT and the receivable in EUR all equal Odoo's balances."""
        usd = self.setup_other_currency("USD", rates=[("2025-01-01", 1.0823)])
        move = self.invoice(
            [(200.35, 1.0), (202.06, 1.0), (202.98, 1.0), (10.01, 3.0), (0.35, 1.0)], currency=usd
        )
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assert_company_side_equals_odoo(move)
        self.assertFalse(self.warnings(move))

    def test_foreign_currency_credit_note(self):
        usd = self.setup_other_currency("USD", rates=[("2025-01-01", 1.0823)])
        move = self.invoice([(202.06, 1.0), (7.77, 3.0)], currency=usd, move_type="out_refund")
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        entry, _lines = self.assert_company_side_equals_odoo(move)
        self.assertLess(entry["AmountDC"], 0)

    # ------------------------------------------------------------------ point 7

    def cash_rounding(self):
        rounding_account = self.revenue.copy({"code": "809900", "name": "Afronding"})
        self.env["bookkeeping.mapping"].create(
            {
                "backend_id": self.backend.id,
                "mapping_type": "account",
                "account_id": rounding_account.id,
                "option_id": self.option("gl_account", "8100").id,
            }
        )
        self.backend.untaxed_vat_code_id = self.option("vat_code", "0")
        return self.env["account.cash.rounding"].create(
            {
                "name": "0.05",
                "rounding": 0.05,
                "strategy": "add_invoice_line",
                "rounding_method": "HALF-UP",
                "profit_account_id": rounding_account.id,
                "loss_account_id": rounding_account.id,
            }
        )

    def early_discount_term(self):
        self.backend.untaxed_vat_code_id = self.option("vat_code", "0")
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

    def test_cash_rounding_line_sent_odoo_mode(self):
        rounding = self.cash_rounding()
        move = self.invoice([(10.01, 1.0)], post=False)
        move.invoice_cash_rounding_id = rounding
        move.action_post()
        self.assertEqual(move.amount_total, 12.10)  # 12.11 rounded to 0.05
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        entry, lines = self.entry_of(move)
        self.assertEqual(entry["AmountFC"], 12.10)
        self.assertEqual(
            [(line["AmountFC"], line["VATAmountFC"]) for line in lines],
            [(10.01, 2.10), (-0.01, 0.0)],
        )
        self.assertEqual(lines[1]["GLAccount"], self.entry_guid("GLAccounts", "8100"))
        self.assertEqual(lines[1]["VATCode"].strip(), "0")
        self.assertFalse(self.warnings(move))

    def test_early_payment_discount_lines_sent_odoo_mode(self):
        term = self.early_discount_term()
        move = self.invoice([(100.0, 1.0)], post=False)
        move.invoice_payment_term_id = term
        move.action_post()
        self.assertEqual(move.amount_total, 120.58)  # 100 + 21% of 98
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        entry, lines = self.entry_of(move)
        self.assertEqual(entry["AmountFC"], 120.58)
        self.assertEqual(
            sorted(
                (line["AmountFC"], line["VATAmountFC"], line["VATCode"].strip()) for line in lines
            ),
            [(-2.0, -0.42, "2"), (2.0, 0.0, "0"), (100.0, 21.0, "2")],
        )

    def test_early_payment_discount_remote_mode(self):
        """SalesInvoices on items: the discount lines go on the default item, with their
        VAT; without them Exact would total 121.00."""
        self.backend.invoice_mode = "remote"
        term = self.early_discount_term()
        move = self.invoice([(100.0, 1.0)], post=False)
        move.invoice_payment_term_id = term
        move.action_post()
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        invoice, lines = self.invoice_of(move)
        self.assertEqual(invoice["AmountFC"], 120.58)
        self.assertEqual(len(lines), 3)

    def test_cash_rounding_remote_mode_on_its_account(self):
        self.backend.invoice_mode = "remote"
        rounding = self.cash_rounding()
        move = self.invoice([(10.01, 1.0)], post=False)
        move.invoice_cash_rounding_id = rounding
        move.action_post()
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        invoice, lines = self.invoice_of(move)
        self.assertEqual(invoice["AmountFC"], 12.10)
        self.assertEqual(lines[-1]["GLAccount"], self.entry_guid("GLAccounts", "8100"))

    def test_unmapped_rounding_stops_before_any_call(self):
        rounding = self.cash_rounding()
        self.env["bookkeeping.mapping"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("account_id", "=", rounding.profit_account_id.id),
            ]
        ).unlink()
        self.backend.untaxed_vat_code_id = False
        move = self.invoice([(10.01, 1.0)], post=False)
        move.invoice_cash_rounding_id = rounding
        move.action_post()
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "error")
        self.assertEqual(self.calls(), 0, "nothing was sent")
        self.assertIn(rounding.profit_account_id.display_name, move.bookkeeping_error)
        self.assertIn("VAT code for lines without tax", move.bookkeeping_error)
        self.assertIn("cash rounding", move.bookkeeping_error)

    def test_document_lines_add_up(self):
        """The shared document: per tax, the VAT of the lines is Odoo's tax line; the
        lines add up to the receivable in both currencies."""
        usd = self.setup_other_currency("USD", rates=[("2025-01-01", 1.0823)])
        move = self.invoice(CENT_LINES + [(7.77, 3.0)], currency=usd, post=False)
        move.invoice_line_ids[-1].tax_ids = [Command.set(self.tax_9.ids)]
        move.action_post()
        document = move._bookkeeping_document()
        self.assertFalse(document["problem"])
        for tax in (self.tax_21, self.tax_9):
            tax_amls = move.line_ids.filtered(lambda aml, t=tax: aml.tax_line_id == t)
            of_tax = [line for line in document["lines"] if line["taxes"] == tax]
            self.assertEqual(
                round(sum(line["vat"] for line in of_tax), 2),
                round(-sum(tax_amls.mapped("amount_currency")), 2),
            )
            self.assertEqual(
                round(sum(line["vat_company"] for line in of_tax), 2),
                round(-sum(tax_amls.mapped("balance")), 2),
            )
        self.assertEqual(document["total"], move.amount_total)
        self.assertEqual(document["total_company"], move.amount_total_signed)

    def test_rate_spreads_vat_when_one_rate_cannot(self):
        """Two lines of 0.05 VAT at 0.9 round to 0.05 EUR each; Odoo's tax line says 0.09.
        No rate gives that for two equal amounts, so a cent of VAT moves between them (the
        VAT per tax stays Odoo's in both currencies)."""
        line = {
            "account": self.revenue,
            "taxes": self.tax_21,
            "amount": 100.0,
            "amount_company": 90.0,
            "vat": 0.05,
            "vat_company": 0.05,
        }
        document = {"lines": [dict(line), dict(line, vat_company=0.04)]}
        rate, vats = exact_entry_rate(document, 1 / 0.9)
        self.assertAlmostEqual(rate, 0.9, places=6)
        self.assertEqual(sorted(vats), [0.04, 0.06])

    def test_cash_rounding_on_the_biggest_tax(self):
        """Strategy "modify the biggest tax": the rounding is part of the VAT, no line."""
        rounding = self.env["account.cash.rounding"].create(
            {
                "name": "tax 0.05",
                "rounding": 0.05,
                "strategy": "biggest_tax",
                "rounding_method": "HALF-UP",
            }
        )
        move = self.invoice([(10.01, 1.0)], post=False)
        move.invoice_cash_rounding_id = rounding
        move.action_post()
        self.assertEqual(move.amount_total, 12.10)
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        entry, lines = self.entry_of(move)
        self.assertEqual(entry["AmountFC"], 12.10)
        self.assertEqual(
            [(line["AmountFC"], line["VATAmountFC"]) for line in lines], [(10.01, 2.09)]
        )
