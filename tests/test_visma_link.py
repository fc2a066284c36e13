"""Visma eAccounting link: OAuth with Basic client auth and the company chosen at login,
the CompanyIdentifier kept and a reconnect into another company refused, a company without
the API module explained, rotating refresh tokens, lists and suggestions, real HTTP."""

from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.clients import errors as client_errors
from odoo.addons.account_bookkeeping_link.sandbox.visma import seed
from odoo.addons.account_bookkeeping_link.tests.common_visma import COMPANY, VismaCommon


@tagged("post_install", "-at_install")
class TestVismaLink(VismaCommon):
    def test_link_stores_the_company_chosen_at_login(self):
        self.assertEqual(self.backend.administration_code, COMPANY)
        self.assertEqual(self.backend.administration_name, seed.COMPANIES[0]["Name"])
        self.assertIn("Bakkerij De Visser BV", self.backend._service_test_connection())
        url = self.backend._service_authorization_url("st", self.backend.redirect_uri)
        self.assertIn("scope=ea%3Aapi+offline_access+ea%3Asales+ea%3Aaccounting", url)
        self.assertTrue(url.startswith(f"{self.url}/visma/identity/connect/authorize?"))

    def test_reconnect_into_another_company_is_refused(self):
        token_before = self.backend.sudo().token_ids.access_token
        with self.assertRaisesRegex(UserError, "Studio Noord VOF.*Bakkerij De Visser BV"):
            self.link(seed.COMPANY_IDS[1])
        self.assertEqual(self.backend.administration_code, COMPANY)
        self.assertEqual(self.backend.sudo().token_ids.access_token, token_before)

    def test_company_without_api_module_is_explained(self):
        fresh = self.backend.copy({"name": "Second", "active": False})
        fresh.write({"client_id": "sandbox-client", "client_secret": "sandbox-secret"})
        self.control("POST", "/visma/clients", {"redirect_uri": fresh.redirect_uri})
        code = self.control(
            "POST",
            "/visma/consent",
            {
                "client_id": "sandbox-client",
                "redirect_uri": fresh.redirect_uri,
                "state": fresh._oauth_state(),
                "company": seed.COMPANY_IDS[2],
            },
        )["code"]
        with self.assertRaisesRegex(client_errors.AccessDenied, "api_standard.*Apps"):
            fresh._finish_oauth(code)
        self.assertFalse(fresh.administration_code)
        self.assertFalse(fresh.sudo().token_ids)

    def test_lists_are_loaded_and_mappings_suggested_by_rate(self):
        kinds = set(self.backend.option_ids.mapped("kind"))
        self.assertLessEqual(
            {
                "vat_code",
                "payment_condition",
                "article_coding",
                "unit",
                "gl_account",
                "fiscal_year",
                "currency",
                "item",
            },
            kinds,
        )
        mapping = self.tax_mapping(self.tax_9)
        mapping.write({"visma_coding_id": False})
        self.backend._suggest_tax_mappings()
        self.assertEqual(mapping.visma_coding_id.code, seed.sid("coding:9"))
        tax_0 = self.env["account.tax"].create(
            {
                "name": "0% (test)",
                "amount": 0,
                "type_tax_use": "sale",
                "company_id": self.backend.company_id.id,
            }
        )
        self.backend._suggest_tax_mappings()
        zero = self.tax_mapping(tax_0)
        self.assertFalse(zero.option_id, "three 0% VAT codes: the manager chooses")
        self.assertTrue(zero.needs_choice)
        self.assertEqual(zero.visma_coding_id.code, seed.sid("coding:0"))
        # a GUID says nothing on a form: the name and the rate do
        self.assertEqual(mapping.option_id.display_name, "VL BTW laag 9% (9%)")

    def test_refresh_tokens_rotate_and_a_revoked_grant_needs_reconnect(self):
        token = self.backend.sudo().token_ids
        first = token.refresh_token
        self.backend._service_refresh_token()
        token.invalidate_recordset()
        self.assertNotEqual(token.refresh_token, first)
        self.faults(revoked=True)
        self.control("POST", "/clock", {"advance": 4000})
        move = self.invoice()
        self.send(move)
        self.assertEqual(self.backend.state, "needs_reconnect")
        self.assertEqual(move.bookkeeping_state, "to_send", "nothing lost")
        self.faults(revoked=False)
        self.link()
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "sent_draft")

    def test_an_access_token_that_dies_early_is_renewed(self):
        self.faults(expire_tokens_after=1)
        self.control("POST", "/clock", {"advance": 5})
        move = self.send(self.invoice())
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        self.assertEqual(self.backend.state, "linked")
