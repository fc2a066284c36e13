"""The Asperion link against the real sandbox: OAuth, administrations, tokens, access loss,
lists, debtors."""

from urllib.parse import parse_qs, urlsplit

import requests

from odoo.exceptions import UserError
from odoo.tests import Form, new_test_user, tagged

from .common_asperion import AsperionCommon


@tagged("post_install", "-at_install")
class TestAsperionLink(AsperionCommon):
    def token(self):
        return self.backend.sudo().token_ids[:1]

    # ------------------------------------------------------------------ OAuth and tenant

    def test_authorization_url(self):
        action = self.backend.action_connect()
        url = urlsplit(action["url"])
        self.assertEqual(
            f"{url.scheme}://{url.netloc}{url.path}",
            f"{self.url}/asperion/identity/connect/authorize",
        )
        query = parse_qs(url.query)
        self.assertEqual(query["client_id"], ["sandbox-client"])
        self.assertEqual(query["response_type"], ["code"])
        self.assertEqual(
            self.env["bookkeeping.backend"]._backend_from_oauth_state(query["state"][0]),
            self.backend,
        )

    def test_environment_defaults(self):
        backend = self.backend.new({"service": "asperion", "asperion_environment": "sandbox"})
        self.assertEqual(backend.asperion_api_url, "https://api-sandbox.asperion.nl")
        self.assertEqual(backend.asperion_identity_url, "https://identity-sandbox.asperion.nl")
        backend.asperion_environment = "production"
        self.assertEqual(backend.asperion_api_url, "https://api.asperion.nl")

    def test_choose_administration(self):
        self.backend.write({"administration_code": False, "administration_name": False})
        self.backend._service_after_connect()
        admins = self.backend.option_ids.filtered(lambda o: o.kind == "administration")
        self.assertEqual(sorted(admins.mapped("code")), ["101", "102"])
        self.assertFalse(self.backend.administration_code, "two choices: the manager picks")
        self.backend.asperion_administration_option_id = self.option("administration", "102")
        self.assertEqual(self.backend.administration_code, "102")
        self.assertEqual(self.backend.administration_name, "Tweede BV")
        # Every call now goes to 102, and its own answers are accepted.
        self.assertIn("Tweede BV", self.backend._service_test_connection())
        move = self.send(self.invoice())
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        state = self.control("GET", "/state/asperion")["administrations"]
        self.assertIn(move.name, [i["invoiceNumber"] for i in state["102"]["salesinvoices"]])
        self.assertNotIn(move.name, [i["invoiceNumber"] for i in state["101"]["salesinvoices"]])

    def test_administration_fixed_once_invoices_sent(self):
        self.send(self.invoice())
        with self.assertRaises(UserError):
            self.backend.asperion_administration_option_id = self.option("administration", "102")
        self.assertEqual(self.backend.administration_code, "101")

    def test_form_asperion_page_manager(self):
        user = new_test_user(
            self.env,
            "asp_manager",
            company_id=self.backend.company_id.id,
            groups="account.group_account_manager,"
            "account_bookkeeping_link.group_bookkeeping_manager",
        )
        with Form(self.backend.with_user(user)) as form:
            form.invoice_mode = "remote"
            form.asperion_line_type = "V"
            form.asperion_sales_type_id = self.option("sales_type", "3")
        self.assertEqual(self.backend.asperion_sales_type_id.code, "3")

    def test_form_asperion_page(self):
        # As administrator: the form also shows the token fields.
        with Form(self.backend) as form:
            form.invoice_mode = "remote"
            form.asperion_line_type = "A"
            form.asperion_article_id = self.option("item", "BOEK")
            form.asperion_debtor_kind_id = self.option("debtor_kind", "BUI")
        self.assertEqual(self.backend.asperion_article_id.code, "BOEK")
        self.assertEqual(self.backend.asperion_administration_option_id.code, "101")

    def test_test_connection_names_administration(self):
        action = self.backend.action_test_connection()
        self.assertIn("Demo BV", action["params"]["message"])
        self.assertIn("101", action["params"]["message"])

    def test_lists_loaded(self):
        kinds = set(self.backend.option_ids.mapped("kind"))
        self.assertLessEqual(
            {
                "administration",
                "vat_code",
                "gl_account",
                "item",
                "sales_type",
                "debtor_kind",
                "payment_condition",
                "journal",
                "country",
            },
            kinds,
        )
        vat_codes = self.backend.option_ids.filtered(lambda o: o.kind == "vat_code")
        self.assertNotIn("IH", vat_codes.mapped("code"), "purchase codes are not offered")
        self.assertEqual(self.option("vat_code", "VH").percentage, 21.0)
        self.assertFalse(self.option("vat_code", "VL6").active, "expired code archived")
        self.assertFalse(self.option("gl_account", "8900").active, "blocked account archived")
        self.assertEqual(self.backend.asperion_journal_id, self.option("journal", "70"))
        self.assertIn(
            "NL", self.backend.option_ids.filtered(lambda o: o.kind == "country").mapped("code")
        )
        # Loading the lists suggested the only 21% sales code for the 21% tax.
        mapping = self.backend.tax_mapping_ids.filtered(lambda m: m.tax_id == self.tax_21)
        self.assertEqual(mapping.candidate_ids, self.option("vat_code", "VH"))
        self.assertEqual(
            self.backend._mapped_option("tax", self.tax_21).id, self.option("vat_code", "VH").id
        )

    # ------------------------------------------------------------------ tokens

    def test_token_rotation_persisted(self):
        before = self.token().refresh_token
        # Asperion says the access token expired: the client refreshes once and stores the
        # rotated pair at once.
        self.control("POST", "/clock", {"advance": 3700})
        self.backend.action_test_connection()
        self.token().invalidate_recordset()
        after = self.token().refresh_token
        self.assertTrue(after)
        self.assertNotEqual(before, after)
        # The old refresh token is dead at Asperion: only the stored one could work.
        answer = requests.post(
            f"{self.url}/asperion/identity/connect/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": before,
                "client_id": "sandbox-client",
                "client_secret": "sandbox-secret",
            },
            timeout=10,
        )
        self.assertEqual(answer.json().get("error"), "invalid_grant")
        self.clear_stats()
        self.backend.action_test_connection()
        self.assertEqual(self.calls("POST", "/connect/token"), 0)
        self.assertEqual(self.token().refresh_token, after)

    def test_keep_alive_refresh(self):
        before = self.token().refresh_token
        self.backend._service_refresh_token()
        self.token().invalidate_recordset()
        self.assertNotEqual(self.token().refresh_token, before)
        self.assertEqual(self.backend.state, "linked")
        # The token call is in the call log, its tokens redacted.
        log = self.env["bookkeeping.log"].search(
            [("backend_id", "=", self.backend.id), ("path", "ilike", "connect/token")]
        )
        self.assertEqual(len(log), 1)
        self.assertNotIn(self.token().refresh_token, log.response_excerpt or "")

    def test_revoked_needs_reconnect(self):
        move = self.invoice()
        self.faults(revoked=True)
        self.control("POST", "/clock", {"advance": 3700})
        self.send(move)
        self.assertEqual(self.backend.state, "needs_reconnect")
        self.assertIn(move.bookkeeping_state, ("to_send", "error"))
        self.assertFalse(move.bookkeeping_remote_id)
        self.assertTrue(self.backend.activity_ids)
        # A new consent restores the link; nothing was lost.
        self.faults(revoked=False)
        self.link()
        self.assertEqual(self.backend.state, "linked")
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)

    def test_administration_access_lost(self):
        move = self.invoice()
        self.control("POST", "/asperion/config", {"revoke_administration": 101})
        self.send(move)
        self.assertEqual(self.backend.state, "error")
        self.assertIn("Demo BV", self.backend.state_message)
        self.assertFalse(move.bookkeeping_remote_id)
        self.assertNotEqual(move.bookkeeping_state, "done")

    # ------------------------------------------------------------------ debtors

    def test_push_partner_fields(self):
        partner = self.env["res.partner"].create(
            {
                "name": "Klant BV",
                "is_company": True,
                "email": "klant@example.nl",
                "vat": "NL123456789B01",
                "company_registry": "87654321",
                "street": "Markt 1",
                "zip": "1234 AB",
                "city": "Utrecht",
                "country_id": self.nl.id,
                "ref": "K777",
            }
        )
        client = self.backend._client()
        remote = self.backend._push_partner(client, partner)
        debtor = [d for d in self.remote_state()["debtors"] if str(d["id"]) == remote["remote_id"]]
        self.assertEqual(len(debtor), 1)
        debtor = debtor[0]
        self.assertEqual(
            (
                debtor["name"],
                debtor["emailAddress"],
                debtor["vatNumber"],
                debtor["cocNumber"],
                debtor["address"],
                debtor["postCode"],
                debtor["city"],
                debtor["countryCode"],
                debtor["debtorKindId"],
                debtor["customerNumber"],
            ),
            (
                "Klant BV",
                "klant@example.nl",
                "NL123456789B01",
                "87654321",
                "Markt 1",
                "1234 AB",
                "Utrecht",
                "NL",
                "DEB",
                "K777",
            ),
        )
        linked = partner.with_company(self.backend.company_id)
        self.assertEqual(self.backend._partner_remote_id(linked), remote["remote_id"])
        self.assertEqual(self.backend._partner_link(linked).remote_code, "K777")
        # With updates on, a second push updates the same debtor (read, merge, write).
        partner.city = "Amersfoort"
        self.backend.update_remote_partners = True
        self.clear_stats()
        self.backend._push_partner(client, partner)
        self.assertEqual(self.calls("PUT", "/debtors/"), 1)
        self.assertEqual(self.calls("POST", "/debtors"), 0)
        cities = [
            d["city"] for d in self.remote_state()["debtors"] if str(d["id"]) == remote["remote_id"]
        ]
        self.assertEqual(cities, ["Amersfoort"])

    def test_push_partner_links_existing_debtor(self):
        partner = self.env["res.partner"].create(
            {"name": "Acme", "vat": "NL001234567B01", "country_id": self.nl.id}
        )
        remote = self.backend._push_partner(self.backend._client(), partner)
        self.assertEqual(remote["remote_id"], "1")
        self.assertEqual(len(self.remote_state()["debtors"]), 3)

    def test_push_partner_lost_response_no_duplicate(self):
        partner = self.env["res.partner"].create(
            {"name": "Verloren BV", "email": "verloren@example.nl", "country_id": self.nl.id}
        )
        self.faults(lose_next_creates=1)
        remote = self.backend._push_partner(self.backend._client(), partner)
        mine = [
            d for d in self.remote_state()["debtors"] if d["emailAddress"] == "verloren@example.nl"
        ]
        self.assertEqual(len(mine), 1)
        self.assertEqual(remote["remote_id"], str(mine[0]["id"]))

    def test_fetch_customers_follows_pages(self):
        self.control("POST", "/asperion/config", {"max_page_size": 2})
        rows = self.backend._service_fetch_customers(self.backend._client())
        self.assertEqual(sorted(r["code"] for r in rows), ["1001", "1002", "1003"])
        self.assertEqual(self.calls("GET", "/debtors"), 2)
        acme = next(r for r in rows if r["code"] == "1001")
        self.assertEqual(
            (acme["vat"], acme["coc"], acme["email"], acme["country_code"]),
            ("NL001234567B01", "12345678", "info@acme.example", "NL"),
        )
        self.assertEqual(
            self.backend._service_partner_match_keys(), ["code", "vat", "coc", "email"]
        )
