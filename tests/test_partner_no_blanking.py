"""Issue 7 point 1: linking an existing remote customer never blanks its data.

A remote customer with a VAT number, a KvK number and a payment condition is matched (by
e-mail) to an Odoo contact that has none of them, linked, synced and invoiced: the remote
data stays. Only with the link's "Update existing customers from Odoo" do Odoo's values go
out, and then only the fields Odoo has a value for. Asperion's debtor PUT replaces the
whole record in the sandbox (the safe reading); Exact's account PUT keeps what it is not
sent (the fact sheet). Real HTTP to the sandbox, nothing of ours mocked.
"""

from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.tests.common_asperion import AsperionCommon
from odoo.addons.account_bookkeeping_link.tests.common_exact import ExactCommon

REMOTE_VAT = "NL100000034B01"
REMOTE_COC = "11223344"


class CustomerDataMixin:
    # The same promises for each service: Odoo collects inherited test methods only so.
    allow_inherited_tests_method = True

    def _contact(self):
        """The Odoo side: same e-mail, none of the remote's VAT/KvK/payment data."""
        return self.env["res.partner"].create(
            {
                "name": "Klaver",
                "is_company": True,
                "email": "klaver@example.nl",
                "country_id": self.nl.id,
                "customer_rank": 1,
            }
        )

    def _link_with_wizard(self, partner):
        wizard = self.env["bookkeeping.partner.sync.wizard"].create(
            {"backend_id": self.backend.id, "import_unmatched": False, "push_unmatched": False}
        )
        wizard.action_preview()
        line = wizard.line_ids.filtered(lambda ln: ln.remote_id == self.remote_id)
        self.assertEqual((line.action, line.partner_id, line.match_key), ("link", partner, "email"))
        wizard.action_apply()
        self.assertFalse(line.error)
        self.assertEqual(self.backend._partner_remote_id(partner), self.remote_id)

    def test_link_sync_and_invoice_keep_the_remote_data(self):
        partner = self._contact()
        self._link_with_wizard(partner)
        self.assertEqual(self.writes(), 0, "linking sends nothing")
        self.assertIntact()

        message = partner.action_bookkeeping_sync_partner()["params"]["message"]
        self.assertIn("Update existing customers from Odoo", message)
        self.assertEqual(self.writes(), 0, "updates are off by default")
        self.assertIntact()

        move = self.send(self.customer_invoice(partner))
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(self.invoiced_customer(move), self.remote_id)
        self.assertEqual(self.writes(), 0)
        self.assertIntact()

    def test_with_updates_on_only_the_fields_odoo_has_go_out(self):
        partner = self._contact()
        self._link_with_wizard(partner)
        self.backend.update_remote_partners = True
        partner.city = "Deventer"
        partner.action_bookkeeping_sync_partner()
        self.assertEqual(self.writes(), 1)
        remote = self.remote()
        self.assertEqual(
            (self.get(remote, "name"), self.get(remote, "city")), ("Klaver", "Deventer")
        )
        self.assertIntact(street="Kade 4")  # Odoo has no street: the remote one stays

        # An invoice re-sends the customer only after it changed in Odoo.
        self.clear_stats()
        move = self.send(self.customer_invoice(partner))
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(self.writes(), 0)
        partner.email = "boekhouding@klaver.example"
        self.clear_stats()
        move = self.send(self.customer_invoice(partner))
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(self.invoiced_customer(move), self.remote_id)
        self.assertEqual(self.writes(), 1)
        self.assertEqual(self.get(self.remote(), "email"), "boekhouding@klaver.example")
        self.assertIntact(street="Kade 4")

    def test_invoice_for_an_unlinked_contact_links_the_match_and_overwrites_nothing(self):
        """The path of the report: the invoice's customer is found by e-mail and linked."""
        partner = self._contact()
        move = self.send(self.customer_invoice(partner))
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(self.backend._partner_remote_id(partner), self.remote_id)
        self.assertEqual(self.invoiced_customer(move), self.remote_id)
        self.assertEqual(self.writes(), 0)
        self.assertEqual(self.get(self.remote(), "name"), "Klaver Installaties BV")
        self.assertIntact()


@tagged("post_install", "-at_install")
class TestAsperionCustomerData(CustomerDataMixin, AsperionCommon):
    FIELDS = {"name": "name", "city": "city", "email": "emailAddress", "street": "address"}

    def setUp(self):
        super().setUp()
        debtor = self.backend._client().create_debtor(
            {
                "name": "Klaver Installaties BV",
                "debtorKindId": "DEB",
                "emailAddress": "klaver@example.nl",
                "vatNumber": REMOTE_VAT,
                "cocNumber": REMOTE_COC,
                "paymentConditionId": 4,
                "countryCode": "NL",
                "address": "Kade 4",
                "city": "Zwolle",
            }
        )
        self.remote_id = str(debtor["id"])
        self.clear_stats()

    def remote(self):
        rows = [d for d in self.remote_state()["debtors"] if str(d["id"]) == self.remote_id]
        self.assertEqual(len(rows), 1)
        return rows[0]

    def get(self, remote, key):
        return remote[self.FIELDS[key]]

    def writes(self):
        return self.calls("PUT", "/debtors") + self.calls("POST", "/debtors")

    def assertIntact(self, street="Kade 4"):
        remote = self.remote()
        self.assertEqual(
            (
                remote["vatNumber"],
                remote["cocNumber"],
                remote["paymentConditionId"],
                remote["debtorKindId"],
                remote["countryCode"],
                remote["address"],
            ),
            (REMOTE_VAT, REMOTE_COC, 4, "DEB", "NL", street),
        )
        self.assertTrue(remote["customerNumber"])

    def customer_invoice(self, partner):
        return self.invoice(partner=partner)

    def invoiced_customer(self, move):
        return str(self.remote_invoice(move)["debtorId"])


@tagged("post_install", "-at_install")
class TestExactCustomerData(CustomerDataMixin, ExactCommon):
    FIELDS = {"name": "Name", "city": "City", "email": "Email", "street": "AddressLine1"}

    def setUp(self):
        super().setUp()
        self.backend.attach_pdf = False
        account = self.backend._client().create_account(
            {
                "Name": "Klaver Installaties BV",
                "Email": "klaver@example.nl",
                "VATNumber": REMOTE_VAT,
                "ChamberOfCommerce": REMOTE_COC,
                "PaymentConditionSales": "30",
                "Country": "NL",
                "AddressLine1": "Kade 4",
                "City": "Zwolle",
            }
        )
        self.remote_id = account["ID"]
        self.clear_stats()

    def remote(self):
        rows = self.remote_rows("crm/Accounts", ID=self.remote_id)
        self.assertEqual(len(rows), 1)
        return rows[0]

    def get(self, remote, key):
        return remote[self.FIELDS[key]]

    def writes(self):
        return sum(
            count
            for key, count in self.stats()["requests"].items()
            if key.split(" ")[0] in ("PUT", "POST") and "crm/accounts" in key.lower()
        )

    def assertIntact(self, street="Kade 4"):
        remote = self.remote()
        self.assertEqual(
            (
                remote["VATNumber"],
                remote["ChamberOfCommerce"],
                remote["PaymentConditionSales"],
                remote["Status"],
                (remote["Country"] or "").strip(),
                remote["AddressLine1"],
            ),
            (REMOTE_VAT, REMOTE_COC, "30", "C", "NL", street),
        )

    def customer_invoice(self, partner):
        return self.invoice(partner=partner)

    def invoiced_customer(self, move):
        entries = self.remote_rows("salesentry/SalesEntries", YourRef=move.name)
        self.assertEqual(len(entries), 1)
        return entries[0]["Customer"]
