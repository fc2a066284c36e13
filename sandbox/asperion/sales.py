"""Asperion's draft and final sales invoices, invoice files and outstanding items."""

import base64
import datetime as dt
import json
import uuid
from decimal import Decimal

from werkzeug.wrappers import Response

from .errors import (
    ApiError,
    FieldErrors,
    money,
)
from .query import (
    bind,
    iso,
    parse_date,
    public,
    to_int,
    to_number,
    validate_only,
)
from .schema import (
    DRAFT_FIELDS,
    DRAFT_LINE_FIELDS,
    INVOICE_FIELDS,
    INVOICE_LINE_FIELDS,
)
from .settings import (
    MAX_FILE,
    SERVICE,
)


class SalesMixin:
    """Draft sales invoices, final sales invoices, their files and the outstanding list."""

    def _r_drafts(self, ctx, res, rest, method):
        with_lines = res.endswith("withlines")
        kind = f"drafts@{ctx.adm}"
        if method == "GET" and not rest:
            items = self.store.view(SERVICE, kind)
            if not with_lines:
                items = [{k: v for k, v in d.items() if k != "lines"} for d in items]
            return self._envelope(ctx, items, res)
        if method == "POST" and not rest:
            return self._save_draft(ctx, res, None, self._body(ctx), with_lines)
        if not rest:
            return None
        draft = self._get_or_404(ctx, "drafts", rest[0], "DraftSalesInvoice")
        if len(rest) == 1:
            if method == "GET":
                return self._bare(
                    ctx,
                    res,
                    draft if with_lines else {k: v for k, v in draft.items() if k != "lines"},
                )
            if method == "PUT":
                return self._save_draft(ctx, res, draft, self._body(ctx), with_lines)
            if method == "DELETE":
                self.store.delete(SERVICE, kind, draft["id"])
                return Response(status=204)
            return None
        if len(rest) == 2 and rest[1] == "lines":
            if method == "GET":
                url = f"{ctx.base}/draftsalesinvoices/{draft['id']}/lines"
                return self._envelope(
                    ctx, draft["lines"]["_data"], res, lambda it: f"{url}/{it['id']}"
                )
            if method == "POST":
                return self._add_draft_lines(ctx, draft)
        return None

    # A21: a draft gets an id, no number
    def _save_draft(self, ctx, res, existing, body, with_lines):
        data = bind(body, DRAFT_FIELDS)
        raw_lines = data.pop("lines", None)
        draft = (
            dict(existing)
            if existing
            else {
                "id": None,
                "debtorId": None,
                "date": None,
                "description": None,
                "reference": None,
                "paymentConditionId": None,
                "paymentMethodId": None,
            }
        )
        draft.update(data)
        errors = FieldErrors()
        self._validate_draft_header(ctx, draft, errors)
        if raw_lines is None and existing:
            lines = existing["lines"]["_data"]
        else:
            lines = self._draft_lines(raw_lines, draft["date"], errors, "Lines")
            if with_lines and not lines and not existing:
                errors.add("Lines", "no_lines")
        errors.raise_if_any()
        self._set_draft_lines(draft, lines)
        if validate_only(ctx.request):
            return self._json(public(draft))
        with self._lock:
            if existing:
                self.store.update(SERVICE, f"drafts@{ctx.adm}", draft["id"], draft)
                return self._bare(ctx, res, draft)
            # drafts and finals get ids from different ranges: never assume they match
            draft["id"] = 5000 + self.store.next_seq(f"{SERVICE}.draft.id")
            self.store.insert(SERVICE, f"drafts@{ctx.adm}", draft, id=draft["id"])
        # "Creating a draft returns only an id" [C:S6]: the strict reading, no totals.
        return self._json({"id": draft["id"]}, 201)

    def _validate_draft_header(self, ctx, draft, errors):
        debtor_id = draft.get("debtorId")
        if debtor_id in (None, ""):
            errors.add("DebtorId", "required", field="DebtorId")
        elif (
            to_int(debtor_id) is None
            or self.store.get(SERVICE, f"debtors@{ctx.adm}", to_int(debtor_id)) is None
        ):
            errors.add("DebtorId", "unknown", field="DebtorId", value=debtor_id)
        else:
            draft["debtorId"] = to_int(debtor_id)
        if draft.get("date") in (None, ""):
            draft["date"] = iso(self.clock.now())[:10] + "T00:00:00"
        elif parse_date(draft["date"]) is None:
            errors.add("Date", "invalid", field="Date", value=draft["date"])
        else:
            draft["date"] = parse_date(draft["date"])
        self._check_ref(
            errors, "PaymentConditionId", "paymentconditions", draft.get("paymentConditionId")
        )
        self._check_ref(errors, "PaymentMethodId", "paymentmethod", draft.get("paymentMethodId"))

    def _draft_lines(self, raw, date, errors, prefix):
        if isinstance(raw, dict):  # {"_data": [...]} as in §4; a plain array is fine too
            raw = raw.get("_data") or raw.get("_Data") or []
        if raw is None:
            return []
        if not isinstance(raw, list):
            errors.add(prefix, "invalid", field=prefix, value=type(raw).__name__)
            return []
        return [
            self._draft_line(item, date, errors, f"{prefix}[{i}]")
            for i, item in enumerate(raw)
            if isinstance(item, dict)
        ]

    def _draft_line(self, item, date, errors, prefix):
        line = bind(item, DRAFT_LINE_FIELDS + ["vatCodeId"])
        if "vatCodeId" in line:  # alias accepted by the simulator
            alias = line.pop("vatCodeId")
            line.setdefault("vatCode", alias)
        kind = str(line.get("bookingType") or "").upper()
        line["bookingType"] = kind
        if kind not in ("A", "V", "G", "T"):
            errors.add(
                f"{prefix}.BookingType",
                "invalid" if kind else "required",
                field="BookingType",
                value=kind,
            )
            return line
        if kind == "T":
            if not line.get("description"):
                errors.add(f"{prefix}.Description", "required", field="Description")
            line.update(quantity=None, price=None, amount=0.0, vatAmount=0.0, vatCode=None)
            return line
        self._line_target(line, kind, errors, prefix)
        vat = self._check_vat(errors, f"{prefix}.VatCode", line.get("vatCode"), date)
        qty, price = to_number(line.get("quantity", 1)), to_number(line.get("price"))
        if qty is None:
            errors.add(
                f"{prefix}.Quantity", "invalid", field="Quantity", value=line.get("quantity")
            )
        if price is None:
            errors.add(f"{prefix}.Price", "required", field="Price")
        if qty is not None and price is not None:
            amount = money(Decimal(str(qty)) * Decimal(str(price)))
            line.update(quantity=qty, price=price, amount=amount)
            line["vatAmount"] = (
                money(Decimal(str(amount)) * Decimal(str(vat["percentage"])) / 100) if vat else 0.0
            )
        return line

    # A20: what each bookingType needs
    def _line_target(self, line, kind, errors, prefix):
        if kind == "A":
            sku = line.get("articleSku")
            article = self._skus.get(str(sku or "").lower())
            if not sku:
                errors.add(f"{prefix}.ArticleSku", "required", field="ArticleSku")
            elif article is None:
                errors.add(f"{prefix}.ArticleSku", "unknown", field="ArticleSku", value=sku)
            else:
                line["articleSku"] = article["sku"]
                if line.get("price") is None:
                    line["price"] = article["price"]
                if not line.get("description"):
                    line["description"] = article["description"]
        elif kind == "V":
            self._check_ref(
                errors,
                f"{prefix}.SalesTypeId",
                "salestypes",
                line.get("salesTypeId"),
                required=True,
            )
        elif kind == "G":
            self._check_ledger(errors, f"{prefix}.LedgerAccountId", line.get("ledgerAccountId"))
        if line.get("costCenterId") not in (None, ""):
            self._check_ref(errors, f"{prefix}.CostCenterId", "costcenters", line["costCenterId"])

    def _check_ledger(self, errors, field, value):
        account = self._check_ref(errors, field, "ledgeraccounts", value, required=True)
        if account is not None and account["disabled"]:
            errors.add(field, "disabled", value=value)
        return account

    def _check_vat(self, errors, field, code, date):
        """Every priced line needs a sales VAT code valid on the invoice date."""
        vat = self._check_ref(errors, field, "vatcodes", code, required=True)
        if vat is None:
            return None
        # A19: a sales VAT code
        if not vat["salesCode"]:
            errors.add(field, "not_sales", value=code)
            return None
        if vat["validUntil"] and date and date[:10] > vat["validUntil"][:10]:
            errors.add(field, "vat_expired", value=code, date=date[:10])
            return None
        return vat

    def _set_draft_lines(self, draft, lines):
        for line in lines:
            if not line.get("id"):
                line["id"] = self.store.next_seq(f"{SERVICE}.line.id")
        draft["lines"] = {"_data": lines, "_meta": {"totalCount": len(lines)}}
        excl = sum(Decimal(str(line.get("amount") or 0)) for line in lines)
        vat = sum(Decimal(str(line.get("vatAmount") or 0)) for line in lines)
        draft.update(
            amountExclVat=money(excl), vatAmount=money(vat), amountInclVat=money(excl + vat)
        )

    def _add_draft_lines(self, ctx, draft):
        try:
            raw = json.loads(ctx.request.get_data(cache=True) or b"{}")
        except ValueError:
            raw = None
        if not isinstance(raw, (dict, list)):
            raise ApiError(400, "validation", errors=[("$", "bad_body", {})])
        single = isinstance(raw, dict) and "_data" not in raw
        errors = FieldErrors()
        new = self._draft_lines([raw] if single else raw, draft["date"], errors, "Lines")
        errors.raise_if_any()
        with self._lock:
            self._set_draft_lines(draft, draft["lines"]["_data"] + new)
            self.store.update(SERVICE, f"drafts@{ctx.adm}", draft["id"], draft)
        url = f"{ctx.base}/draftsalesinvoices/{draft['id']}/lines"
        data = [self._item(line, f"{url}/{line['id']}") for line in new]
        return self._json(data[0] if single else {"_data": data}, 201)

    # final sales invoices (Odoo-numbered bookkeeping export)
    def _r_invoices(self, ctx, res, rest, method):
        with_lines = res.endswith("withlines")
        kind = f"invoices@{ctx.adm}"
        if method == "GET" and not rest:
            items = self.store.view(SERVICE, kind)
            if not with_lines:
                items = [{k: v for k, v in d.items() if k != "lines"} for d in items]
            return self._envelope(ctx, items, res)
        if method == "POST" and not rest:
            return self._create_invoice(ctx, res, self._body(ctx))
        if not rest:
            return None
        inv = self._get_or_404(ctx, "invoices", rest[0], "SalesInvoice")
        if len(rest) == 1 and method == "GET":
            return self._bare(
                ctx, res, inv if with_lines else {k: v for k, v in inv.items() if k != "lines"}
            )
        if len(rest) == 2 and rest[1] == "file" and method == "POST":
            return self._upload(ctx, inv)
        return None

    def _create_invoice(self, ctx, res, body):
        data = bind(body, INVOICE_FIELDS)
        debtor = None
        errors = FieldErrors()
        debtor_id, number = data.get("debtorId"), data.get("debtorCustomerNumber")
        for other in self.store.view(SERVICE, f"debtors@{ctx.adm}"):
            if (debtor_id not in (None, "") and str(other["id"]) == str(debtor_id)) or (
                debtor_id in (None, "") and number and other["customerNumber"] == str(number)
            ):
                debtor = other
        if debtor is None:
            field = (
                "DebtorId" if debtor_id not in (None, "") or not number else "DebtorCustomerNumber"
            )
            value = debtor_id if field == "DebtorId" else number
            errors.add(
                field,
                "unknown" if value not in (None, "") else "required",
                field=field,
                value=value,
            )
        with self._lock:
            inv = self._build_invoice(ctx.adm, data, debtor or {}, errors)
            errors.raise_if_any()
            if validate_only(ctx.request):
                return self._json(public(inv))
            inv["id"] = 1000 + self.store.next_seq(f"{SERVICE}.salesinvoice.id")
            self.store.insert(SERVICE, f"invoices@{ctx.adm}", inv, id=inv["id"])
        resp = self._bare(ctx, res, inv)
        resp.status_code = 201
        return resp

    def _invoice_header(self, adm, data, debtor, number):
        date = parse_date(data.get("date")) or iso(self.clock.now())[:10] + "T00:00:00"
        condition = self._master["paymentconditions"].get(
            str(data.get("paymentConditionId") or debtor.get("paymentConditionId") or 2)
        )
        days = condition["days"] if condition else 30
        due = (
            parse_date(data.get("paymentDueDate"))
            or (dt.date.fromisoformat(date[:10]) + dt.timedelta(days=days)).isoformat()
            + "T00:00:00"
        )
        return {
            "id": None,  # assigned by the caller once validation passed
            "invoiceNumber": number,
            "date": date,
            "description": data.get("description"),
            "reference": data.get("reference"),
            "debtorId": debtor.get("id"),
            "debtorCustomerNumber": debtor.get("customerNumber"),
            "debtorName": debtor.get("name"),
            "journalId": str(data.get("journalId") or "70"),
            "bookyear": to_int(data.get("bookyear")) or int(date[:4]),
            "bookperiod": to_int(data.get("bookperiod")) or int(date[5:7]),
            "paymentConditionId": condition["id"] if condition else None,
            "paymentDueDate": due,
            "status": 6,
            "_paid": 0.0,
        }

    def _build_invoice(self, adm, data, debtor, errors=None):
        """Validate and total an Odoo-numbered invoice (header [C:S3], lines [C:S3])."""
        errors = errors if errors is not None else FieldErrors()
        number = str(data.get("invoiceNumber") or "").strip()
        if not number:
            errors.add("InvoiceNumber", "required", field="InvoiceNumber")
        elif any(i["invoiceNumber"] == number for i in self.store.view(SERVICE, f"invoices@{adm}")):
            errors.add("InvoiceNumber", "duplicate", field="InvoiceNumber", value=number)
        if data.get("date") not in (None, "") and parse_date(data["date"]) is None:
            errors.add("Date", "invalid", field="Date", value=data["date"])
        journal = self._check_ref(errors, "JournalId", "journals", data.get("journalId") or "70")
        if journal is not None and journal["type"] != "V":
            errors.add("JournalId", "not_sales_journal", value=journal["id"])
        self._check_ref(
            errors, "PaymentConditionId", "paymentconditions", data.get("paymentConditionId")
        )
        inv = self._invoice_header(adm, data, debtor, number)
        raw = data.get("lines")
        if isinstance(raw, dict):
            raw = raw.get("_data") or []
        lines = [
            self._invoice_line(item, inv["date"], errors, f"Lines[{i}]")
            for i, item in enumerate(raw or [])
            if isinstance(item, dict)
        ]
        if not lines:
            errors.add("Lines", "no_lines")
        errors.raise_if_any()
        excl = sum(Decimal(str(line["amount"])) for line in lines)
        vat = sum(Decimal(str(line["vatAmount"])) for line in lines)
        inv.update(
            lines={"_data": lines, "_meta": {"totalCount": len(lines)}},
            amountExclVat=money(excl),
            vatAmount=money(vat),
            amountInclVat=money(excl + vat),
        )
        return inv

    def _invoice_line(self, item, date, errors, prefix):
        line = bind(item, INVOICE_LINE_FIELDS + ["vatCodeId"])
        if "vatCodeId" in line:
            line.setdefault("vatCode", line.pop("vatCodeId"))
        self._check_ledger(errors, f"{prefix}.LedgerAccountId", line.get("ledgerAccountId"))
        vat = self._check_vat(errors, f"{prefix}.VatCode", line.get("vatCode"), date)
        amount = to_number(line.get("amount"))
        if amount is None:
            errors.add(f"{prefix}.Amount", "required", field="Amount")
            amount = 0.0
        given = None if self.faults.ignore_vat_amounts else to_number(line.get("vatAmount"))
        # a given vatAmount wins (Odoo's tax to the cent); else rounded per line
        computed = (
            money(Decimal(str(amount)) * Decimal(str(vat["percentage"])) / 100) if vat else 0.0
        )
        return {
            "id": self.store.next_seq(f"{SERVICE}.line.id"),
            "description": line.get("description"),
            "amount": money(amount),
            "vatAmount": money(given) if given is not None else computed,
            "vatCode": vat["id"] if vat else line.get("vatCode"),
            "ledgerAccountId": to_int(line.get("ledgerAccountId")),
            "costCenterId": line.get("costCenterId"),
            "costUnitId": line.get("costUnitId"),
        }

    # A24: the PDF as multipart part File
    def _upload(self, ctx, inv):
        request = ctx.request
        if (request.content_length or 0) > MAX_FILE + 64 * 1024:
            raise ApiError(413, "too_large", detail="too_large_detail")
        part = next(
            (f for name, f in request.files.items(multi=True) if name.lower() == "file"), None
        )
        if part is None:
            raise ApiError(400, "validation", errors=[("File", "required", {"field": "File"})])
        content = part.read()
        if len(content) > MAX_FILE:
            raise ApiError(413, "too_large", detail="too_large_detail")
        name = part.filename or "file.pdf"
        file_id = str(uuid.uuid4())
        url = f"{ctx.base}/files/{file_id}"
        record = {
            "id": file_id,
            "name": name,
            "type": part.mimetype or "application/pdf",
            "extension": name.rsplit(".", 1)[-1].lower() if "." in name else "",
            "size": len(content),
            "createdOn": iso(self.clock.now()),
            "fileUrl": url,
            "fullImageUrl": url,
            "thumbnail1Url": None,
            "thumbnail2Url": None,
            "thumbnail3Url": None,
            "salesInvoiceId": inv["id"],
            "_content": base64.b64encode(content).decode(),
        }
        self.store.insert(SERVICE, f"files@{ctx.adm}", record, id=file_id)
        return self._json(public(record), 201)

    def _r_files(self, ctx, res, rest, method):
        if method != "GET" or len(rest) != 1:
            return None
        record = self.store.get(SERVICE, f"files@{ctx.adm}", rest[0])
        if record is None:
            raise ApiError(404, "not_found", detail="not_found_detail", resource="File", id=rest[0])
        return Response(base64.b64decode(record["_content"]), content_type=record["type"])

    # outstanding sales invoices ([I] field names)
    # A26: paid invoices leave the outstanding list
    def _r_outstanding(self, ctx, res, rest, method):
        if method != "GET" or rest:
            return None
        today = dt.datetime.fromtimestamp(self.clock.now(), dt.timezone.utc).date()
        rows = []
        for inv in self.store.view(SERVICE, f"invoices@{ctx.adm}"):
            open_amount = money(inv["amountInclVat"] - inv.get("_paid", 0.0))
            if inv["status"] == 7 or open_amount == 0:
                continue
            date = dt.date.fromisoformat(inv["date"][:10])
            due = dt.date.fromisoformat(inv["paymentDueDate"][:10])
            rows.append(
                {
                    "invoiceId": inv["id"],
                    "invoiceNumber": inv["invoiceNumber"],
                    "date": inv["date"],
                    "dueDate": inv["paymentDueDate"],
                    "amount": inv["amountInclVat"],
                    "outstandingAmount": open_amount,
                    "age": (today - date).days,
                    "daysOverdue": max(0, (today - due).days),
                    "debtorId": inv["debtorId"],
                    "debtorName": inv.get("debtorName"),
                    "debtorCustomerNumber": inv.get("debtorCustomerNumber"),
                }
            )
        return self._envelope(
            ctx, rows, res, lambda it: f"{ctx.base}/salesinvoices/{it['invoiceId']}"
        )
