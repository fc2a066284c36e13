"""Exact's sales entries (Odoo numbers the invoice) and receivables."""

import datetime as dt
from decimal import Decimal

from .entities import (
    ENTRY,
    RECEIVABLE,
    SETS,
)
from .errors import bad
from .seed import CURRENCIES
from .settings import (
    MODELS,
)
from .values import (
    add_days,
    money,
    new_guid,
    number,
    parse_date,
)


class EntriesMixin:
    """Sales entries (the booked journal entries) and the receivables they open."""

    # -- sales entries -----------------------------------------------------------------
    ENTRY_WRITABLE = (
        "Journal",
        "Customer",
        "EntryDate",
        "YourRef",
        "Description",
        "Currency",
        "Rate",
        "DueDate",
        "PaymentCondition",
        "PaymentReference",
        "ReportingPeriod",
        "ReportingYear",
        "Document",
        "OrderNumber",
    )
    ENTRY_PUT = (
        "YourRef",
        "Description",
        "DueDate",
        "PaymentReference",
        "Document",
        "PaymentCondition",
        "EntryDate",
    )

    def create_entry(self, div, body):
        return self._book_entry(div, body)

    def _book_entry(self, div, body, numbered=False):
        missing = [
            label
            for field, label in (("Journal", "Dagboek"), ("Customer", "Klant"))
            if not body.get(field)
        ]
        lines = body.get("SalesEntryLines")
        if lines is not None and not isinstance(lines, list):
            raise bad(
                "Error processing request stream. The request should be a valid "
                "top-level resource object."
            )
        if not lines:
            missing.append("Boekingsregels")
        if missing:
            raise bad("\r\n".join("Verplicht: " + m for m in missing))
        journal = self._sales_journal(div, body["Journal"])
        customer = self._account(div, str(body["Customer"]).lower(), "Klant")
        row = {name: None for name in ENTRY if ENTRY[name] != "nav"}
        self._merge(row, body, ENTRY, self.ENTRY_WRITABLE)
        currency = self._currency(div, body.get("Currency"))
        rate = number(body.get("Rate"), "Koers") or CURRENCIES[currency]
        if body.get("Document") and not self.get(
            div, "documents/Documents", str(body["Document"]).lower()
        ):
            raise bad("Ongeldige referentie: Document", 500)
        row.update(
            {
                "EntryID": new_guid(),
                "Journal": journal["Code"],
                "Customer": customer["ID"],
                "CustomerName": customer["Name"],
                "Currency": currency,
                "Rate": rate,
                "Status": 50,
                "EntryDate": row["EntryDate"] or self._today(),
            }
        )
        row["EntryNumber"] = self._entry_number(
            div, journal["Code"], body.get("EntryNumber"), numbered
        )
        row["InvoiceNumber"] = row["EntryNumber"]
        # Exact checks the reference whether or not a DueDate is given.
        days = self._payment_days(div, row["PaymentCondition"])
        if not row["DueDate"]:
            row["DueDate"] = add_days(row["EntryDate"], days)
        entry_date = dt.datetime.fromisoformat(row["EntryDate"])
        row["ReportingYear"] = row["ReportingYear"] or entry_date.year
        row["ReportingPeriod"] = row["ReportingPeriod"] or entry_date.month
        built = [self._entry_line(div, row, line, n) for n, line in enumerate(lines, 1)]
        self.save(div, "salesentry/SalesEntries", row, new=True)
        for line in built:
            self.save(div, "salesentry/SalesEntryLines", line, new=True)
        entry = self._recompute_entry(div, row["EntryID"])
        self._make_receivable(div, entry, built[0]["ID"])
        return entry

    def _entry_number(self, div, journal, wanted, numbered):
        if wanted in (None, ""):
            return self._next_entry_number(div, journal)
        wanted = int(wanted)
        if not numbered and any(
            r["EntryNumber"] == wanted and r["Journal"] == journal
            for r in self.rows(div, "salesentry/SalesEntries")
        ):
            # [unverified] Exact may reject or replace a duplicate: we reject (safest)
            raise bad(f"Boekstuknummer {wanted} bestaat al in dagboek {journal}.")
        return wanted

    def _entry_line(self, div, entry, body, number_):
        if not isinstance(body, dict):
            raise bad(
                "Error processing request stream. The request should be a valid "
                "top-level resource object."
            )
        for name in body:
            if name not in SETS["salesentry/SalesEntryLines"].fields and name != "__metadata":
                raise bad(
                    f"Error processing request stream. The property name '{name}' "
                    f"specified for type '{MODELS}SalesEntryLine' is not valid."
                )
        missing = [
            label
            for field, label in (("AmountFC", "Bedrag"), ("GLAccount", "Grootboekrekening"))
            if body.get(field) in (None, "")
        ]
        if missing:
            raise bad("\r\n".join("Verplicht: " + m for m in missing))
        gl = self.get(div, "financial/GLAccounts", str(body["GLAccount"]).lower())
        if gl is None:
            # E30: a validation error as HTTP 500
            raise bad("Ongeldige referentie: Grootboekrekening", 500)
        amount = money(body["AmountFC"])  # excl. VAT
        code = body.get("VATCode") or gl["VATCode"]
        if code:
            code, pct, vat = self._line_vat(div, amount, code, body.get("VATAmountFC"))
        else:
            # E32: a VATAmountFC sent replaces the computed VAT
            given = None if self.faults.ignore_vat_amounts else body.get("VATAmountFC")
            code, pct, vat = None, 0.0, money(given or 0)
        rate = Decimal(str(entry["Rate"]))
        return {
            "ID": new_guid(),
            "EntryID": entry["EntryID"],
            "LineNumber": number_,
            "AmountFC": amount,
            "AmountDC": money(Decimal(str(amount)) * rate),
            "GLAccount": gl["ID"],
            "VATCode": code,
            "VATPercentage": pct,
            "VATAmountFC": vat,
            "VATAmountDC": money(Decimal(str(vat)) * rate),
            "VATBaseAmountFC": amount,
            "Description": body.get("Description"),
            "Quantity": number(body.get("Quantity"), "Aantal"),
            "CostCenter": body.get("CostCenter"),
            "CostUnit": body.get("CostUnit"),
            "Project": body.get("Project"),
            "From": parse_date(body.get("From")),
            "To": parse_date(body.get("To")),
            "Notes": body.get("Notes"),
            **self._documented_extras(SETS["salesentry/SalesEntryLines"], body, "P"),
        }

    def _recompute_entry(self, div, entry_id):
        entry = self.get(div, "salesentry/SalesEntries", entry_id)
        lines = [
            r for r in self.rows(div, "salesentry/SalesEntryLines") if r["EntryID"] == entry_id
        ]
        excl = sum(Decimal(str(r["AmountFC"])) for r in lines)
        vat = sum(Decimal(str(r["VATAmountFC"])) for r in lines)
        # The header (line 0) is the sum of the lines, in both currencies: each line's DC
        # amount is its own AmountFC x Rate, rounded (Exact reference, SalesEntries.AmountDC).
        excl_dc = sum(Decimal(str(r["AmountDC"])) for r in lines)
        vat_dc = sum(Decimal(str(r["VATAmountDC"])) for r in lines)
        entry.update(
            {
                "AmountFC": money(excl + vat),
                "VATAmountFC": money(vat),
                "AmountDC": money(excl_dc + vat_dc),
                "VATAmountDC": money(vat_dc),
                "Type": 21 if excl + vat < 0 else 20,
            }
        )  # credit note via negative amounts
        return self.save(div, "salesentry/SalesEntries", entry)

    def update_entry(self, div, row, body):
        if body.get("Document") and not self.get(
            div, "documents/Documents", str(body["Document"]).lower()
        ):
            raise bad("Ongeldige referentie: Document", 500)
        self._merge(row, body, ENTRY, self.ENTRY_PUT)  # a header PUT never replaces lines
        self.save(div, "salesentry/SalesEntries", row)
        receivable = self.find(div, "cashflow/Receivables", TransactionEntryID=row["EntryID"])
        if receivable:
            receivable.update(
                {
                    "YourRef": row["YourRef"],
                    "Description": row["Description"],
                    "DueDate": row["DueDate"],
                }
            )
            self.save(div, "cashflow/Receivables", receivable)

    def create_entry_line(self, div, body):
        entry = self.get(div, "salesentry/SalesEntries", str(body.get("EntryID") or "").lower())
        if entry is None:
            raise bad(
                "Verplicht: Boeking"
                if not body.get("EntryID")
                else "Ongeldige referentie: Boeking",
                400 if not body.get("EntryID") else 500,
            )
        count = max(
            (
                r["LineNumber"]
                for r in self.rows(div, "salesentry/SalesEntryLines")
                if r["EntryID"] == entry["EntryID"]
            ),
            default=0,
        )
        line = self._entry_line(
            div, entry, {k: v for k, v in body.items() if k != "EntryID"}, count + 1
        )
        self.save(div, "salesentry/SalesEntryLines", line, new=True)
        self._refresh_entry_totals(div, entry["EntryID"])
        return line

    def update_entry_line(self, div, row, body):
        entry = self.get(div, "salesentry/SalesEntries", row["EntryID"])
        merged = {
            k: row.get(k) for k in ("AmountFC", "GLAccount", "VATCode", "Description", "Quantity")
        }
        merged.update({k: v for k, v in body.items() if k not in ("ID", "EntryID", "LineNumber")})
        line = self._entry_line(div, entry, merged, row["LineNumber"])
        line["ID"], line["Created"] = row["ID"], row.get("Created")
        self.save(div, "salesentry/SalesEntryLines", line)
        self._refresh_entry_totals(div, entry["EntryID"])

    def _delete_entry_line(self, div, line):
        self.remove(div, "salesentry/SalesEntryLines", line["ID"])
        if not any(
            r["EntryID"] == line["EntryID"] for r in self.rows(div, "salesentry/SalesEntryLines")
        ):
            entry = self.get(div, "salesentry/SalesEntries", line["EntryID"])
            self._delete_entry(div, entry)  # deleting the last line deletes the entry (ossobv)
        else:
            self._refresh_entry_totals(div, line["EntryID"])

    def _delete_entry(self, div, entry):
        for line in list(self.rows(div, "salesentry/SalesEntryLines")):
            if line["EntryID"] == entry["EntryID"]:
                self.remove(div, "salesentry/SalesEntryLines", line["ID"])
        receivable = self.find(div, "cashflow/Receivables", TransactionEntryID=entry["EntryID"])
        if receivable:
            self.remove(div, "cashflow/Receivables", receivable["ID"])
        self.remove(div, "salesentry/SalesEntries", entry["EntryID"])

    def _refresh_entry_totals(self, div, entry_id):
        entry = self._recompute_entry(div, entry_id)
        receivable = self.find(div, "cashflow/Receivables", TransactionEntryID=entry_id)
        if receivable:
            receivable.update({"AmountFC": entry["AmountFC"], "AmountDC": entry["AmountDC"]})
            self.save(div, "cashflow/Receivables", receivable)

    # -- receivables -----------------------------------------------------------------
    def _make_receivable(self, div, entry, line_id):
        customer = self.get(div, "crm/Accounts", entry["Customer"])
        row = {
            "ID": new_guid(),
            "Account": entry["Customer"],
            "AccountCode": customer["Code"],
            "AccountName": customer["Name"],
            "AmountDC": entry["AmountDC"],
            "AmountFC": entry["AmountFC"],
            "Currency": entry["Currency"],
            "Description": entry["Description"],
            "DueDate": entry["DueDate"],
            "EntryNumber": entry["EntryNumber"],
            "InvoiceDate": entry["EntryDate"],
            "InvoiceNumber": entry["InvoiceNumber"],
            "Journal": entry["Journal"],
            "YourRef": entry["YourRef"],
            "IsFullyPaid": False,
            "LastPaymentDate": None,
            "Status": 20,
            "TransactionEntryID": entry["EntryID"],
            "TransactionID": line_id,
            "PaymentMethod": "B",
            "PaymentReference": entry["PaymentReference"],
            "_Paid": 0.0,
            "_HID": self.store.next_seq(f"exact:{div}:hid"),
        }
        return self.save(div, "cashflow/Receivables", row, new=True)

    def update_receivable(self, div, row, body):
        self._merge(row, body, RECEIVABLE, ("PaymentMethod", "Description", "PaymentReference"))
        self.save(div, "cashflow/Receivables", row)

    # E33: paid invoices drop out of ReceivablesList
    def _receivables_list(self, div):
        journals = {j["Code"]: j for j in self.rows(div, "financial/Journals")}
        out = []
        for r in self.rows(div, "cashflow/Receivables"):
            if r["IsFullyPaid"]:
                continue  # paid invoices drop out of the list
            out.append(
                {
                    "HID": r["_HID"],
                    "AccountId": r["Account"],
                    "AccountCode": r["AccountCode"],
                    "AccountName": r["AccountName"],
                    "Amount": money(r["AmountFC"] - r["_Paid"]),
                    "CurrencyCode": r["Currency"],
                    "Description": r["Description"],
                    "DueDate": r["DueDate"],
                    "EntryNumber": r["EntryNumber"],
                    "InvoiceDate": r["InvoiceDate"],
                    "InvoiceNumber": r["InvoiceNumber"],
                    "JournalCode": r["Journal"],
                    "JournalDescription": journals.get(r["Journal"], {}).get("Description"),
                    "YourRef": r["YourRef"],
                }
            )
        return out

    def pay(self, div, receivable, amount=None):
        remaining = Decimal(str(receivable["AmountFC"])) - Decimal(str(receivable["_Paid"]))
        paid = remaining if amount is None else Decimal(str(amount))
        receivable["_Paid"] = money(Decimal(str(receivable["_Paid"])) + paid)
        receivable["LastPaymentDate"] = self._today()
        if abs(Decimal(str(receivable["_Paid"]))) >= abs(Decimal(str(receivable["AmountFC"]))):
            receivable.update({"IsFullyPaid": True, "Status": 50})  # matched
        self.save(div, "cashflow/Receivables", receivable)
        return receivable
