"""What every service test class shares: the sandbox in the test process, real HTTP."""

import requests

from odoo.addons.account.tests.common import AccountTestInvoicingCommon
from odoo.addons.account_bookkeeping_link.sandbox.core.server import start_in_thread


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
