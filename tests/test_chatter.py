"""The invoice's chatter tells the story an auditor reads: sent, booked with the remote
number, number received, paid remotely, every error; and Send attempts counts the runs,
from the button or the cron. Also the Send dialog's "Book in <service>"."""

from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.tests.common_asperion import AsperionCommon
from odoo.addons.account_bookkeeping_link.tests.common_exact import ExactCommon


def notes(move):
    return [m.body for m in move.message_ids.sorted("id")]


@tagged("post_install", "-at_install")
class TestExactChatter(ExactCommon):
    def setUp(self):
        super().setUp()
        self.backend.attach_pdf = False

    def test_booked_paid_and_every_error_in_the_chatter(self):
        move = self.invoice([(10.0, 1.0)])
        before = len(move.message_ids)
        move.action_bookkeeping_send()
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(move.bookkeeping_attempts, 1)
        booked = notes(move)[before:]
        self.assertEqual(len(booked), 1, booked)
        self.assertIn("Booked in Exact Online administration 1001", booked[0])
        self.assertIn(move.bookkeeping_remote_number or move.bookkeeping_remote_id, booked[0])

        self.control("POST", f"/exact/receivables/{move.bookkeeping_remote_id}/pay")
        result = move.action_bookkeeping_sync()
        self.assertIn("1 payments updated", result["params"]["message"])
        self.assertIn("Paid in Exact Online.", notes(move)[-1])

    def test_every_error_in_the_chatter_and_attempts_count_the_runs(self):
        move = self.invoice([(10.0, 1.0)], tax=self.tax_unmapped)
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "error")
        self.assertIn("Not sent to Exact Online", notes(move)[-1])
        self.assertIn("BTW 13%", notes(move)[-1])
        logged = len(move.message_ids)
        # Sent again by hand and refused again: a second attempt, on record too.
        move.action_bookkeeping_send()
        self.assertEqual(move.bookkeeping_attempts, 2)
        self.assertEqual(len(move.message_ids), logged + 1)

    def test_the_cron_retrying_the_same_outage_adds_no_note(self):
        move = self.invoice([(10.0, 1.0)])
        self.backend._push_partner(self.backend._client(), self.partner_a)
        self.faults(path_status={"POST salesentry/SalesEntries": 503})
        self.backend.with_context(bookkeeping_retries_in_run=0)._push_moves(move)
        self.assertTrue(move.bookkeeping_error_retryable, move.bookkeeping_error)
        logged = len(move.message_ids)
        move.bookkeeping_next_attempt = False
        self.backend.with_context(bookkeeping_retries_in_run=0)._cron_push_link()
        self.assertEqual(move.bookkeeping_attempts, 2)
        self.assertEqual(len(move.message_ids), logged, notes(move)[-2:])
        self.faults(path_status={})
        move.bookkeeping_next_attempt = False
        self.backend._cron_push_link()
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(move.bookkeeping_attempts, 3)
        self.assertIn("Booked in", notes(move)[-1])

    def test_the_send_dialog_books_the_invoice(self):
        move = self.invoice([(10.0, 1.0)])
        Send = self.env["account.move.send"]
        edis = Send._get_all_extra_edis()
        self.assertEqual(edis["bookkeeping_link"]["label"], "Book in Exact Online")
        self.assertTrue(edis["bookkeeping_link"]["is_applicable"](move))
        self.assertIn("bookkeeping_link", Send._get_default_extra_edis(move))
        wizard = (
            self.env["account.move.send.wizard"]
            .with_context(active_model="account.move", active_ids=move.ids)
            .create({})
        )
        self.assertIn("bookkeeping_link", wizard.extra_edis or {})
        wizard.action_send_and_print()
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertFalse(Send._is_bookkeeping_applicable(move), "booked: not offered again")


@tagged("post_install", "-at_install")
class TestAsperionChatter(AsperionCommon):
    def test_draft_sent_and_number_received(self):
        self.backend.write({"invoice_mode": "remote", "asperion_line_type": "V"})
        move = self.invoice(amounts=(100.0,))
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        self.assertIn(f"as draft {move.bookkeeping_remote_ref}", notes(move)[-1])
        final = self.control("POST", f"/asperion/drafts/{move.bookkeeping_remote_ref}/finalize")
        self.backend._sync_remote_state()
        self.assertEqual(move.bookkeeping_remote_number, final["invoiceNumber"])
        self.assertIn(
            f"Number received from Asperion: {final['invoiceNumber']}.", " ".join(notes(move))
        )
