"""Exact's sales invoices (the remote numbers the invoice) and their processing."""

from decimal import Decimal

from .entities import (
    INVOICE,
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
    odata_date,
    parse_date,
)


class SalesMixin:
    """Sales invoices: create, lines, totals, printing (processing) and the sync rows."""

    # -- sales invoices ----------------------------------------------------------------
    INVOICE_WRITABLE = (
        "Journal",
        "OrderedBy",
        "InvoiceTo",
        "DeliverTo",
        "Currency",
        "Description",
        "YourRef",
        "OrderNumber",
        "OrderDate",
        "InvoiceDate",
        "DueDate",
        "PaymentCondition",
        "PaymentReference",
        "Remarks",
        "Document",
        "Salesperson",
        "Type",
    )
    INVOICE_PUT = tuple(f for f in INVOICE_WRITABLE if f not in ("Journal", "Currency"))

    def create_invoice(self, div, body):
        missing = [
            label
            for field, label in (("Journal", "Dagboek"), ("OrderedBy", "Besteld door"))
            if not body.get(field)
        ]
        lines = body.get("SalesInvoiceLines")
        if missing:
            if not body.get("InvoiceTo") and not body.get("OrderedBy"):
                missing.insert(0, "Factuur voor")
            raise bad("\r\n".join("Verplicht: " + m for m in missing))
        if lines is not None and not isinstance(lines, list):
            raise bad(
                "Error processing request stream. The request should be a valid "
                "top-level resource object."
            )
        if not lines:
            raise bad("Verplicht: Factuurregels")
        journal = self._sales_journal(div, body["Journal"])
        ordered_by = self._account(div, str(body["OrderedBy"]).lower(), "Besteld door")
        invoice_to = self._account(
            div, str(body.get("InvoiceTo") or ordered_by["ID"]).lower(), "Factuur voor"
        )
        row = {name: None for name in INVOICE if INVOICE[name] != "nav"}
        self._merge(row, body, INVOICE, self.INVOICE_WRITABLE)
        row.update(
            {
                "InvoiceID": new_guid(),
                "Journal": journal["Code"],
                "OrderedBy": ordered_by["ID"],
                "OrderedByName": ordered_by["Name"],
                "InvoiceTo": invoice_to["ID"],
                "InvoiceToName": invoice_to["Name"],
                "Currency": self._currency(div, body.get("Currency")),
                "Status": 20,
                "StatusDescription": "Open",
                "InvoiceNumber": None,
                "InvoiceDate": row["InvoiceDate"] or self._today(),
            }
        )
        row["OrderNumber"] = (
            int(body["OrderNumber"])
            if body.get("OrderNumber")
            else self.store.next_seq(f"exact:{div}:ordernumber")
        )
        days = self._payment_days(div, row["PaymentCondition"])  # checked even with a DueDate
        if not row["DueDate"]:
            row["DueDate"] = add_days(row["InvoiceDate"], days)
        built = [self._invoice_line(div, row, line, n) for n, line in enumerate(lines, 1)]
        self.save(div, "salesinvoice/SalesInvoices", row, new=True)
        for line in built:
            self.save(div, "salesinvoice/SalesInvoiceLines", line, new=True)
        return self._recompute_invoice(div, row["InvoiceID"], explicit_type=body.get("Type"))

    def _invoice_line(self, div, invoice, body, number_):
        if not isinstance(body, dict):
            raise bad(
                "Error processing request stream. The request should be a valid "
                "top-level resource object."
            )
        for name in body:
            if name not in SETS["salesinvoice/SalesInvoiceLines"].fields and name != "__metadata":
                raise bad(
                    f"Error processing request stream. The property name '{name}' "
                    f"specified for type '{MODELS}SalesInvoiceLine' is not valid."
                )
        if not body.get("Item"):
            raise bad("Verplicht: Artikel")
        item = self.get(div, "logistics/Items", str(body["Item"]).lower())
        if item is None:
            raise bad("Ongeldige referentie: Artikel", 500)
        quantity = number(body.get("Quantity"), "Aantal")
        quantity = 1.0 if quantity is None else quantity
        discount = number(body.get("Discount"), "Korting") or 0.0
        unit_price = number(body.get("UnitPrice"), "Prijs")
        unit_price = item["StandardSalesPrice"] or 0.0 if unit_price is None else unit_price
        net_price = number(body.get("NetPrice"), "Nettoprijs")
        if net_price is None:
            net_price = float(Decimal(str(unit_price)) * (1 - Decimal(str(discount))))
        amount = (
            money(body["AmountFC"])
            if body.get("AmountFC") not in (None, "")
            else money(Decimal(str(quantity)) * Decimal(str(net_price)))
        )
        code, pct, vat = self._line_vat(
            div, amount, body.get("VATCode") or item["SalesVatCode"], body.get("VATAmountFC")
        )
        rate = CURRENCIES[invoice["Currency"]]
        return {
            "ID": new_guid(),
            "InvoiceID": invoice["InvoiceID"],
            "LineNumber": number_,
            "Item": item["ID"],
            "ItemCode": item["Code"],
            "ItemDescription": item["Description"],
            "Description": body.get("Description") or item["Description"],
            "Quantity": quantity,
            "UnitPrice": unit_price,
            "NetPrice": net_price,
            "Discount": discount,
            "AmountFC": amount,
            "AmountDC": money(amount * rate),
            "VATCode": code,
            "VATPercentage": pct,
            "VATAmountFC": vat,
            "VATAmountDC": money(vat * rate),
            "GLAccount": str(body.get("GLAccount") or item["GLRevenue"]).lower(),
            "UnitCode": body.get("UnitCode") or item["Unit"],
            "DeliveryDate": parse_date(body.get("DeliveryDate")),
            "CostCenter": body.get("CostCenter"),
            "CostUnit": body.get("CostUnit"),
            **self._documented_extras(SETS["salesinvoice/SalesInvoiceLines"], body, "P"),
        }

    def _recompute_invoice(self, div, invoice_id, explicit_type=None):
        invoice = self.get(div, "salesinvoice/SalesInvoices", invoice_id)
        lines = [
            r
            for r in self.rows(div, "salesinvoice/SalesInvoiceLines")
            if r["InvoiceID"] == invoice_id
        ]
        excl = sum(Decimal(str(r["AmountFC"])) for r in lines)
        vat = sum(Decimal(str(r["VATAmountFC"])) for r in lines)
        rate = Decimal(str(CURRENCIES[invoice["Currency"]]))
        invoice.update(
            {
                "AmountFCExclVat": money(excl),
                "VATAmountFC": money(vat),
                "AmountFC": money(excl + vat),
                "AmountDC": money((excl + vat) * rate),
                "VATAmountDC": money(vat * rate),
                "AmountDiscount": 0.0,
            }
        )
        if explicit_type:
            invoice["Type"] = int(explicit_type)
        elif invoice.get("Type") not in (8023, 8024):
            invoice["Type"] = 8021 if excl + vat < 0 else 8020  # credit note when negative
        return self.save(div, "salesinvoice/SalesInvoices", invoice)

    # E31: a processed invoice cannot be changed
    def _check_open(self, invoice):
        if invoice is not None and invoice["Status"] == 50:
            raise bad("Deze factuur is verwerkt en kan niet meer worden gewijzigd.")

    def update_invoice(self, div, row, body):
        self._check_open(row)
        if "OrderedBy" in body:
            self._account(div, str(body["OrderedBy"]).lower(), "Besteld door")
        if "InvoiceTo" in body:
            self._account(div, str(body["InvoiceTo"]).lower(), "Factuur voor")
        self._merge(row, body, INVOICE, self.INVOICE_PUT)
        self.save(div, "salesinvoice/SalesInvoices", row)  # lines are not replaced by a PUT

    def create_invoice_line(self, div, body):
        invoice = self.get(
            div, "salesinvoice/SalesInvoices", str(body.get("InvoiceID") or "").lower()
        )
        if invoice is None:
            raise bad(
                "Verplicht: Factuur"
                if not body.get("InvoiceID")
                else "Ongeldige referentie: Factuur",
                400 if not body.get("InvoiceID") else 500,
            )
        self._check_open(invoice)
        count = sum(
            1
            for r in self.rows(div, "salesinvoice/SalesInvoiceLines")
            if r["InvoiceID"] == invoice["InvoiceID"]
        )
        line = self._invoice_line(
            div, invoice, {k: v for k, v in body.items() if k != "InvoiceID"}, count + 1
        )
        self.save(div, "salesinvoice/SalesInvoiceLines", line, new=True)
        self._recompute_invoice(div, invoice["InvoiceID"])
        return line

    def update_invoice_line(self, div, row, body):
        invoice = self.get(div, "salesinvoice/SalesInvoices", row["InvoiceID"])
        self._check_open(invoice)
        merged = {
            k: row.get(k)
            for k in (
                "Item",
                "Description",
                "Quantity",
                "UnitPrice",
                "Discount",
                "VATCode",
                "UnitCode",
                "CostCenter",
            )
        }
        merged.update({k: v for k, v in body.items() if k not in ("ID", "InvoiceID", "LineNumber")})
        line = self._invoice_line(div, invoice, merged, row["LineNumber"])
        line["ID"], line["Created"] = row["ID"], row.get("Created")
        self.save(div, "salesinvoice/SalesInvoiceLines", line)
        self._recompute_invoice(div, invoice["InvoiceID"])

    # -- printing: open invoice -> processed, numbered, booked ------------------------
    def create_print(self, div, body):
        invoice_id = str(body.get("InvoiceID") or "").lower()
        if not invoice_id:
            raise bad("Verplicht: Factuur")
        invoice = self.get(div, "salesinvoice/SalesInvoices", invoice_id)
        if invoice is None:
            raise bad("Ongeldige referentie: Factuur", 500)
        if body.get("InvoiceDate"):
            invoice["InvoiceDate"] = parse_date(body["InvoiceDate"], "Factuurdatum")
        self.print_invoice(div, invoice)
        return {
            "__metadata": {"type": MODELS + "PrintedSalesInvoice"},
            "InvoiceID": invoice_id,
            "Document": invoice["Document"],
            "DocumentCreationSuccess": "Document aangemaakt",
            "DocumentCreationError": None,
            "EmailCreationSuccess": None,
            "EmailCreationError": None,
            "SendEmailToCustomer": bool(body.get("SendEmailToCustomer")),
            "InvoiceDate": odata_date(invoice["InvoiceDate"]),
        }

    def print_invoice(self, div, invoice):
        """Status 20 -> 50, a never-reused InvoiceNumber, a SalesEntry and a Receivable."""
        # E31: printing processes an open invoice once
        if invoice["Status"] == 50:
            raise bad("Deze factuur is al verwerkt.")
        number_ = self._next_entry_number(div, invoice["Journal"])
        document = self.create_document(
            div, {"Subject": f"Factuur {number_}", "Type": 10, "Account": invoice["InvoiceTo"]}
        )
        lines = [
            r
            for r in self.rows(div, "salesinvoice/SalesInvoiceLines")
            if r["InvoiceID"] == invoice["InvoiceID"]
        ]
        entry = self._book_entry(
            div,
            {
                "Journal": invoice["Journal"],
                "Customer": invoice["InvoiceTo"],
                "EntryDate": invoice["InvoiceDate"],
                "EntryNumber": number_,
                "YourRef": invoice["YourRef"],
                "Description": invoice["Description"],
                "Currency": invoice["Currency"],
                "DueDate": invoice["DueDate"],
                "PaymentCondition": invoice["PaymentCondition"],
                "Document": document["ID"],
                "PaymentReference": invoice["PaymentReference"],
                "SalesEntryLines": [
                    {
                        "AmountFC": r["AmountFC"],
                        "GLAccount": r["GLAccount"],
                        "VATCode": r["VATCode"],
                        "VATAmountFC": r["VATAmountFC"],
                        "Description": r["Description"],
                        "Quantity": r["Quantity"],
                    }
                    for r in lines
                ],
            },
            numbered=True,
        )
        invoice.update(
            {
                "Status": 50,
                "StatusDescription": "Verwerkt",
                "InvoiceNumber": number_,
                "Document": invoice["Document"] or document["ID"],
                "_EntryID": entry["EntryID"],
            }
        )
        self.save(div, "salesinvoice/SalesInvoices", invoice)
        return invoice

    def _next_entry_number(self, div, journal):
        """Journal numbering, e.g. 70000001 for journal 70; a number is never handed out twice."""
        used = {
            r["EntryNumber"]
            for r in self.rows(div, "salesentry/SalesEntries")
            if r["Journal"] == journal
        }
        while True:
            candidate = int(journal) * 1000000 + self.store.next_seq(
                f"exact:{div}:journal:{journal}"
            )
            if candidate not in used:
                return candidate

    # -- sync rows ---------------------------------------------------------------------
    def _sync_invoice_rows(self, div):
        """sync/SalesInvoice/SalesInvoices mixes header rows (LineNumber 0) and line rows."""
        invoices = {r["InvoiceID"]: r for r in self.rows(div, "salesinvoice/SalesInvoices")}
        out = []
        for inv in invoices.values():
            out.append(dict(inv, ID=inv["InvoiceID"], LineNumber=0))
        for line in self.rows(div, "salesinvoice/SalesInvoiceLines"):
            header = invoices.get(line["InvoiceID"], {})
            merged = {
                k: header.get(k)
                for k in (
                    "Journal",
                    "OrderedBy",
                    "InvoiceNumber",
                    "Status",
                    "YourRef",
                    "Currency",
                    "InvoiceDate",
                )
            }
            merged.update(line)
            out.append(merged)
        return out
