"""The link made the way a manager makes it: Connect button, the remote login and consent
page (the sandbox's HTML form), the browser redirect to our ``auth='user'`` callback."""

from urllib.parse import parse_qs, urlsplit

import requests

from odoo.tests import HttpCase, tagged

from odoo.addons.account_bookkeeping_link.sandbox.core.server import start_in_thread


@tagged("post_install", "-at_install")
class TestOAuthFlowFromTheUi(HttpCase):
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

    def _backend(self, service, **vals):
        values = {
            "name": service,
            "service": service,
            "company_id": self.env.company.id,
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
        }
        values.update(vals)
        return self.env["bookkeeping.backend"].create(values)

    def _register(self, backend):
        """The app registration holds the link's Redirect URL (the sandbox checks it
        exactly, as Exact's App Center and Asperion's IdentityServer do)."""
        requests.post(
            f"{self.sandbox.url}/_sandbox/{backend.service}/clients",
            json={"redirect_uri": backend.redirect_uri},
            timeout=10,
        ).raise_for_status()

    def _follow_consent(self, backend, form):
        """Press Connect, post the consent form like a browser, return the redirect."""
        self._register(backend)
        action = backend.action_connect()
        self.assertEqual(action["type"], "ir.actions.act_url")
        page = requests.get(action["url"], timeout=10)
        self.assertEqual(page.status_code, 200)
        self.assertIn("<form", page.text)
        # The page's hidden fields carry the query of the authorize URL.
        hidden = {k: v[0] for k, v in parse_qs(urlsplit(action["url"]).query).items()}
        answer = requests.post(
            action["url"], data=dict(hidden, **form), allow_redirects=False, timeout=10
        )
        self.assertEqual(answer.status_code, 302)
        location = answer.headers["Location"]
        self.assertTrue(location.startswith(backend.redirect_uri), location)
        return location

    def test_exact_connect_consent_and_callback(self):
        backend = self._backend(
            "exact", exact_location="sandbox", exact_base_url=f"{self.sandbox.url}/exact"
        )
        location = self._follow_consent(backend, {"action": "allow", "division": ["1001"]})
        self.authenticate("admin", "admin")
        response = self.url_open(location, allow_redirects=False)
        self.assertIn(response.status_code, (302, 303))
        self.assertIn(f"/odoo/bookkeeping-links/{backend.id}", response.headers["Location"])
        backend.invalidate_recordset()
        self.assertEqual(backend.state, "linked")
        self.assertTrue(backend.sudo().token_ids.refresh_token)
        # The code works once: the browser's back button cannot link twice.
        again = self.url_open(location, allow_redirects=False)
        self.assertEqual(again.status_code, 200)
        self.assertIn("could not be made", again.text)

    def test_asperion_connect_consent_and_callback(self):
        backend = self._backend(
            "asperion",
            asperion_environment="sandbox",
            asperion_identity_url=f"{self.sandbox.url}/asperion/identity",
            asperion_api_url=f"{self.sandbox.url}/asperion/api",
        )
        location = self._follow_consent(
            backend, {"username": "demo@sandbox.test", "password": "sandbox", "consent": "yes"}
        )
        self.assertIn("code", parse_qs(urlsplit(location).query))
        self.authenticate("admin", "admin")
        response = self.url_open(location, allow_redirects=False)
        self.assertIn(response.status_code, (302, 303))
        backend.invalidate_recordset()
        self.assertEqual(backend.state, "linked")

    def test_refused_consent_leaves_the_link_unlinked_with_the_reason(self):
        backend = self._backend(
            "exact", exact_location="sandbox", exact_base_url=f"{self.sandbox.url}/exact"
        )
        location = self._follow_consent(backend, {"action": "deny"})
        self.authenticate("admin", "admin")
        response = self.url_open(location, allow_redirects=False)
        self.assertEqual(response.status_code, 200)
        self.assertIn("access_denied", response.text)
        backend.invalidate_recordset()
        self.assertEqual(backend.state, "draft")

    def test_exact_sandbox_location_keeps_its_base_url(self):
        """Production locations have fixed hosts; the Sandbox location takes the address
        of a test server and keeps it (and a country host is no test server)."""
        backend = self._backend("exact", exact_location="nl")
        self.assertEqual(backend.exact_base_url, "https://start.exactonline.nl")
        backend.exact_location = "sandbox"
        self.assertEqual(backend.exact_base_url, "http://localhost:8079/exact")
        backend.exact_base_url = f"{self.sandbox.url}/exact"
        backend.invalidate_recordset()
        self.assertEqual(backend.exact_base_url, f"{self.sandbox.url}/exact")
        self.assertEqual(backend._exact_host(), f"{self.sandbox.url}/exact")
        backend.exact_location = "be"
        self.assertEqual(backend.exact_base_url, "https://start.exactonline.be")
