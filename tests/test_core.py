"""Service-independent behaviour: security, the call log, the invoice state machine and the
OAuth state. Service flows against the sandbox are in test_exact_* and test_asperion_*."""

import json
from datetime import timedelta

import psycopg2

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.account.tests.common import AccountTestInvoicingCommon


class CoreCommon(AccountTestInvoicingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls.env["bookkeeping.backend"].create(
            {
                "name": "Exact (core tests)",
                "service": "exact",
                "company_id": cls.company_data["company"].id,
                "client_id": "sandbox-client",
                "client_secret": "sandbox-secret",
            }
        )


@tagged("post_install", "-at_install")
class TestBackendSecurity(CoreCommon):
    def test_one_active_link_per_company_and_service(self):
        with self.assertRaises(psycopg2.IntegrityError), mute_logger("odoo.sql_db"):
            with self.env.cr.savepoint():
                self.env["bookkeeping.backend"].create(
                    {
                        "name": "Second",
                        "service": "exact",
                        "company_id": self.backend.company_id.id,
                    }
                )
        # An archived link does not count.
        self.backend.active = False
        self.backend.flush_recordset()
        other = self.env["bookkeeping.backend"].create(
            {"name": "Second", "service": "exact", "company_id": self.backend.company_id.id}
        )
        self.assertTrue(other.active)

    def test_secrets_and_tokens_are_for_system_administrators_only(self):
        manager = self._user("manager", ["account_bookkeeping_link.group_bookkeeping_manager"])
        backend = self.backend.with_user(manager)
        self.assertEqual(backend.name, "Exact (core tests)")
        with self.assertRaises(AccessError):
            backend.read(["client_secret"])
        with self.assertRaises(AccessError):
            self.env["bookkeeping.token"].with_user(manager).search([])

    def test_user_of_company_a_cannot_see_or_send_for_company_b(self):
        company_b = self.setup_other_company()["company"]
        backend_b = self.env["bookkeeping.backend"].create(
            {"name": "B link", "service": "exact", "company_id": company_b.id}
        )
        user_a = self._user("user_a", ["account_bookkeeping_link.group_bookkeeping_user"])
        self.assertNotIn(company_b, user_a.company_ids)
        visible = self.env["bookkeeping.backend"].with_user(user_a).search([])
        self.assertIn(self.backend, visible)
        self.assertNotIn(backend_b, visible)
        with self.assertRaises(AccessError):
            backend_b.with_user(user_a).read(["name"])

    def test_users_cannot_configure_links(self):
        user = self._user("plain_user", ["account_bookkeeping_link.group_bookkeeping_user"])
        with self.assertRaises(AccessError):
            self.backend.with_user(user).write({"invoice_mode": "remote"})
        with self.assertRaises(UserError):
            self.backend.with_user(user).action_connect()

    def _user(self, login, groups):
        return self.env["res.users"].create(
            {
                "name": login,
                "login": login,
                "company_id": self.backend.company_id.id,
                "company_ids": [fields.Command.set(self.backend.company_id.ids)],
                "group_ids": [
                    fields.Command.set(
                        [self.env.ref(g).id for g in groups] + [self.env.ref("base.group_user").id]
                    )
                ],
            }
        )


@tagged("post_install", "-at_install")
class TestCallLog(CoreCommon):
    def test_collector_writes_one_row_per_call_and_never_a_token(self):
        collector = self.env["bookkeeping.log"]._collector(self.backend)
        collector(
            {
                "service": "exact",
                "method": "POST",
                "path": "/api/oauth2/token",
                "status": 200,
                "duration_ms": 12.5,
                "outcome": "ok",
                "message": "Authorization: Bearer AAEAAsecretaccesstoken",
                "request_excerpt": "grant_type=refresh_token&refresh_token=Gcp7!secretrefresh"
                "&client_secret=shh",
                "response_excerpt": json.dumps(
                    {"access_token": "AAEAAnewsecret", "refresh_token": "Gcp7!newrefresh"}
                ),
            }
        )
        collector.flush()
        log = self.env["bookkeeping.log"].search([("backend_id", "=", self.backend.id)])
        self.assertEqual(len(log), 1)
        stored = " ".join([log.message, log.request_excerpt, log.response_excerpt])
        for secret in (
            "AAEAAsecretaccesstoken",
            "Gcp7!secretrefresh",
            "shh",
            "AAEAAnewsecret",
            "Gcp7!newrefresh",
        ):
            self.assertNotIn(secret, stored)
        self.assertEqual(log.duration_ms, 12)

    def test_autovacuum_purges_rows_older_than_the_retention(self):
        self.backend.log_retention_days = 10
        Log = self.env["bookkeeping.log"].sudo()  # rows are written by the system only
        old = Log.create({"backend_id": self.backend.id, "method": "GET", "path": "/old"})
        new = Log.create({"backend_id": self.backend.id, "method": "GET", "path": "/new"})
        self.env.cr.execute(
            "UPDATE bookkeeping_log SET create_date = %s WHERE id = %s",
            (fields.Datetime.now() - timedelta(days=11), old.id),
        )
        Log.invalidate_model()
        Log._gc_old_logs()
        self.assertFalse(old.exists())
        self.assertTrue(new.exists())


@tagged("post_install", "-at_install")
class TestInvoiceStateMachine(CoreCommon):
    def test_post_queues_the_invoice_for_its_company_link(self):
        move = self.init_invoice("out_invoice", amounts=[100.0], post=True)
        self.assertEqual(move.bookkeeping_backend_id, self.backend)
        self.assertEqual(move.bookkeeping_state, "to_send")
        bill = self.init_invoice("in_invoice", amounts=[100.0], post=True)
        self.assertEqual(bill.bookkeeping_state, "not_applicable")

    def test_no_queue_when_send_on_post_is_off_or_before_the_start_date(self):
        self.backend.push_on_post = False
        move = self.init_invoice("out_invoice", amounts=[100.0], post=True)
        self.assertEqual(move.bookkeeping_state, "not_applicable")
        self.backend.write(
            {"push_on_post": True, "date_from": fields.Date.today() + timedelta(days=30)}
        )
        move = self.init_invoice("out_invoice", amounts=[100.0], post=True)
        self.assertEqual(move.bookkeeping_state, "not_applicable")

    def test_reset_to_draft_of_a_booked_invoice_is_refused_with_the_way_out(self):
        """Like a document sent through Peppol: once booked remotely, an invoice is
        corrected with a credit note and a new invoice, never reset (it would drift)."""
        move = self.init_invoice("out_invoice", amounts=[100.0], post=True)
        self.assertTrue(move.show_reset_to_draft_button)
        move._bookkeeping_set_result(
            {"remote_id": "guid-1", "state": "done", "remote_number": "25000001"}
        )
        move.invalidate_recordset(["show_reset_to_draft_button"])
        self.assertFalse(move.show_reset_to_draft_button)
        with self.assertRaisesRegex(UserError, "credit note") as refused:
            move.button_draft()
        self.assertIn("25000001", str(refused.exception))
        # Cancelling goes through a reset too: refused the same way.
        with self.assertRaisesRegex(UserError, "credit note"):
            move.button_cancel()
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.bookkeeping_state, "done")
        # The way out works: a credit note of the booked invoice is queued like any other.
        reversal = move._reverse_moves(cancel=True)
        self.assertEqual(reversal.move_type, "out_refund")
        self.assertEqual(reversal.bookkeeping_state, "to_send")

    def test_reset_refused_while_sending_or_when_the_outcome_is_unknown(self):
        for vals in (
            {"bookkeeping_state": "sending"},
            {"bookkeeping_state": "error", "bookkeeping_outcome_unknown": True},
            {
                "bookkeeping_state": "sent_draft",
                "bookkeeping_remote_id": "d-1",
                "bookkeeping_remote_ref": "d-1",
            },
        ):
            move = self.init_invoice("out_invoice", amounts=[100.0], post=True)
            move._bookkeeping_write(vals)
            with self.assertRaises(UserError):
                move.button_draft()
            self.assertEqual(move.state, "posted")

    def test_reset_of_an_invoice_not_sent_yet_is_allowed_and_requeued_on_post(self):
        move = self.init_invoice("out_invoice", amounts=[100.0], post=True)
        self.assertEqual(move.bookkeeping_state, "to_send")
        move.button_draft()
        self.assertEqual(move.bookkeeping_state, "not_applicable")
        move.invoice_line_ids[0].price_unit = 150.0
        move.action_post()
        self.assertEqual(move.bookkeeping_state, "to_send")

    def test_link_not_connected_keeps_invoices_waiting_with_a_reason(self):
        move = self.init_invoice("out_invoice", amounts=[100.0], post=True)
        self.env["bookkeeping.backend"]._push_moves(move)
        self.assertEqual(move.bookkeeping_state, "to_send")
        with self.assertRaisesRegex(UserError, "not connected"):
            move.action_bookkeeping_send()
        self.assertEqual(move.bookkeeping_state, "to_send")

    def test_send_button_refuses_drafts_with_a_clear_message(self):
        move = self.init_invoice("out_invoice", amounts=[100.0])
        with self.assertRaisesRegex(UserError, "Post these invoices"):
            move.action_bookkeeping_send()

    def test_list_filters_exist(self):
        view = self.env.ref(
            "account_bookkeeping_link.view_account_invoice_filter_inherit_bookkeeping"
        )
        for name in ("bookkeeping_to_send", "bookkeeping_errors", "bookkeeping_waiting"):
            self.assertIn(f'name="{name}"', view.arch)


@tagged("post_install", "-at_install")
class TestOAuthState(CoreCommon):
    def test_state_is_signed_and_bound_to_the_link(self):
        state = self.backend._oauth_state()
        Backend = self.env["bookkeeping.backend"]
        self.assertEqual(Backend._backend_from_oauth_state(state), self.backend)
        forged = json.loads(state)
        forged["id"] = self.backend.id + 1
        self.assertFalse(Backend._backend_from_oauth_state(json.dumps(forged)))
        self.assertFalse(Backend._backend_from_oauth_state("not json"))


@tagged("post_install", "-at_install")
class TestOAuthCallback(HttpCase):
    def test_callback_refuses_a_forged_state(self):
        backend = self.env["bookkeeping.backend"].create(
            {"name": "cb", "service": "exact", "company_id": self.env.company.id}
        )
        self.authenticate("admin", "admin")
        state = json.dumps({"id": backend.id, "nonce": "x", "sig": "forged"})
        response = self.url_open(
            f"/bookkeeping_link/oauth/callback?code=abc&state={state}", allow_redirects=False
        )
        self.assertEqual(response.status_code, 403)
        self.assertEqual(backend.state, "draft")

    def test_callback_needs_a_logged_in_user(self):
        response = self.url_open(
            "/bookkeeping_link/oauth/callback?code=abc&state=x", allow_redirects=False
        )
        self.assertIn(response.status_code, (302, 303))
        self.assertIn("/web/login", response.headers.get("Location", ""))
