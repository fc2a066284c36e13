"""Visma eAccounting customers: matched by e-mail first, then number or VAT, only unique
matches linked; private person or company with its contact person; required fields checked
before any call; a default customer for anonymous B2C; remote data never blanked."""

from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.sandbox.visma import seed
from odoo.addons.account_bookkeeping_link.tests.common_visma import VismaCommon


@tagged("post_install", "-at_install")
class TestVismaCustomers(VismaCommon):
    def test_an_existing_customer_is_found_by_email_and_left_as_it_is(self):
        partner = self.env["res.partner"].create(
            {
                "name": "Zeezicht",
                "is_company": True,
                "email": "ADMIN@zeezicht.example",
                "country_id": self.nl.id,
                "zip": "2586 AA",
                "city": "Den Haag",
            }
        )
        move = self.send(self.invoice(partner=partner))
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        self.assertEqual(self.backend._partner_remote_id(partner), seed.sid("customer:1:10001"))
        self.assertEqual(self.calls("POST", "customers") + self.calls("PUT", "customers"), 0)
        remote = self.remote_doc("customers", seed.sid("customer:1:10001"))
        self.assertEqual(remote["Name"], "Hotel Zeezicht BV", "linking never changes it")
        self.assertEqual(remote["VatNumber"], "NL123456789B01")

    def test_a_company_is_created_with_its_contact_person_and_a_person_as_private(self):
        self.env["res.partner"].create(
            {
                "name": "Piet Jansen",
                "parent_id": self.partner_a.id,
                "type": "contact",
                "email": "piet@example.nl",
            }
        )
        self.send(self.invoice())
        customer = self.remote_doc("customers", self.backend._partner_remote_id(self.partner_a))
        self.assertFalse(customer["IsPrivatePerson"])
        self.assertEqual(customer["ContactPersonName"], "Piet Jansen")
        self.assertEqual(customer["TermsOfPaymentId"], seed.sid("terms:30"))
        person = self.env["res.partner"].create(
            {
                "name": "Karin de Vries",
                "country_id": self.nl.id,
                "zip": "9711 AB",
                "city": "Groningen",
                "email": "karin@example.nl",
            }
        )
        self.send(self.invoice(partner=person))
        remote = self.remote_doc("customers", self.backend._partner_remote_id(person))
        self.assertTrue(remote["IsPrivatePerson"])

    def test_required_fields_are_checked_before_any_call(self):
        partner = self.env["res.partner"].create(
            {"name": "Zonder Adres BV", "is_company": True, "country_id": self.nl.id}
        )
        move = self.send(self.invoice(partner=partner))
        self.assertEqual(move.bookkeeping_state, "error")
        self.assertIn("postal code, city", move.bookkeeping_error)
        self.assertEqual(self.api_calls(), 0)

    def test_private_persons_go_on_the_default_customer(self):
        self.backend.visma_default_customer_number = "10002"
        self.backend.action_load_options()
        self.assertEqual(self.backend.visma_default_customer_id, seed.sid("customer:1:10002"))
        person = self.env["res.partner"].create({"name": "Anoniem", "country_id": self.nl.id})
        move = self.send(self.invoice(partner=person))
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        draft = self.remote_doc("customerinvoicedrafts", move.bookkeeping_remote_id)
        self.assertEqual(draft["CustomerId"], seed.sid("customer:1:10002"))
        self.assertEqual(self.calls("POST", "customers"), 0)

    def test_update_sends_only_odoos_values_and_never_blanks(self):
        self.send(self.invoice())
        remote_id = self.backend._partner_remote_id(self.partner_a)
        self.backend.update_remote_partners = True
        # the customer was enriched in eAccounting: a note and a mobile number Odoo lacks
        client = self.backend._client()
        customer = client.customer(remote_id)
        client.update_customer(
            remote_id,
            dict(
                {k: v for k, v in customer.items() if k not in ("Id", "ChangedUtc")},
                Note="Prefers e-mail",
                MobilePhone="0612345678",
            ),
        )
        self.partner_a.write({"city": "Utrecht", "zip": "3511 AA"})
        result = self.backend._push_partner(self.backend._client(), self.partner_a)
        self.assertEqual(result["outcome"], "updated")
        after = self.remote_doc("customers", remote_id)
        self.assertEqual(after["InvoiceCity"], "Utrecht")
        self.assertEqual(after["Note"], "Prefers e-mail")
        self.assertEqual(after["MobilePhone"], "0612345678")
