"""Invoices to Asperion against the real sandbox over HTTP: both modes, credit notes, totals
to the cent, PDF, checks before any call, no duplicates after unknown outcomes, bulk sync."""

from odoo.tests import tagged

from .common_asperion import INVOICE_DATE, AsperionCommon


@tagged("post_install", "-at_install")
class TestAsperionInvoices(AsperionCommon):
    # ------------------------------------------------------------------ remote numbers

    def test_draft_flow_and_number_sync(self):
        self.backend.write({"invoice_mode": "remote", "asperion_line_type": "V"})
        move = self.invoice(amounts=(100.0, 50.0))
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        self.assertTrue(move.bookkeeping_remote_ref)
        self.assertFalse(move.bookkeeping_remote_number)
        self.assertEqual(self.calls("POST", "draftsalesinvoiceswithlines"), 1)
        drafts = self.remote_state()["draftsalesinvoices"]
        self.assertEqual(len(drafts), 1)
        draft = drafts[0]
        self.assertEqual(draft["description"], move.name)
        self.assertEqual([line["bookingType"] for line in draft["lines"]["_data"]], ["V", "V"])
        self.assertEqual({line["vatCode"] for line in draft["lines"]["_data"]}, {"VH"})
        # The invoice's payment term got the condition with its days when the lists were
        # loaded; a term without one would take the link's default (2).
        mapped = self.backend._mapped_option("payment_term", move.invoice_payment_term_id)
        self.assertEqual(draft["paymentConditionId"], int(mapped.code) if mapped else 2)

        # Not finalised yet: the sync leaves it waiting.
        self.backend._sync_remote_state()
        self.assertEqual(move.bookkeeping_state, "sent_draft")

        final = self.control("POST", f"/asperion/drafts/{draft['id']}/finalize")
        self.clear_stats()
        self.backend._sync_remote_state()
        self.assertEqual(move.bookkeeping_state, "done")
        self.assertEqual(move.bookkeeping_remote_number, final["invoiceNumber"])
        self.assertEqual(move.bookkeeping_remote_id, str(final["id"]))
        self.assertEqual(move.bookkeeping_remote_ref, str(draft["id"]))
        self.assertEqual(move.bookkeeping_remote_payment_state, "open")
        # One page each: open drafts and finals for the numbers, outstanding for payments.
        self.assertEqual(self.calls("GET", "/salesinvoiceswithlines"), 1)
        self.assertEqual(self.calls("GET", "draftsalesinvoices"), 1)
        self.assertEqual(self.calls("GET", "outstandingsalesinvoices"), 1)
        self.assertFalse(self.calls("DELETE", "/"))

    def test_draft_article_and_text_lines(self):
        self.backend.write(
            {
                "invoice_mode": "remote",
                "asperion_line_type": "A",
                "asperion_article_id": self.option("item", "ADVIES").id,
                "note_lines": "text",
            }
        )
        move = self.init_invoice(
            "out_invoice",
            partner=self.partner_a,
            invoice_date=INVOICE_DATE,
            amounts=[95.0],
            taxes=self.tax_21,
        )
        move.invoice_line_ids = [(0, 0, {"display_type": "line_note", "name": "Met dank"})]
        move.action_post()
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        lines = self.remote_state()["draftsalesinvoices"][0]["lines"]["_data"]
        self.assertEqual([line["bookingType"] for line in lines], ["A", "T"])
        self.assertEqual(lines[0]["articleSku"], "ADVIES")
        self.assertEqual(lines[1]["description"], "Met dank")

    def test_draft_ledger_lines(self):
        self.backend.write({"invoice_mode": "remote", "asperion_line_type": "G"})
        move = self.send(self.invoice())
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        line = self.remote_state()["draftsalesinvoices"][0]["lines"]["_data"][0]
        self.assertEqual((line["bookingType"], line["ledgerAccountId"]), ("G", 8000))

    # ------------------------------------------------------------------ Odoo numbers

    def test_odoo_mode_with_pdf(self):
        move = self.send(self.invoice(amounts=(100.0, 200.0)))
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        remote = self.remote_invoice(move)
        self.assertEqual(remote["invoiceNumber"], move.name)
        self.assertEqual(remote["description"], move.name)
        self.assertEqual(move.bookkeeping_remote_number, move.name)
        self.assertAlmostEqual(remote["amountInclVat"], move.amount_total, places=2)
        files = self.remote_state()["files"]
        self.assertEqual(len(files), 1)
        self.assertEqual(files[0]["salesInvoiceId"], remote["id"])
        self.assertEqual(self.calls("POST", "/file"), 1)

    def test_pdf_over_5mb_still_booked(self):
        move = self.invoice()
        self.env["ir.attachment"].create(
            {
                "name": "big.pdf",
                "raw": b"%PDF-1.4\n" + b"0" * (6 * 1024 * 1024),
                "mimetype": "application/pdf",
                "res_model": "account.move",
                "res_id": move.id,
                "res_field": "invoice_pdf_report_file",
            }
        )
        move.invalidate_recordset(["invoice_pdf_report_id", "invoice_pdf_report_file"])
        self.assertTrue(move.invoice_pdf_report_id)
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertTrue(self.remote_invoice(move))
        self.assertFalse(self.remote_state()["files"])
        self.assertEqual(self.calls("POST", "/file"), 0)
        self.assertIn("5 MB", " ".join(move.message_ids.mapped("body")))
        log = self.env["bookkeeping.log"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("res_id", "=", move.id),
                ("outcome", "=", "error"),
            ]
        )
        self.assertIn("5 MB", log[:1].message or "")

    def test_credit_note_negative(self):
        refund = self.send(self.invoice(amounts=(80.0,), move_type="out_refund"))
        self.assertEqual(refund.bookkeeping_state, "done", refund.bookkeeping_error)
        remote = self.remote_invoice(refund)
        self.assertAlmostEqual(remote["amountInclVat"], -refund.amount_total, places=2)
        self.assertLess(remote["lines"]["_data"][0]["amount"], 0)

    def test_totals_equal_to_the_cent(self):
        self.env.company.tax_calculation_rounding_method = "round_globally"
        move = self.send(self.invoice(amounts=(10.01, 10.01, 10.01, 3.33), taxes=self.tax_21))
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        remote = self.remote_invoice(move)
        # Per line 4 x rounding would give another VAT total than Odoo's global rounding.
        self.assertEqual(round(remote["vatAmount"], 2), round(move.amount_tax, 2))
        self.assertEqual(round(remote["amountExclVat"], 2), round(move.amount_untaxed, 2))
        self.assertEqual(round(remote["amountInclVat"], 2), round(move.amount_total, 2))
        self.assertEqual(move.bookkeeping_remote_amount, move.amount_total)

    def test_mixed_rates_totals(self):
        move = self.invoice(amounts=(19.99,), taxes=self.tax_21)
        move.button_draft()
        move.invoice_line_ids = [
            (
                0,
                0,
                {
                    "name": "Boek",
                    "price_unit": 7.77,
                    "quantity": 3,
                    "tax_ids": [(6, 0, self.tax_9.ids)],
                },
            )
        ]
        move.action_post()
        self.send(move)
        remote = self.remote_invoice(move)
        self.assertEqual(round(remote["amountInclVat"], 2), round(move.amount_total, 2))
        self.assertEqual({line["vatCode"] for line in remote["lines"]["_data"]}, {"VH", "VL"})

    # ------------------------------------------------------------------ errors speak

    def test_field_errors_on_invoice(self):
        # A blocked ledger account: Asperion answers ProblemDetails with field errors.
        self.map("account", self.revenue, self.option("gl_account", "8900"))
        move = self.send(self.invoice())
        self.assertEqual(move.bookkeeping_state, "error")
        self.assertFalse(move.bookkeeping_error_retryable)
        self.assertIn("Lines[0].LedgerAccountId", move.bookkeeping_error)
        self.assertFalse(self.remote_state()["salesinvoices"][2:])

    def test_missing_mapping_stops_before_any_call(self):
        self.map("tax", self.tax_21, self.env["bookkeeping.remote.option"])
        self.map("account", self.revenue, self.env["bookkeeping.remote.option"])
        move = self.send(self.invoice())
        self.assertEqual(move.bookkeeping_state, "error")
        self.assertIn(self.tax_21.name, move.bookkeeping_error)
        self.assertIn(self.revenue.code, move.bookkeeping_error)
        self.assertEqual(self.stats()["total"], 0)

    def test_missing_debtor_kind_stops_before_any_call(self):
        self.backend.asperion_debtor_kind_id = False
        move = self.send(self.invoice())
        self.assertEqual(move.bookkeeping_state, "error")
        self.assertIn("debtor kind", move.bookkeeping_error)
        self.assertEqual(self.stats()["total"], 0)
        # A partner already linked needs no debtor kind.
        self.backend._store_partner_link(self.partner_a, {"remote_id": "1", "state": "linked"})
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(self.remote_invoice(move)["debtorId"], 1)

    def test_unsupported_country_stops_before_any_call(self):
        self.partner_a.country_id = self.env.ref("base.jp")
        move = self.send(self.invoice())
        self.assertEqual(move.bookkeeping_state, "error")
        self.assertIn("country", move.bookkeeping_error)
        self.assertEqual(self.stats()["total"], 0)

    # ------------------------------------------------------------------ no duplicates

    def _log_outcomes(self):
        logs = self.env["bookkeeping.log"].search([("backend_id", "=", self.backend.id)])
        return {(log.outcome, log.status) for log in logs}

    def test_429_and_503_backed_off(self):
        move = self.invoice()
        self.backend._push_partner(self.backend._client(), self.partner_a)
        self.control("POST", "/asperion/config", {"retry_after": 1})
        self.faults(throttle_next=1)
        self.send(move)
        # The 429 is waited out (Retry-After: 1 s) and the POST made once more; no timing
        # is asserted (CI machines are noisy): the call log shows the retry.
        self.assertIn(("retry", 429), self._log_outcomes())
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(self.stats()["throttled"], 1)
        self.assertEqual(
            len(
                [i for i in self.remote_state()["salesinvoices"] if i["invoiceNumber"] == move.name]
            ),
            1,
        )
        # A 503 on a safe GET is retried after the pause it asks for, unseen by the user.
        self.faults(fail_next=1)
        self.backend._sync_remote_state()
        self.assertIn(("retry", 503), self._log_outcomes())
        self.assertEqual(self.stats()["status"].get("503"), 1)
        self.assertEqual(move.bookkeeping_remote_payment_state, "open")
        self.assertEqual(self.backend.state, "linked")

    # ------------------------------------------------------------------ bulk sync

    def test_outstanding_sync_in_bulk(self):
        moves = (
            self.invoice(amounts=(100.0,))
            | self.invoice(amounts=(50.0,))
            | self.invoice(amounts=(20.0,))
        )
        self.send(moves)
        self.assertEqual(set(moves.mapped("bookkeeping_state")), {"done"})
        # Another 110 open invoices in the administration: the list has two pages.
        client = self.backend._client()
        for i in range(110):
            client.create_sales_invoice(
                {
                    "invoiceNumber": f"EXT{i:04d}",
                    "date": "2025-06-03T00:00:00",
                    "debtorId": 1,
                    "description": f"Elsewhere {i}",
                    "lines": {
                        "_data": [{"amount": 10.0, "vatCode": "VH", "ledgerAccountId": 8000}]
                    },
                }
            )
        first, second = moves[0], moves[1]
        self.control("POST", f"/asperion/salesinvoices/{first.bookkeeping_remote_id}/pay")
        self.control(
            "POST", f"/asperion/salesinvoices/{second.bookkeeping_remote_id}/pay", {"amount": 10.0}
        )
        self.clear_stats()
        self.backend._sync_remote_state()
        outstanding_calls = self.calls("GET", "outstandingsalesinvoices")
        self.assertLessEqual(outstanding_calls, 2)  # 112 open invoices, 100 per page
        self.assertEqual(self.stats()["total"], outstanding_calls)
        self.assertEqual(first.bookkeeping_remote_payment_state, "paid")
        self.assertEqual(first.bookkeeping_remote_residual, 0.0)
        self.assertEqual(second.bookkeeping_remote_payment_state, "partial")
        self.assertAlmostEqual(second.bookkeeping_remote_residual, second.amount_total - 10.0)
        self.assertEqual(moves[2].bookkeeping_remote_payment_state, "open")

    def test_number_sync_in_bulk(self):
        self.backend.invoice_mode = "remote"
        moves = self.env["account.move"]
        for amount in (10.0, 20.0, 30.0, 40.0):
            moves |= self.invoice(amounts=(amount,))
        self.send(moves)
        self.assertEqual(set(moves.mapped("bookkeeping_state")), {"sent_draft"})
        for move in moves[:3]:
            self.control("POST", f"/asperion/drafts/{move.bookkeeping_remote_ref}/finalize")
        self.clear_stats()
        self.backend._sync_remote_state()
        self.assertEqual(moves[:3].mapped("bookkeeping_state"), ["done"] * 3)
        self.assertEqual(moves[3].bookkeeping_state, "sent_draft")
        self.assertEqual(len(set(moves[:3].mapped("bookkeeping_remote_number"))), 3)
        # One page of open drafts, one page of final invoices: not one call per invoice.
        self.assertEqual(self.calls("GET", "/salesinvoiceswithlines"), 1)
        self.assertEqual(self.calls("GET", "draftsalesinvoices"), 1)

    def test_draft_deleted_in_asperion(self):
        self.backend.invoice_mode = "remote"
        move = self.send(self.invoice())
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        self.control("POST", f"/asperion/drafts/{move.bookkeeping_remote_ref}/delete")
        self.backend._sync_remote_state()
        self.assertEqual(move.bookkeeping_state, "error")
        self.assertIn("deleted in Asperion", move.bookkeeping_error)
        # Sending again makes a new draft; the old one is never reused or deleted by us.
        old_ref = move.bookkeeping_remote_ref
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        self.assertNotEqual(move.bookkeeping_remote_ref, old_ref)

    def test_pdf_content_sent(self):
        move = self.invoice()
        self.env["ir.attachment"].create(
            {
                "name": "inv.pdf",
                "raw": b"%PDF-1.4 small",
                "mimetype": "application/pdf",
                "res_model": "account.move",
                "res_id": move.id,
                "res_field": "invoice_pdf_report_file",
            }
        )
        move.invalidate_recordset(["invoice_pdf_report_id", "invoice_pdf_report_file"])
        self.send(move)
        files = self.remote_state()["files"]
        self.assertEqual(files[0]["size"], len(b"%PDF-1.4 small"))
        self.assertEqual(files[0]["name"], "inv.pdf")
