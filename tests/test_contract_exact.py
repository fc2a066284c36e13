"""The contract suite (tests/contract_cases.py) for Exact Online."""

from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.tests.common_exact import INVOICE_DATE, ExactCommon
from odoo.addons.account_bookkeeping_link.tests.contract_cases import (
    ServiceContractCases,
    ServiceContractFixture,
)


@tagged("post_install", "-at_install")
class TestExactContract(ServiceContractFixture, ServiceContractCases, ExactCommon):
    contract_invoice_date = INVOICE_DATE
    contract_foreign_currency_modes = ("odoo", "remote")

    def contract_remote_documents(self, move):
        kind = (
            "salesentry/SalesEntries"
            if move.bookkeeping_invoice_mode == "odoo"
            or (not move.bookkeeping_invoice_mode and self.backend.invoice_mode == "odoo")
            else "salesinvoice/SalesInvoices"
        )
        return self.remote_rows(kind, YourRef=move.name)

    def contract_remote_total(self, document):
        return abs(document["AmountFC"])

    def contract_finalise_remotely(self, move):
        self.control("POST", f"/exact/salesinvoices/{move.bookkeeping_remote_id}/print")

    def contract_pay_remotely(self, move):
        self.control("POST", f"/exact/receivables/{move.bookkeeping_remote_id}/pay")

    def contract_remote_customer(self, partner):
        return [
            {"email": row.get("Email"), "city": row.get("City")}
            for row in self.remote_rows("crm/Accounts", Name=partner.name)
        ]
