"""Linking a company to an Exact division, the lists, the connection test and customers."""

from odoo.tests import tagged

from .common_exact import ExactCommon


@tagged("post_install", "-at_install")
class TestExactLink(ExactCommon):
    def test_base_url_follows_location(self):
        backend = self.env["bookkeeping.backend"].new({"service": "exact", "exact_location": "be"})
        self.assertEqual(backend.exact_base_url, "https://start.exactonline.be")
        backend.exact_location = "co.uk"
        self.assertEqual(backend.exact_base_url, "https://start.exactonline.co.uk")

    def test_form_has_exact_page(self):
        arch = self.env["bookkeeping.backend"].get_view(view_type="form")["arch"]
        for field in (
            "exact_location",
            "exact_division_id",
            "exact_journal_id",
            "exact_item_id",
            "exact_print_invoices",
        ):
            self.assertIn(f'name="{field}"', arch)

    def test_link_loads_divisions_and_lists(self):
        self.assertEqual(self.backend.administration_code, "1001")
        self.assertEqual(self.backend.administration_name, "Sandbox BV")
        divisions = self.backend.option_ids.filtered(lambda o: o.kind == "administration")
        self.assertIn("1002", divisions.mapped("code"))
        kinds = set(self.backend.option_ids.mapped("kind"))
        self.assertLessEqual(
            {"vat_code", "journal", "gl_account", "item", "payment_condition", "currency"}, kinds
        )
        # Only sales journals are offered; 70 was preselected.
        self.assertEqual(self.backend.exact_journal_id.code, "70")
        self.assertEqual(self.option("vat_code", "2").percentage, 21.0)
        self.assertTrue(self.option("gl_account", "8000").extra["ID"])
        # A purchase VAT code is not offered for sales.
        self.assertFalse(self.option("vat_code", "12"))

    def test_chosen_division_is_kept(self):
        """Switching company in the Exact web site must not move our invoices."""
        self.backend.exact_division_id = self.option("administration", "1002")
        self.assertEqual(self.backend.administration_code, "1002")
        self.backend.action_load_options()
        self.assertEqual(self.backend.administration_code, "1002")
        self.backend.attach_pdf = False
        move = self.invoice([(10.0, 1.0)])
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        state = self.control("GET", "/state/exact")
        self.assertTrue(
            [r for r in state.get("1002/salesentry/SalesEntries", []) if r["YourRef"] == move.name]
        )
        self.assertFalse(self.remote_rows("salesentry/SalesEntries", YourRef=move.name))

    def test_test_connection(self):
        action = self.backend.action_test_connection()
        message = action["params"]["message"]
        self.assertIn("1001", message)
        self.assertIn("left today", message)
        self.assertNotIn("?", message.split("user ")[1].split(".")[0])

    def test_push_partner_create_then_update(self):
        partner = self.env["res.partner"].create(
            {
                "name": "Bakkerij Brood BV",
                "email": "info@brood.example",
                "vat": "NL000011112B01",
                "company_registry": "12345678",
                "street": "Markt 3",
                "zip": "3511 AA",
                "city": "Utrecht",
                "country_id": self.nl.id,
            }
        )
        client = self.backend._client()
        remote = self.backend._push_partner(client, partner)
        account = self.remote_rows("crm/Accounts", ID=remote["remote_id"])[0]
        self.assertEqual(account["Name"], "Bakkerij Brood BV")
        self.assertEqual(account["ChamberOfCommerce"], "12345678")
        self.assertEqual(account["Country"].strip(), "NL")
        self.assertEqual(account["Status"], "C")
        self.assertEqual(self.backend._partner_remote_id(partner), remote["remote_id"])
        code = self.backend._partner_link(partner).remote_code
        self.assertTrue(code)
        self.assertEqual(code, code.strip())
        partner.city = "Amersfoort"
        self.backend.update_remote_partners = True  # off: a linked customer is left alone
        self.clear_stats()
        self.backend._push_partner(client, partner)
        self.assertEqual(self.calls(), 1, "a linked customer is updated with one PUT")
        self.assertEqual(
            self.remote_rows("crm/Accounts", ID=remote["remote_id"])[0]["City"], "Amersfoort"
        )
        self.assertEqual(len(self.remote_rows("crm/Accounts", Name="Bakkerij Brood BV")), 1)

    def test_push_partner_links_existing_account(self):
        """A customer that already exists in Exact (same VAT number) is linked, not copied."""
        partner = self.env["res.partner"].create(
            {
                "name": "Jansen Installatietechniek",
                "vat": "NL111111111B01",
                "country_id": self.nl.id,
            }
        )
        remote = self.backend._push_partner(self.backend._client(), partner)
        self.assertEqual(remote["code"].strip(), "1")
        self.assertEqual(self.backend._partner_link(partner).remote_code, "1")
        self.assertEqual(len(self.remote_rows("crm/Accounts", VATNumber="NL111111111B01")), 1)

    def test_fetch_customers(self):
        rows = self.backend._service_fetch_customers(self.backend._client())
        by_code = {row["code"]: row for row in rows}
        self.assertLessEqual({"1", "2", "3"}, set(by_code))
        self.assertEqual(by_code["2"]["country_code"], "BE")
        self.assertEqual(by_code["1"]["vat"], "NL111111111B01")
        self.assertEqual(self.backend._service_partner_match_keys()[0], "vat")
        requests_made = " ".join(self.stats()["requests"])
        self.assertIn("crm/Accounts", requests_made)
