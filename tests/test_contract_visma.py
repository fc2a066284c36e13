"""The contract suite (tests/contract_cases.py) for Visma eAccounting."""

from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.tests.common_visma import INVOICE_DATE, VismaCommon
from odoo.addons.account_bookkeeping_link.tests.contract_cases import (
    ServiceContractCases,
    ServiceContractFixture,
)


@tagged("post_install", "-at_install")
class TestVismaContract(ServiceContractFixture, ServiceContractCases, VismaCommon):
    # V32: a draft is in the customer's currency (a new customer gets the invoice's);
    # V38: a ledger item's voucher is in the company currency only, so Odoo's numbers
    # mode refuses a foreign invoice before any call.
    contract_invoice_date = INVOICE_DATE
    contract_foreign_currency_modes = ("remote",)
    contract_foreign_currency = "USD"
    # V33: eAccounting rounds VAT per rate on the sum of the rows, as Odoo's global
    # rounding does, and the convert carries Odoo's totals (V34): nothing to refuse.
    contract_remote_pricing_modes = ()

    def setUp(self):
        super().setUp()
        # what a convert made of a draft (the pay action needs the invoice's id)
        self.finals = {}

    def _contract_mode(self, move):
        return move.bookkeeping_invoice_mode or self.backend.invoice_mode

    def contract_remote_documents(self, move):
        if self._contract_mode(move) == "odoo":
            number = self.backend._visma_ledger_number(move)
            return [i for i in self.remote("customerledgeritems") if i["InvoiceNumber"] == number]
        drafts = [
            d for d in self.remote("customerinvoicedrafts") if d["YourReference"] == move.name
        ]
        invoices = [i for i in self.remote("customerinvoices") if i["YourReference"] == move.name]
        return drafts + invoices

    def contract_remote_total(self, document):
        # V33: drafts and invoices total including VAT; credit invoices are negative (V37)
        return abs(document.get("TotalAmountInvoiceCurrency", document.get("TotalAmount")))

    def contract_finalise_remotely(self, move):
        invoice = self.control("POST", f"/visma/drafts/{move.bookkeeping_remote_id}/convert")
        self.finals[move.id] = invoice["Id"]

    def contract_pay_remotely(self, move):
        if self._contract_mode(move) == "odoo":
            self.control("POST", f"/visma/ledgeritems/{move.bookkeeping_remote_id}/pay")
            return
        remote_id = self.finals.get(move.id) or move.bookkeeping_remote_id
        self.control("POST", f"/visma/invoices/{remote_id}/pay")

    def contract_remote_customer(self, partner):
        return [
            {"email": row.get("EmailAddress"), "city": row.get("InvoiceCity")}
            for row in self.remote("customers")
            if row.get("Name") == partner.name
        ]
