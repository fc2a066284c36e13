"""Links and syncs that heal themselves (issue 7, points 9, 10, 13-16), against the Exact
sandbox over real HTTP. Buttons are pressed the way the web client does: a button that
raises has its whole request rolled back (``click``)."""

import time
from datetime import datetime, timedelta, timezone

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.tests.common_asperion import AsperionCommon
from odoo.addons.account_bookkeeping_link.tests.common_exact import DIVISION, ExactCommon

RECEIVABLES = ("bulk/Cashflow/Receivables", "cashflow/Receivables")


class HealingCommon(ExactCommon):
    def click(self, record, method):
        """Press a button as the web client does: an exception rolls the request back."""
        try:
            with self.env.cr.savepoint():
                return getattr(record, method)()
        except UserError as error:
            return error

    def assert_notification(self, result, kind, *texts):
        self.assertIsInstance(result, dict, f"the button raised instead: {result}")
        self.assertEqual(result["tag"], "display_notification")
        self.assertEqual(result["params"]["type"], kind, result["params"]["message"])
        for text in texts:
            self.assertIn(text, result["params"]["message"])
        return result["params"]["message"]

    def reconnect_activities(self):
        activity_type = self.env.ref("account_bookkeeping_link.mail_activity_reconnect")
        return self.backend.activity_ids.filtered(lambda a: a.activity_type_id == activity_type)

    def division_without_consent(self):
        """The link's chosen division lost its consent (1003 was never consented)."""
        self.backend.write({"administration_code": "1003", "administration_name": "Demo Holding"})

    def back_to_the_consented_division(self):
        self.backend.write({"administration_code": str(DIVISION), "administration_name": "Demo BV"})


@tagged("post_install", "-at_install")
class TestSyncIndependence(HealingCommon):
    def remote_invoices(self, count):
        self.backend.write({"invoice_mode": "remote", "attach_pdf": False})
        moves = self.env["account.move"]
        for n in range(count):
            moves |= self.invoice([(10.0 + n, 1.0)], post=False)
        moves.action_post()
        self.send(moves)
        self.assertEqual(set(moves.mapped("bookkeeping_state")), {"sent_draft"})
        for move in moves:
            self.control("POST", f"/exact/salesinvoices/{move.bookkeeping_remote_id}/print")
        return moves

    def test_numbers_survive_a_failing_payment_read(self):
        moves = self.remote_invoices(3)
        # Neither the bulk nor the CRUD receivables can be read: the payment part fails.
        self.faults(path_status={path: 404 for path in RECEIVABLES})
        summary = self.backend._sync_remote_state()
        self.assertEqual(set(moves.mapped("bookkeeping_state")), {"done"})
        self.assertTrue(all(moves.mapped("bookkeeping_remote_number")))
        self.assertEqual(summary["numbers"], 3)
        self.assertEqual(summary["payments"], 0)
        self.assertEqual(len(summary["failed"]), 1)
        self.assertIn("payment sync", summary["failed"][0])
        self.assertTrue(self.backend.last_number_sync)
        self.assertFalse(self.backend.last_payment_sync)
        self.assertEqual(self.backend.state, "linked")
        # The failing call is in the call log.
        failed = self.env["bookkeeping.log"].search(
            [("backend_id", "=", self.backend.id), ("status", "=", 404)]
        )
        self.assertTrue(failed)

    def test_payments_survive_a_failing_number_read(self):
        moves = self.remote_invoices(2)
        self.backend._sync_remote_state()
        self.assertEqual(set(moves.mapped("bookkeeping_state")), {"done"})
        waiting = self.remote_invoices(1)
        self.control("POST", f"/exact/receivables/{moves[0].bookkeeping_remote_id}/pay")
        self.faults(
            path_status={"bulk/SalesInvoice/SalesInvoices": 503, "salesinvoice/SalesInvoices": 503}
        )
        summary = self.backend._sync_remote_state()
        self.assertIn("number sync", " ".join(summary["failed"]))
        self.assertEqual(waiting.bookkeeping_state, "sent_draft")
        self.assertEqual(moves[0].bookkeeping_remote_payment_state, "paid")
        self.assertEqual(summary["payments"], 1)

    def test_bulk_endpoint_404_falls_back_to_the_crud_endpoint(self):
        moves = self.remote_invoices(2)
        self.control("POST", f"/exact/receivables/{moves[0].bookkeeping_remote_id}/pay")
        self.faults(
            path_status={"bulk/SalesInvoice/SalesInvoices": 404, "bulk/Cashflow/Receivables": 404}
        )
        self.clear_stats()
        summary = self.backend._sync_remote_state()
        self.assertFalse(summary["failed"], summary)
        self.assertEqual(set(moves.mapped("bookkeeping_state")), {"done"})
        self.assertEqual(moves[0].bookkeeping_remote_payment_state, "paid")
        self.assertEqual(moves[1].bookkeeping_remote_payment_state, "open")
        requests = self.stats()["requests"]
        self.assertTrue(
            any("salesinvoice/SalesInvoices" in key and "bulk" not in key for key in requests),
            requests,
        )
        self.assertTrue(
            any("cashflow/Receivables" in key and "bulk" not in key for key in requests), requests
        )
        # The missing bulk endpoint is met once per run, not once per filter group.
        detail = self.stats()["detail"]
        self.assertEqual(sum(n for key, n in detail.items() if key.endswith(" 404")), 2, detail)

    def test_payment_sync_follows_the_mode_the_invoice_was_sent_in(self):
        """Sent while Exact numbered the invoices; the link switches to Odoo numbering
        afterwards: the payment of the earlier invoice is still found."""
        moves = self.remote_invoices(1)
        self.backend._sync_remote_state()
        self.assertEqual(moves.bookkeeping_state, "done")
        self.assertEqual(moves.bookkeeping_invoice_mode, "remote")
        self.backend.invoice_mode = "odoo"
        entry = self.send(self.invoice([(30.0, 1.0)]))
        self.assertEqual(entry.bookkeeping_invoice_mode, "odoo")
        invoice_id = moves.bookkeeping_remote_id
        self.control("POST", f"/exact/receivables/{invoice_id}/pay")
        self.control("POST", f"/exact/receivables/{entry.bookkeeping_remote_id}/pay")
        self.backend._sync_remote_state()
        self.assertEqual(moves.bookkeeping_remote_payment_state, "paid")
        self.assertEqual(entry.bookkeeping_remote_payment_state, "paid")
        self.assertIn("SalesInvoice.aspx", moves.bookkeeping_remote_url)
        self.assertIn("SalesEntry.aspx", entry.bookkeeping_remote_url)


@tagged("post_install", "-at_install")
class TestLinkHeals(HealingCommon):
    def link_in_error(self):
        self.division_without_consent()
        result = self.click(self.backend, "action_load_options")
        # A clear message naming the administration, not a server error.
        self.assert_notification(result, "danger", "1003", "Demo Holding")
        self.assertEqual(self.backend.state, "error")
        self.assertIn("1003", self.backend.state_message)
        self.back_to_the_consented_division()

    def test_load_lists_on_a_division_without_consent_is_a_clear_message(self):
        self.link_in_error()

    def test_test_connection_heals_a_link_in_error(self):
        self.link_in_error()
        result = self.click(self.backend, "action_test_connection")
        self.assert_notification(result, "success", str(DIVISION))
        self.assertEqual(self.backend.state, "linked")
        self.assertFalse(self.backend.state_message)

    def test_load_lists_heals_a_link_in_error(self):
        self.link_in_error()
        result = self.click(self.backend, "action_load_options")
        self.assert_notification(result, "success", str(DIVISION))
        self.assertEqual(self.backend.state, "linked")

    def test_a_push_heals_a_link_in_error(self):
        self.backend.attach_pdf = False
        move = self.invoice([(10.0, 1.0)])
        self.link_in_error()
        result = self.click(move, "action_bookkeeping_send")
        self.assertIsInstance(result, dict, result)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(self.backend.state, "linked")

    def test_a_push_on_a_link_still_in_error_keeps_the_invoice_and_says_why(self):
        self.backend.attach_pdf = False
        move = self.invoice([(10.0, 1.0)])
        self.division_without_consent()
        self.backend.state = "error"
        result = self.click(move, "action_bookkeeping_send")
        self.assert_notification(result, "danger", "1003")
        self.assertEqual(move.bookkeeping_state, "to_send")
        self.assertEqual(self.backend.state, "error")

    def test_a_sync_heals_a_link_in_error(self):
        self.backend.attach_pdf = False
        move = self.send(self.invoice([(10.0, 1.0)]))
        self.link_in_error()
        self.control("POST", f"/exact/receivables/{move.bookkeeping_remote_id}/pay")
        result = self.click(self.backend, "action_sync_numbers")
        self.assert_notification(result, "success", "1 payments updated")
        self.assertEqual(self.backend.state, "linked")
        self.assertEqual(move.bookkeeping_remote_payment_state, "paid")

    def test_a_sync_without_any_call_does_not_claim_the_link_works(self):
        self.link_in_error()
        self.backend._sync_remote_state()
        self.assertEqual(self.backend.state, "error")

    def test_test_connection_heals_a_link_marked_for_reconnecting_and_closes_its_activity(self):
        """The token works after all (e.g. the mark came from a mistaken refusal)."""
        self.backend._set_needs_reconnect("refused")
        self.assertTrue(self.reconnect_activities())
        result = self.click(self.backend, "action_test_connection")
        self.assert_notification(result, "success", str(DIVISION))
        self.assertEqual(self.backend.state, "linked")
        self.assertFalse(self.reconnect_activities())


@tagged("post_install", "-at_install")
class TestReconnectActivity(HealingCommon):
    """Every path that finds a dead token leaves the Reconnect activity for a manager; a
    reconnect closes it."""

    def assert_needs_reconnect(self):
        self.assertEqual(self.backend.state, "needs_reconnect")
        activities = self.reconnect_activities()
        self.assertTrue(activities)
        self.assertIn(self.env.user, activities.user_id)
        self.assertEqual(len(activities), len(activities.user_id), "one per manager")
        self.faults(revoked=False)
        self.link()
        self.assertEqual(self.backend.state, "linked")
        self.assertFalse(self.reconnect_activities())

    def test_test_connection(self):
        self.faults(revoked=True)
        result = self.click(self.backend, "action_test_connection")
        self.assert_notification(result, "danger", str(DIVISION), "Connect")
        self.assert_needs_reconnect()

    def test_push(self):
        self.backend.attach_pdf = False
        move = self.invoice([(10.0, 1.0)])
        self.faults(revoked=True)
        result = self.click(move, "action_bookkeeping_send")
        self.assert_notification(result, "danger", "Connect")
        self.assertEqual(move.bookkeeping_state, "to_send")
        self.assert_needs_reconnect()

    def test_sync_button(self):
        self.backend.attach_pdf = False
        self.send(self.invoice([(10.0, 1.0)]))  # something to sync
        self.faults(revoked=True)
        result = self.click(self.backend, "action_sync_numbers")
        self.assert_notification(result, "danger", "Connect")
        self.assert_needs_reconnect()

    def test_keep_alive(self):
        # A token pair last renewed 8 days ago, as the keep-alive finds it.
        self.backend.sudo().token_ids.write(
            {
                "refresh_obtained_at": fields.Datetime.now() - timedelta(days=8),
                "obtained_at": time.time() - 8 * 86400,
                "expires_at": time.time() - 8 * 86400 + 600,
            }
        )
        self.env.flush_all()  # the token store reads its row with SQL
        self.faults(revoked=True)
        self.env["bookkeeping.backend"]._cron_keep_tokens_alive()
        self.assert_needs_reconnect()

    def test_managers_through_accounting_administrator_get_it(self):
        accountant = self.env["res.users"].create(
            {
                "name": "Accountant",
                "login": "accountant-reconnect",
                "company_id": self.backend.company_id.id,
                "company_ids": [fields.Command.set(self.backend.company_id.ids)],
                "group_ids": [
                    fields.Command.set(
                        [
                            self.env.ref("account.group_account_manager").id,
                            self.env.ref("base.group_user").id,
                        ]
                    )
                ],
            }
        )
        self.assertIn(accountant, self.backend._reconnect_managers())
        self.faults(revoked=True)
        self.backend.action_test_connection()
        self.assertIn(accountant, self.reconnect_activities().user_id)


@tagged("post_install", "-at_install")
class TestBurstsAndBlips(HealingCommon):
    def test_one_503_gets_through_in_the_same_run(self):
        self.backend.attach_pdf = False
        move = self.invoice([(10.0, 1.0)])
        self.backend._push_partner(self.backend._client(), self.partner_a)
        self.faults(fail_next=1)
        self.backend.with_context(bookkeeping_retry_backoff=0.01)._push_moves(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        # One run, one attempt: the in-run retry after the 503 is part of it.
        self.assertEqual(move.bookkeeping_attempts, 1)
        self.assertEqual(len(self.remote_rows("salesentry/SalesEntries", YourRef=move.name)), 1)
        self.assertEqual(self.stats()["status"].get("503"), 1)

    def test_three_503s_get_through_in_the_same_run(self):
        """The case seen: three 503s in a row (the create, then the look-up twice)."""
        self.backend.attach_pdf = False
        move = self.invoice([(10.0, 1.0)])
        self.backend._push_partner(self.backend._client(), self.partner_a)
        self.faults(fail_next=3)
        self.backend.with_context(bookkeeping_retry_backoff=0.01)._push_moves(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(len(self.remote_rows("salesentry/SalesEntries", YourRef=move.name)), 1)

    def test_an_outage_goes_to_the_long_schedule_after_the_short_tries(self):
        self.backend.attach_pdf = False
        moves = self.invoice([(10.0, 1.0)]) | self.invoice([(20.0, 1.0)])
        self.backend._push_partner(self.backend._client(), self.partner_a)
        self.faults(path_status={"POST salesentry/SalesEntries": 503})
        before = fields.Datetime.now()
        self.backend.with_context(bookkeeping_retry_backoff=0.01)._push_moves(moves)
        self.faults(path_status={})
        self.assertEqual(set(moves.mapped("bookkeeping_state")), {"error"})
        self.assertTrue(all(moves.mapped("bookkeeping_error_retryable")))
        self.assertTrue(all(moves.mapped("bookkeeping_outcome_unknown")))
        # One attempt each on the long schedule (1, 5, 15, ... minutes).
        self.assertEqual(moves.mapped("bookkeeping_attempts"), [1, 1])
        for move in moves:
            self.assertGreaterEqual(move.bookkeeping_next_attempt, before + timedelta(seconds=59))
        # The first invoice had its short tries (each after a look-up); the second, with
        # the service down, one try: 3 + 1 creates.
        posts = sum(
            n
            for key, n in self.stats()["requests"].items()
            if key.startswith("POST") and "SalesEntries" in key
        )
        self.assertEqual(posts, 4, self.stats()["requests"])
        self.send(moves)
        self.assertEqual(set(moves.mapped("bookkeeping_state")), {"done"})
        self.assertEqual(len(self.remote_rows("salesentry/SalesEntries")), 2)

    def test_a_run_stopped_by_the_rate_limit_is_triggered_again_at_the_reset(self):
        self.backend.attach_pdf = False
        self.control("POST", "/exact/config", {"rate_limit_enabled": True, "daily_limit": 53})
        moves = (
            self.invoice([(10.0, 1.0)]) | self.invoice([(20.0, 1.0)]) | self.invoice([(30.0, 1.0)])
        )
        cron = self.backend.sudo().push_cron_ids
        Trigger = self.env["ir.cron.trigger"]
        self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]).unlink()
        self.send(moves)
        self.assertIn("to_send", moves.mapped("bookkeeping_state"))
        reset = self.backend._rate_limiter(("exact", DIVISION)).snapshot()["day_reset"]
        self.assertTrue(reset)
        expected = datetime.fromtimestamp(reset, timezone.utc).replace(tzinfo=None)
        triggers = Trigger.search([("cron_id", "=", cron.id)])
        self.assertTrue(triggers, "the push must come back at the reset by itself")
        late = max(triggers.mapped("call_at"))
        self.assertLess(abs((late - expected).total_seconds()), 120, (late, expected))


@tagged("post_install", "-at_install")
class TestAsperionRunStoppedOn429(AsperionCommon):
    def test_the_push_comes_back_at_the_retry_time(self):
        """Asperion asks for 10 minutes (Retry-After): the run stops and triggers the
        push cron at that time, instead of waiting for a later tick."""
        move = self.invoice()
        self.backend._push_partner(self.backend._client(), self.partner_a)
        self.control("POST", "/asperion/config", {"retry_after": 600})
        self.addCleanup(self.control, "POST", "/asperion/config", {"retry_after": 1})
        cron = self.backend.sudo().push_cron_ids
        Trigger = self.env["ir.cron.trigger"]
        Trigger.search([("cron_id", "=", cron.id)]).unlink()
        self.faults(throttle_next=1)
        before = fields.Datetime.now()
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "to_send")
        self.assertFalse(move.bookkeeping_remote_id)
        calls_at = Trigger.search([("cron_id", "=", cron.id)]).mapped("call_at")
        self.assertTrue(calls_at, "the push must come back by itself")
        seconds = (max(calls_at) - before).total_seconds()
        self.assertGreater(seconds, 540, calls_at)
        self.assertLess(seconds, 720, calls_at)
