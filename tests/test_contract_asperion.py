"""The contract suite (tests/contract_cases.py) for Asperion."""

from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.tests.common_asperion import (
    INVOICE_DATE,
    AsperionCommon,
)
from odoo.addons.account_bookkeeping_link.tests.contract_cases import (
    ServiceContractCases,
    ServiceContractFixture,
)


@tagged("post_install", "-at_install")
class TestAsperionContract(ServiceContractFixture, ServiceContractCases, AsperionCommon):
    # Asperion books in the administration's currency only.
    contract_invoice_date = INVOICE_DATE
    contract_foreign_currency_modes = ()
    contract_foreign_currency = "CHF"
    # Drafts: Asperion prices the lines and computes their VAT itself.
    contract_remote_pricing_modes = ("remote",)

    def setUp(self):
        super().setUp()
        self.finals = {}

    def contract_remote_documents(self, move):
        state = self.remote_state()
        if (move.bookkeeping_invoice_mode or self.backend.invoice_mode) == "odoo":
            return [i for i in state["salesinvoices"] if i["invoiceNumber"] == move.name]
        return [d for d in state["draftsalesinvoices"] if d["description"] == move.name]

    def contract_remote_total(self, document):
        return abs(document["amountInclVat"])

    def contract_finalise_remotely(self, move):
        final = self.control("POST", f"/asperion/drafts/{move.bookkeeping_remote_ref}/finalize")
        self.finals[move.id] = final["id"]

    def contract_pay_remotely(self, move):
        remote_id = self.finals.get(move.id) or move.bookkeeping_remote_id
        self.control("POST", f"/asperion/salesinvoices/{remote_id}/pay")

    def contract_remote_customer(self, partner):
        return [
            {"email": row.get("emailAddress"), "city": row.get("city")}
            for row in self.remote_state()["debtors"]
            if row.get("name") == partner.name
        ]
