"""Exact tokens: the 570 s rule, rotation, dead links, and two real database cursors that
refresh at the same moment without losing the link."""

import time

import requests

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged

from .common_exact import ExactCommon

TOKEN_PATH = "POST /api/oauth2/token"


@tagged("post_install", "-at_install")
class TestExactTokens(ExactCommon):
    def stored_token(self, backend=None):
        backend = backend or self.backend
        return (
            self.env["bookkeeping.token"]
            .sudo()
            .search([("backend_id", "=", backend.id)])
            ._as_dict()
        )

    def age_token(self, seconds_old, seconds_left, backend=None, cr=None):
        """Make our stored token look ``seconds_old`` old with ``seconds_left`` to live."""
        backend = backend or self.backend
        token = self.stored_token(backend)
        now = time.time()
        token.update(obtained_at=now - seconds_old, expires_at=now + seconds_left)
        self.env["bookkeeping.token"].sudo()._store(backend.id, token, cr or self.env.cr)

    def token_calls(self):
        return self.stats()["requests"].get(TOKEN_PATH, 0)

    def test_no_refresh_before_570_seconds(self):
        # In the refresh margin, but only 300 s old: Exact would refuse, so we do not ask.
        self.age_token(300, 10)
        before = self.stored_token()
        client = self.backend._client()
        client.journals(type=20)
        self.assertEqual(self.token_calls(), 0)
        self.assertEqual(self.stored_token()["refresh_token"], before["refresh_token"])
        # 580 s old and about to expire: exactly one refresh, the pair rotates.
        self.control("POST", "/clock", {"advance": 600})
        self.age_token(580, 10)
        client = self.backend._client()
        client.journals(type=20)
        client.journals(type=20)
        self.assertEqual(self.token_calls(), 1)
        after = self.stored_token()
        self.assertNotEqual(after["refresh_token"], before["refresh_token"])
        self.assertNotEqual(after["access_token"], before["access_token"])

    def test_keep_alive_refresh(self):
        before = self.stored_token()
        self.backend._service_refresh_token()  # too young: nothing happens
        self.assertEqual(self.token_calls(), 0)
        self.control("POST", "/clock", {"advance": 600})
        self.age_token(600, 0)
        self.backend._service_refresh_token()
        self.assertEqual(self.token_calls(), 1)
        self.assertNotEqual(self.stored_token()["refresh_token"], before["refresh_token"])
        self.assertEqual(self.backend.state, "linked")

    def test_old_refresh_token_used_needs_reconnect(self):
        self.backend.attach_pdf = False
        move = self.invoice([(10.0, 1.0)])
        stolen = self.stored_token()["refresh_token"]
        self.control("POST", "/clock", {"advance": 600})
        # Someone else (a copied database) uses our refresh token first.
        answer = requests.post(
            f"{self.url}/exact/api/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": stolen,
                "client_id": "sandbox-client",
                "client_secret": "sandbox-secret",
            },
            timeout=10,
        )
        self.assertEqual(answer.status_code, 200)
        self.age_token(600, 0)
        self.send(move)
        self.assertEqual(self.backend.state, "needs_reconnect")
        self.assertEqual(move.bookkeeping_state, "to_send")
        activity_type = self.env.ref("account_bookkeeping_link.mail_activity_reconnect")
        self.assertIn(activity_type, self.backend.activity_ids.activity_type_id)
        self.assertFalse(self.remote_rows("salesentry/SalesEntries", YourRef=move.name))

    def test_server_side_early_expiry_keeps_the_link(self):
        """Exact refuses our token long before the expires_in it announced. Locally the
        token is young (too young to refresh), yet only the server's answer counts: we ask
        it, it says "too early", so the token is kept and the invoice waits; once the
        server allows it the refresh works. The link never asks for a reconnect."""
        self.backend.attach_pdf = False
        move = self.invoice([(10.0, 1.0)])
        self.faults(expire_tokens_after=300)
        self.control("POST", "/clock", {"advance": 400})  # server side only
        self.send(move)
        self.assertEqual(self.backend.state, "linked", self.backend.state_message)
        self.assertFalse(self.backend.activity_ids)
        self.assertTrue(move.bookkeeping_error_retryable, move.bookkeeping_error)
        self.assertIn("too early", move.bookkeeping_error)
        self.assertEqual(self.token_calls(), 1)
        self.control("POST", "/clock", {"advance": 200})  # 600 s: a refresh is allowed
        before = self.stored_token()
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(self.backend.state, "linked")
        self.assertNotEqual(self.stored_token()["refresh_token"], before["refresh_token"])
        self.assertEqual(len(self.remote_rows("salesentry/SalesEntries", YourRef=move.name)), 1)

    def test_revoked_grant_needs_reconnect_saying_so(self):
        """A revoked grant is a dead link: reconnect, with the server's reason, and not
        "refused a freshly issued access token" (the token here is young)."""
        self.backend.attach_pdf = False
        move = self.invoice([(10.0, 1.0)])
        self.faults(revoked=True)
        self.send(move)
        self.assertEqual(self.backend.state, "needs_reconnect")
        self.assertIn("revoked", self.backend.state_message)
        self.assertIn("invalid_grant", self.backend.state_message)
        self.assertNotIn("freshly issued", self.backend.state_message)
        self.assertEqual(self.token_calls(), 1)
        self.assertEqual(move.bookkeeping_state, "to_send")
        activity_type = self.env.ref("account_bookkeeping_link.mail_activity_reconnect")
        self.assertIn(activity_type, self.backend.activity_ids.activity_type_id)

    def test_two_cursors_refresh_at_once(self):
        """Two workers, each with its own database cursor, need a refresh at the same
        moment: one rotates the pair, the other waits on the row lock, re-reads and uses
        the new token. Both end on the same valid token; the link survives."""
        registry = self.registry
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            backend = env["bookkeeping.backend"].create(
                {
                    "name": "Exact concurrency (test, removed afterwards)",
                    "service": "exact",
                    "company_id": env.ref("base.main_company").id,
                    "client_id": "sandbox-client",
                    "client_secret": "sandbox-secret",
                    "exact_base_url": f"{self.url}/exact",
                    "administration_code": "1001",
                    "state": "linked",
                }
            )
            backend_id = backend.id
            answer = self.control(
                "POST",
                "/exact/consent",
                {"client_id": "sandbox-client", "redirect_uri": backend.redirect_uri, "state": "x"},
            )
            token = backend._service_exchange_code(answer["code"], backend.redirect_uri)
            now = time.time()
            token.update(obtained_at=now - 600, expires_at=now + 5)
            backend._save_tokens_here(token)
        self.addCleanup(self._drop_backend, backend_id)
        self.control("POST", "/clock", {"advance": 600})
        self.clear_stats()

        def call(env, barrier):
            client = env["bookkeeping.backend"].browse(backend_id)._service_make_client()
            barrier.wait(10)
            client.journals(type=20)
            return client.oauth.token_store.read()["access_token"]

        # Outside a test transaction the token store commits each rotation on its own
        # cursor at once; these cursors are real ones, so take that production path.
        results, errors = self.run_two_workers(
            call, type(self.env["bookkeeping.token"]), "_can_side_commit"
        )
        self.assertFalse(errors, errors)
        self.assertEqual(self.token_calls(), 1, "one rotation for two workers")
        self.assertEqual(results[0], results[1])
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            stored = env["bookkeeping.token"].search([("backend_id", "=", backend_id)])
            self.assertEqual(stored.access_token, results[0])
            # The stored pair still works, and its refresh token is the live one.
            client = env["bookkeeping.backend"].browse(backend_id)._service_make_client()
            self.assertTrue(client.journals(type=20))
        self.assertEqual(self.stats()["status"].get("401", 0), 0)

    def _drop_backend(self, backend_id):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["bookkeeping.backend"].with_context(active_test=False).browse(
                backend_id
            ).exists().unlink()
