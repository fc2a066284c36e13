"""Exact's accounts (customers) and items, and the references invoices use."""

from decimal import Decimal

from .entities import (
    ACCOUNT,
    ITEM,
)
from .errors import bad
from .seed import CURRENCIES
from .values import (
    iso_from_epoch,
    money,
    new_guid,
)


class RelationsMixin:
    """Accounts (customers), items and the lookups invoices refer to."""

    # -- accounts and items ----------------------------------------------------------
    ACCOUNT_WRITABLE = (
        "Name",
        "Status",
        "Blocked",
        "Email",
        "VATNumber",
        "ChamberOfCommerce",
        "AddressLine1",
        "AddressLine2",
        "AddressLine3",
        "Postcode",
        "City",
        "Country",
        "State",
        "Phone",
        "Website",
        "Language",
        "SalesVATCode",
        "PaymentConditionSales",
        "InvoicingMethod",
        "PeppolIdentifier",
        "GLAR",
        "GLAccountSales",
        "PriceList",
        "SearchCode",
    )

    def create_account(self, div, body):
        if not (body.get("Name") or "").strip():
            raise bad("Verplicht: Naam")
        row = {name: None for name in ACCOUNT}
        # [unverified] whether invoices need IsSales: it is read-only here and follows
        # Status 'C' (the default), so a client that sets Status='C' works either way
        row.update({"ID": new_guid(), "Status": "C", "Blocked": False, "Type": "A"})
        self._merge(row, body, ACCOUNT, self.ACCOUNT_WRITABLE)
        row["Code"] = self._account_code(div, body.get("Code"))
        self._normalise_account(div, row)
        return self.save(div, "crm/Accounts", row, new=True)

    def _account_code(self, div, code):
        existing = {str(r["Code"]).strip() for r in self.rows(div, "crm/Accounts")}
        if code is None or not str(code).strip():
            numbers = [int(c) for c in existing if c.isdigit()]
            # E23: 18-character padded codes, max + 1
            return str(max(numbers, default=0) + 1).rjust(18)  # new accounts get max + 1
        code = str(code).strip()
        if code in existing:
            raise bad(f"Code bestaat al: {code}")
        if len(code) > 18:
            raise bad("Code is te lang (maximaal 18 tekens).")
        return code.rjust(18) if code.isdigit() else code

    def _normalise_account(self, div, row):
        if row.get("Country"):
            country = str(row["Country"]).strip().upper()
            if len(country) != 2:
                raise bad(f"Ongeldige waarde: Land ({country})")
            row["Country"] = country.ljust(3)  # Exact answers 'NL '
        if row.get("SalesVATCode") and not self._vat_code(div, row["SalesVATCode"]):
            raise bad("Ongeldige referentie: Btw-code", 500)
        row["IsSales"] = row.get("Status") == "C"

    def update_account(self, div, row, body):
        self._merge(row, body, ACCOUNT, self.ACCOUNT_WRITABLE)
        if "Name" in body and not (body.get("Name") or "").strip():
            raise bad("Verplicht: Naam")
        self._normalise_account(div, row)
        self.save(div, "crm/Accounts", row)

    def _account_in_use(self, div, account_id):
        return any(
            r.get("OrderedBy") == account_id for r in self.rows(div, "salesinvoice/SalesInvoices")
        ) or any(r.get("Customer") == account_id for r in self.rows(div, "salesentry/SalesEntries"))

    def create_item(self, div, body):
        missing = [
            label
            for field, label in (("Code", "Code"), ("Description", "Omschrijving"))
            if not body.get(field)
        ]
        if missing:
            raise bad("\r\n".join("Verplicht: " + m for m in missing))
        if self.find(div, "logistics/Items", Code=body["Code"]):
            raise bad(f"Code bestaat al: {body['Code']}")
        row = {name: None for name in ITEM}
        row.update({"ID": new_guid(), "IsSalesItem": True, "IsStockItem": False, "Unit": "pc"})
        self._merge(
            row,
            body,
            ITEM,
            (
                "Code",
                "Description",
                "IsSalesItem",
                "IsStockItem",
                "SalesVatCode",
                "Unit",
                "GLRevenue",
                "StandardSalesPrice",
            ),
        )
        if row.get("SalesVatCode"):
            row["SalesVatCode"] = str(row["SalesVatCode"]).strip().ljust(3)
        return self.save(div, "logistics/Items", row, new=True)

    # -- references ------------------------------------------------------------------
    def _vat_code(self, div, code):
        return self.find(div, "vat/VATCodes", Code=str(code)) if code not in (None, "") else None

    # E24: journals by Code, GL accounts by GUID
    def _sales_journal(self, div, code):
        journal = self.find(div, "financial/Journals", Code=str(code)) if code else None
        if journal is None or journal["Type"] != 20:
            # a journal ID instead of its code lands here too (picqer#31)
            raise bad("Ongeldige referentie: Journals", 500)
        return journal

    def _account(self, div, guid, label):
        account = self.get(div, "crm/Accounts", guid) if guid else None
        if account is None:
            raise bad(f"Ongeldige referentie: {label}", 500)
        return account

    def _currency(self, div, code):
        code = (code or self.divisions()[div]["Currency"]).strip().upper()
        if code not in CURRENCIES:
            raise bad(f"Valuta bestaat niet: {code}")
        return code

    def _payment_days(self, div, code):
        if not code:
            return 30
        cond = self.find(div, "cashflow/PaymentConditions", Code=str(code))
        if cond is None:
            raise bad("Ongeldige referentie: Betalingsconditie", 500)
        return cond["PaymentDays"]

    def _line_vat(self, div, amount, code, vat_amount):
        """(code, percentage, VAT): VAT per line rounded to the cent unless given."""
        vat = self._vat_code(div, code)
        if vat is None:
            raise bad("Ongeldige referentie: Btw-code", 500)
        if vat["IsBlocked"]:
            raise bad(f"Btw-code {vat['Code'].strip()} is geblokkeerd.")
        pct = vat["Percentage"]
        if vat_amount is not None and vat_amount != "" and not self.faults.ignore_vat_amounts:
            return vat["Code"], pct, money(vat_amount, "Btw-bedrag")
        if vat["Type"] == "I":  # amount includes VAT: the VAT part of it
            return (
                vat["Code"],
                pct,
                money(Decimal(str(amount)) * Decimal(str(pct)) / (1 + Decimal(str(pct)))),
            )
        return vat["Code"], pct, money(Decimal(str(amount)) * Decimal(str(pct)))

    def _today(self):
        return iso_from_epoch(self.clock.now())[:10] + "T00:00:00"
