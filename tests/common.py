"""What every service test class shares: the sandbox in the test process, real HTTP."""

import requests

from odoo.addons.account.tests.common import AccountTestInvoicingCommon
from odoo.addons.account_bookkeeping_link.clients.ratelimit import reset_registry
from odoo.addons.account_bookkeeping_link.sandbox.core.server import start_in_thread


def forget_budgets(env):
    """The sandbox starts afresh: so do the remote budgets, in this process and in the
    database (they are kept on a cursor of their own, outside the test's transaction)."""
    reset_registry()
    env["bookkeeping.rate.budget"]._forget_all()


class SandboxCase(AccountTestInvoicingCommon):
    """Starts the sandbox on a loopback port for the class; ``control()`` talks to its
    test-only API. Odoo's own request guard lets loopback calls through."""

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # Odoo's test guard compares ``timeout < 10``; the clients pass (connect, read).
        timeout = kw.get("timeout")
        if isinstance(timeout, tuple):
            kw["timeout"] = max(10, *(t for t in timeout if t))
        return super()._request_handler(s, r, **kw)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = start_in_thread()
        cls.addClassCleanup(cls.sandbox.stop)
        cls.url = cls.sandbox.url

    @classmethod
    def control(cls, method, path, body=None):
        response = requests.request(
            method, f"{cls.url}/_sandbox{path}", json=body or {}, timeout=10
        )
        response.raise_for_status()
        return response.json()

    # ------------------------------------------------------------------ one service

    # The service a test class works against: its stats, faults and fresh start.
    sandbox_service = None

    def stats(self):
        return self.control("GET", f"/stats/{self.sandbox_service}")

    def clear_stats(self):
        self.control("POST", f"/stats/{self.sandbox_service}/reset")

    def faults(self, **values):
        return self.control("POST", f"/faults/{self.sandbox_service}", values)

    def fresh_linked_start(self):
        """Odoo rolls back every test, so the remote side starts afresh too (same numbers),
        and the link is made again through the real OAuth flow."""
        self.control("POST", "/reset", {"service": self.sandbox_service})
        forget_budgets(self.env)
        self.link()
        self.assertEqual(self.backend.state, "linked")
        self.clear_stats()
