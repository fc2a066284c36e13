"""Visma eAccounting numbers the invoice: drafts with our marker row, the optional convert
with the expected totals, numbers and payments back in bulk, no duplicate after a lost
answer, a 5xx, a 429 or a lost convert. Real HTTP to the simulator on loopback."""

from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.clients.visma import marker
from odoo.addons.account_bookkeeping_link.sandbox.visma import seed
from odoo.addons.account_bookkeeping_link.tests.common_visma import VismaCommon


@tagged("post_install", "-at_install")
class TestVismaDrafts(VismaCommon):
    invoice_mode = "remote"

    def test_a_draft_carries_our_marker_and_reference_and_its_totals_are_odoos(self):
        move = self.invoice(amounts=(100.0, 33.33), taxes=self.tax_21)
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        self.assertEqual(self.calls("POST", "customerinvoicedrafts"), 1)
        self.assertEqual(self.calls("POST", "customers"), 1, "the customer is created once")
        draft = self.remote_doc("customerinvoicedrafts", move.bookkeeping_remote_id)
        self.assertEqual(draft["YourReference"], move.name)
        self.assertEqual(draft["Rows"][0]["Text"], marker(move.name))
        self.assertEqual(draft["TotalAmount"], move.amount_total)
        self.assertEqual(draft["TotalVatAmount"], move.amount_tax)
        # lines without a product go on the default article of their tax
        self.assertEqual(draft["Rows"][1]["ArticleId"], seed.sid("article:1:ADVIES"))

    def test_products_are_matched_by_sku_or_created_once_with_coding_and_unit(self):
        move = self.invoice(post=False)
        move.invoice_line_ids[0].product_id = self.product_advies
        move.invoice_line_ids[0].price_unit = 95.0
        move.write(
            {
                "invoice_line_ids": [
                    (
                        0,
                        0,
                        {
                            "product_id": self.product_new.id,
                            "quantity": 2,
                            "price_unit": 12.5,
                            "tax_ids": [(6, 0, self.tax_9.ids)],
                        },
                    )
                ]
            }
        )
        move.action_post()
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        articles = {a["Number"]: a for a in self.remote("articles")}
        self.assertEqual(articles["NIEUW-1"]["CodingId"], seed.sid("coding:9"))
        self.assertEqual(articles["NIEUW-1"]["UnitId"], seed.sid("unit:st"))
        self.assertEqual(self.calls("POST", "articles"), 1)
        draft = self.remote_doc("customerinvoicedrafts", move.bookkeeping_remote_id)
        self.assertEqual(draft["TotalAmount"], move.amount_total)
        self.assertEqual([r.get("ArticleNumber") for r in draft["Rows"][1:]], ["ADVIES", "NIEUW-1"])
        # the second invoice knows both articles: no article call at all
        self.clear_stats()
        second = self.invoice(post=False)
        second.invoice_line_ids[0].product_id = self.product_new
        second.invoice_line_ids[0].tax_ids = self.tax_9
        second.action_post()
        self.send(second)
        self.assertEqual(second.bookkeeping_state, "sent_draft", second.bookkeeping_error)
        self.assertEqual(self.calls("GET", "articles") + self.calls("POST", "articles"), 0)
        self.assertEqual(self.api_calls(), 1)

    def test_book_at_once_converts_with_the_expected_totals(self):
        self.backend.visma_convert_drafts = True
        move = self.send(self.invoice(amounts=(10.0, 20.0)))
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertTrue(move.bookkeeping_remote_number.isdigit())
        invoice = self.remote_doc("customerinvoices", move.bookkeeping_remote_id)
        self.assertEqual(invoice["InvoiceDate"][:10], str(move.invoice_date), "date kept")
        self.assertEqual(invoice["TotalAmountInvoiceCurrency"], move.amount_total)
        self.assertFalse(self.remote("customerinvoicedrafts"))

    def test_a_draft_eaccounting_totals_differently_is_not_booked(self):
        """The seeded article BROOD books 9 %: a 21 % line on it totals differently, so
        the convert with Odoo's totals is refused and the draft waits, flagged."""
        self.backend.visma_convert_drafts = True
        self.tax_mapping(self.tax_21).visma_article_id = self.option("item", "BROOD")
        move = self.send(self.invoice(amounts=(100.0,)))
        self.assertEqual(move.bookkeeping_state, "sent_draft")
        self.assertFalse(self.remote("customerinvoices"))
        self.assertTrue(move.activity_ids.filtered(lambda a: "total" in (a.summary or "")))

    def test_number_sync_reads_numbers_in_bulk_and_reports_a_deleted_draft(self):
        moves = self.invoice() | self.invoice(amounts=(50.0,)) | self.invoice(amounts=(7.0,))
        self.send(moves)
        self.assertEqual(set(moves.mapped("bookkeeping_state")), {"sent_draft"})
        first, second, third = moves
        self.control("POST", f"/visma/drafts/{first.bookkeeping_remote_id}/convert")
        self.control("POST", f"/visma/drafts/{second.bookkeeping_remote_id}/convert")
        self.control("POST", f"/visma/drafts/{third.bookkeeping_remote_id}/delete")
        self.clear_stats()
        summary = self.backend._sync_remote_state()
        self.assertEqual(summary["numbers"], 3)
        self.assertEqual(first.bookkeeping_state, "done")
        numbers = sorted(int(m.bookkeeping_remote_number) for m in (first, second))
        self.assertEqual(numbers[1], numbers[0] + 1, "eAccounting numbers in order")
        self.assertEqual(third.bookkeeping_state, "error")
        self.assertIn("deleted", third.bookkeeping_error)
        self.assertLessEqual(self.api_calls(), 4, "drafts and invoices in pages, not per invoice")
        # a number is never reused: a new draft for the third gets the next number
        third._bookkeeping_write({"bookkeeping_state": "to_send"})
        self.send(third)
        self.assertEqual(third.bookkeeping_state, "sent_draft", third.bookkeeping_error)
        self.control("POST", f"/visma/drafts/{third.bookkeeping_remote_id}/convert")
        self.backend._sync_remote_state()
        self.assertEqual(int(third.bookkeeping_remote_number), numbers[1] + 1)

    def test_payments_come_back_in_bulk(self):
        self.backend.visma_convert_drafts = True
        moves = self.invoice() | self.invoice(amounts=(50.0,))
        self.send(moves)
        first, second = moves
        self.control("POST", f"/visma/invoices/{first.bookkeeping_remote_id}/pay")
        self.control(
            "POST", f"/visma/invoices/{second.bookkeeping_remote_id}/pay", {"amount": 10.0}
        )
        self.clear_stats()
        self.backend._sync_remote_state()
        self.assertEqual(first.bookkeeping_remote_payment_state, "paid")
        self.assertEqual(second.bookkeeping_remote_payment_state, "partial")
        self.assertAlmostEqual(second.bookkeeping_remote_residual, second.amount_total - 10.0)
        self.assertLessEqual(self.api_calls(), 2)

    def test_a_lost_answer_is_looked_up_never_sent_twice(self):
        move = self.invoice()
        self.faults(lose_next_creates=1)
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        self.assertEqual(len(self.remote("customerinvoicedrafts")), 1)

    def test_a_lost_convert_is_resolved_by_the_draft_and_the_invoices(self):
        self.backend.visma_convert_drafts = True
        move = self.invoice()
        # the customer create, then the draft, then the convert: lose the convert's answer
        self.send(self.invoice(amounts=(1.0,)))  # creates the customer first
        self.faults(lose_next_creates=2)  # the draft and its convert
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(len(self.remote("customerinvoices")), 2)
        self.assertEqual(
            len([i for i in self.remote("customerinvoices") if i["YourReference"] == move.name]), 1
        )

    def test_5xx_and_429_are_waited_out_without_duplicates(self):
        self.config(throttle_seconds=1)
        self.faults(fail_next=1)
        first = self.send(self.invoice())
        self.assertEqual(first.bookkeeping_state, "sent_draft", first.bookkeeping_error)
        self.faults(throttle_next=1)
        second = self.send(self.invoice(amounts=(5.0,)))
        self.assertEqual(second.bookkeeping_state, "sent_draft", second.bookkeeping_error)
        self.assertEqual(len(self.remote("customerinvoicedrafts")), 2)

    def test_credit_note_and_foreign_currency(self):
        usd = self.env.ref("base.GBP")
        usd.active = True
        customer = self.env["res.partner"].create(
            {
                "name": "Dollar Trading BV",
                "is_company": True,
                "country_id": self.nl.id,
                "zip": "3011 AA",
                "city": "Rotterdam",
                "email": "ap@dollar.example",
            }
        )
        self.backend.visma_convert_drafts = True
        move = self.invoice(amounts=(100.0,), partner=customer, currency=usd)
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        invoice = self.remote_doc("customerinvoices", move.bookkeeping_remote_id)
        self.assertEqual(invoice["CurrencyCode"], "GBP")
        refund = self.invoice(
            amounts=(40.0,), move_type="out_refund", partner=customer, currency=usd
        )
        self.send(refund)
        self.assertEqual(refund.bookkeeping_state, "done", refund.bookkeeping_error)
        credit = self.remote_doc("customerinvoices", refund.bookkeeping_remote_id)
        self.assertTrue(credit["IsCreditInvoice"])
        self.assertEqual(credit["TotalAmountInvoiceCurrency"], -refund.amount_total)
        # the same customer in euros: stopped before any call
        self.clear_stats()
        euro = self.send(self.invoice(amounts=(10.0,), partner=customer, currency=self.eur))
        self.assertEqual(euro.bookkeeping_state, "error")
        self.assertIn("GBP", euro.bookkeeping_error)
        self.assertEqual(self.api_calls(), 0)
