"""Asperion tokens: the refresh margin follows the token's lifetime, and a token the
server expired before its ``expires_in`` is refreshed once on the 401, link kept."""

from odoo.tests import tagged

from .common_asperion import AsperionCommon

TOKEN_PATH = "POST /identity/connect/token"


@tagged("post_install", "-at_install")
class TestAsperionTokens(AsperionCommon):
    def token_calls(self):
        return self.stats()["requests"].get(TOKEN_PATH, 0)

    def test_a_30_second_token_is_not_refreshed_before_every_call(self):
        """Margin = min(60 s, half the lifetime): with 30-second tokens, three calls in a
        row use the token they have (a 60 s margin refreshed before each of them)."""
        self.control("POST", "/asperion/config", {"access_token_lifetime": 30})
        self.link()
        self.clear_stats()
        client = self.backend._client()
        for _ in range(3):
            self.assertTrue(client.vat_codes())
        self.assertEqual(self.token_calls(), 0)
        self.assertEqual(self.stats()["status"].get("401", 0), 0)

    def test_server_side_early_expiry_is_refreshed_on_the_401(self):
        move = self.invoice()
        self.faults(expire_tokens_after=60)
        self.control("POST", "/clock", {"advance": 120})  # server side only
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(self.backend.state, "linked", self.backend.state_message)
        self.assertEqual(self.token_calls(), 1)
        self.assertEqual(self.stats()["status"].get("401"), 1)
