"""Connect in a real browser (Chromium): the link form, the sandbox's own consent page and
the way back to Odoo's callback, as a manager goes through them."""

import json
import shutil
from contextlib import contextmanager
from unittest.mock import patch
from urllib.parse import urlsplit

import requests

from odoo.tests import HttpCase, tagged
from odoo.tests.common import ChromeBrowser

from odoo.addons.account_bookkeeping_link.sandbox.core.server import start_in_thread

BROWSERS = ("google-chrome", "chromium", "chromium-browser", "google-chrome-stable")

# The person at the sandbox's consent page: on that origin no Odoo tour runs, so the
# browser itself is told (DevTools: a script for every new document) to do what the user
# does there: keep division 1001 ticked and press "Toestaan" (allow). A page whose form
# is broken (it posted to a path without the /exact prefix) never gets back to Odoo.
CONSENT_USER_JS = """
(() => {
    if (location.origin !== %(origin)s) {
        return;
    }
    document.addEventListener("DOMContentLoaded", () => {
        const allow = document.querySelector("form button[value=allow]");
        const division = document.querySelector("input[name=division][value='1001']");
        if (allow && division) {
            division.checked = true;
            allow.click();
        }
    });
})();
"""


class TourCase(HttpCase):
    """A sandbox for the class; ``consenting()`` makes the browser act as the user on the
    sandbox's consent page."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = start_in_thread()
        cls.addClassCleanup(cls.sandbox.stop)

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # Odoo's test guard compares ``timeout < 10``; the clients pass (connect, read).
        if isinstance(kw.get("timeout"), tuple):
            kw["timeout"] = max(10, *(t for t in kw["timeout"] if t))
        return super()._request_handler(s, r, **kw)

    def setUp(self):
        super().setUp()
        if not any(shutil.which(name) for name in BROWSERS):
            self.skipTest("no Chromium/Chrome on this machine: the browser tour is skipped")

    def _control(self, path, body=None, method="POST"):
        response = requests.request(
            method, f"{self.sandbox.url}/_sandbox/{path}", json=body or {}, timeout=10
        )
        response.raise_for_status()
        return response.json()

    @contextmanager
    def consenting(self):
        parts = urlsplit(self.sandbox.url)
        script = CONSENT_USER_JS % {"origin": json.dumps(f"{parts.scheme}://{parts.netloc}")}
        navigate = ChromeBrowser.navigate_to

        def navigate_to(browser, url, wait_stop=False):
            browser._websocket_request(
                "Page.addScriptToEvaluateOnNewDocument", params={"source": script}
            )
            return navigate(browser, url, wait_stop=wait_stop)

        with patch.object(ChromeBrowser, "navigate_to", navigate_to):
            yield


@tagged("post_install", "-at_install")
class TestConnectTour(TourCase):
    def test_exact_connect_through_the_sandbox_consent_page(self):
        self.env.ref("base.user_admin").group_ids |= self.env.ref(
            "account_bookkeeping_link.group_bookkeeping_manager"
        )
        backend = self.env["bookkeeping.backend"].create(
            {
                "name": "Exact (tour)",
                "service": "exact",
                "company_id": self.env.company.id,
                "client_id": "sandbox-client",
                "client_secret": "sandbox-secret",
                "exact_location": "nl",
            }
        )
        sandbox_exact = f"{self.sandbox.url}/exact"
        self.env["ir.config_parameter"].sudo().set_param(
            "account_bookkeeping_link.tour_sandbox_url", sandbox_exact
        )
        self._control("exact/clients", {"redirect_uri": backend.redirect_uri})
        self._control("stats/exact/reset")
        with self.consenting():
            self.start_tour(
                f"/odoo/bookkeeping-links/{backend.id}",
                "account_bookkeeping_link_exact_connect",
                login="admin",
                timeout=120,
            )
        backend.invalidate_recordset()
        self.assertEqual(backend.state, "linked")
        self.assertEqual(backend.exact_location, "sandbox")
        self.assertEqual(backend.exact_base_url, sandbox_exact)
        self.assertEqual(backend.administration_code, "1001")
        detail = self._control("stats/exact", method="GET")["detail"]
        # The browser saw the consent page and its form posted back to it (302 + code).
        self.assertEqual(detail.get("GET /api/oauth2/auth 200"), 1, detail)
        self.assertEqual(detail.get("POST /api/oauth2/auth 302"), 1, detail)
