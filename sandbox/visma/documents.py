"""Customer invoice drafts (+ convert), customer invoices, customer ledger items with
their voucher, and attachments of the eAccounting simulator (V31-V43)."""

import base64
import binascii
import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal

from . import seed
from .errors import ApiError, FieldErrors, not_found
from .resources import bind, check_lengths, is_guid, listing, master_by_id, public

SERVICE = "visma"
CENT = Decimal("0.01")
INT32_MAX = 2**31 - 1

DRAFT_FIELDS = {
    "CustomerId": None,
    "EuThirdParty": None,
    "RotReducedInvoicingType": None,
    "IsCreditInvoice": None,
    "Rows": None,
    "YourReference": 100,
    "OurReference": 100,
    "BuyersOrderReference": 35,
    "ElectronicReference": 100,
    "SubscriptionNumber": 100,
    "ContractNumber": 100,
    "InvoiceAddress1": 50,
    "InvoiceAddress2": 50,
    "DeliveryCustomerName": 50,
    "DeliveryAddress1": 50,
    "DeliveryAddress2": 50,
    "DeliveryPostalCode": 10,
    "DeliveryCity": 50,
    "DeliveryCountryCode": 2,
    "TermsOfPaymentId": None,
    "InvoiceDate": None,
    "DueDate": None,
    "DeliveryDate": None,
    "ReplaceUnitPriceWhenZero": None,
    "UsesGreenTechnology": None,
    "IsDirectDebit": None,
    "BackgroundId": None,
    "ContributionMargin": None,
}
DRAFT_READONLY = {
    "Id",
    "CreatedUtc",
    "InvoiceCustomerName",
    "InvoicePostalCode",
    "InvoiceCity",
    "InvoiceCountryCode",
    "InvoiceCurrencyCode",
    "CustomerIsPrivatePerson",
    "ReverseChargeOnConstructionServices",
    "SalesDocumentAttachments",
    "MessageThreads",
    "Notes",
    "TotalAmount",
    "TotalVatAmount",
    "TotalRoundings",
    "TotalAmountBaseCurrency",
    "TotalVatAmountBaseCurrency",
    "CustomerNumber",
    "CustomerName",
    "IncludesVat",
    "MaxAllowedTaxReductionAmount",
}
ROW_FIELDS = {
    "LineNumber": None,
    "ArticleId": None,
    "ArticleNumber": 40,
    "Text": 2000,
    "UnitPrice": None,
    "DiscountPercentage": None,
    "Quantity": None,
    "IsTextRow": None,
    "ReversedConstructionServicesVatFree": None,
    "CostCenterItemId1": None,
    "CostCenterItemId2": None,
    "CostCenterItemId3": None,
    "UnitAbbreviation": None,
    "UnitAbbreviationEnglish": None,
    "UnitName": None,
    "ProjectId": None,
    "GreenTechnologyType": None,
}
ROW_READONLY = {
    "Id",
    "IsServiceArticle",
    "UnitId",
    "IsDiscountInFixedAmount",
    "DiscountFixedAmount",
    "VatRateId",
    "VatRate",
    "PurchasePrice",
    "FreightCosts",
    "Amount",
}
VALIDATION_FIELDS = {
    "TotalAmountInvoiceCurrency": None,
    "TotalVatAmountInvoiceCurrency": None,
    "TotalRoundingsInvoiceCurrency": None,
    "Rows": None,
}
LEDGER_FIELDS = {
    "CustomerId": None,
    "InvoiceNumber": None,
    "IsCreditInvoice": None,
    "CurrencyCode": 3,
    "TotalAmountInvoiceCurrency": None,
    "RemainingAmountInvoiceCurrency": None,
    "Voucher": None,
    "InvoiceDate": None,
    "DueDate": None,
    "CurrencyRate": None,
    "CurrencyRateUnit": None,
    "PaymentReferenceNumber": 50,
    "VATAmountInvoiceCurrency": None,
    "RoundingsAmountInvoiceCurrency": None,
}
VOUCHER_FIELDS = {
    "VoucherDate": None,
    "VoucherText": 1000,
    "Rows": None,
    "NumberSeries": None,
    "VoucherType": None,
    "Attachments": None,
}
VOUCHER_ROW_FIELDS = {
    "AccountNumber": None,
    "DebitAmount": None,
    "CreditAmount": None,
    "TransactionText": 60,
    "VatCodeId": None,
    "VatAmount": None,
    "CostCenterItemId1": None,
    "CostCenterItemId2": None,
    "CostCenterItemId3": None,
    "ProjectId": None,
    "VatCodeAndPercent": None,
}
CONTENT_TYPES = {"application/pdf", "image/jpeg", "image/tiff", "image/png"}  # V42
FILE_NAME = re.compile(r"^[A-Za-z0-9\-_() ]+(\.[A-Za-z0-9]{1,5})?$")  # V43 [I]: one dot

# V15: confirmed filters, then the plausible ones
FILTERS = {
    "customerinvoicedrafts": (
        {"Rows": {"ArticleNumber"}},
        {"Rows": {"ArticleNumber", "Text"}, "YourReference": None, "CustomerId": None},
    ),
    "customerinvoices": (
        {
            "HasAutoInvoiceError": None,
            "RemainingAmountInvoiceCurrency": None,
            "TotalAmountInvoiceCurrency": None,
            "Rows": {"Text"},
        },
        {
            "YourReference": None,
            "CreatedFromDraftId": None,
            "InvoiceNumber": None,
            "CustomerId": None,
            "ModifiedUtc": None,
            "PaymentStatus": None,
        },
    ),
    "customerledgeritems": ({}, {"InvoiceNumber": None, "CustomerId": None, "ModifiedUtc": None}),
}


def money(value):
    """Half away from zero to the cent (V33 [I])."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _decimals(value):
    text = format(Decimal(str(value)).normalize(), "f")
    return len(text.split(".")[1]) if "." in text else 0


def _date(value):
    """V18: 'YYYY-MM-DD' or with a time; returns a date or None."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _iso_day(day):
    return day.isoformat() + "T00:00:00"


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def fiscal_check(ctx, day, errors, field):
    """V39: a date must lie in an open fiscal year (3001, 4026)."""
    for year in ctx.svc.store.view(SERVICE, ctx.kind("fiscalyears")):
        if _date(year["StartDate"]) <= day <= _date(year["EndDate"]):
            if year["IsLockedForAccounting"]:
                errors.add(field, f"{day} lies in a period locked for accounting.", 4026)
            return
    errors.add(field, f"FiscalYearDoesNotExist - no fiscal year holds {day}.", 3001)


# -- drafts ----------------------------------------------------------------------------------
def _customer(ctx, customer_id):
    if not is_guid(customer_id):
        return None
    return ctx.svc.store.get(SERVICE, ctx.kind("customers"), customer_id.lower())


def _situation_rate(company, customer, coding):
    """V32: VAT comes from the coding and the customer's situation (country, VAT number)."""
    country = (customer.get("InvoiceCountryCode") or company["CountryCode"]).upper()
    if country == company["CountryCode"]:
        return Decimal(str(coding["VatRatePercent"])), coding["_vat"]
    if country in seed.EU and customer.get("VatNumber") and not customer.get("IsPrivatePerson"):
        return Decimal(0), seed.sid("vat:0eu")
    if country not in seed.EU:
        return Decimal(0), seed.sid("vat:0ex")
    return Decimal(str(coding["VatRatePercent"])), coding["_vat"]


def save_draft(ctx, body, existing):
    errors = FieldErrors()
    data = bind(body, DRAFT_FIELDS, DRAFT_READONLY, errors)
    doc = {name: None for name in DRAFT_FIELDS}
    doc.update(data)
    check_lengths(doc, DRAFT_FIELDS, errors)
    customer = _customer(ctx, doc.get("CustomerId"))
    if not doc.get("CustomerId"):
        errors.add("CustomerId", "CustomerId is required.")
    elif customer is None:
        errors.add("CustomerId", f"Customer {doc['CustomerId']} does not exist.", 3000)
    for name in ("EuThirdParty",):
        if not isinstance(doc.get(name), bool):
            errors.add(name, f"{name} is required.")
    if doc.get("RotReducedInvoicingType") not in (0, 1, 2):
        errors.add("RotReducedInvoicingType", "RotReducedInvoicingType is required (0, 1 or 2).")
    for name in ("InvoiceDate", "DueDate", "DeliveryDate"):
        if doc.get(name) is not None and _date(doc[name]) is None:
            errors.add(name, f"{name} must be a date (yyyy-mm-dd).")
    if (
        doc.get("TermsOfPaymentId")
        and master_by_id("termsofpayments", doc["TermsOfPaymentId"]) is None
    ):
        errors.add("TermsOfPaymentId", "Terms of payment do not exist.", 3000)
    if customer and customer.get("IsPrivatePerson") and doc.get("ElectronicReference"):
        errors.add(
            "ElectronicReference", "ElectronicReference cannot be used for a private person."
        )
    rows = doc.get("Rows") or []
    if not isinstance(rows, list):
        errors.add("Rows", "Rows must be a list.")
        rows = []
    doc["Rows"] = [_row(ctx, i, row, customer, errors) for i, row in enumerate(rows)]
    errors.raise_if_any()
    company = ctx.svc.company(ctx.company)
    _totals(doc, company, customer)
    doc.update(
        CustomerNumber=customer["CustomerNumber"],
        CustomerName=customer["Name"],
        InvoiceCustomerName=customer["Name"],
        InvoicePostalCode=customer.get("InvoicePostalCode"),
        InvoiceCity=customer.get("InvoiceCity"),
        InvoiceCountryCode=customer.get("InvoiceCountryCode"),
        InvoiceCurrencyCode=customer.get("CurrencyCode") or company["CurrencyCode"],  # V32
        CustomerIsPrivatePerson=customer["IsPrivatePerson"],
        IncludesVat=False,
        IsCreditInvoice=bool(doc.get("IsCreditInvoice")),
    )
    store, kind = ctx.svc.store, ctx.kind("customerinvoicedrafts")
    with ctx.svc.lock:
        if existing:
            doc["Id"], doc["CreatedUtc"] = existing["Id"], existing["CreatedUtc"]
            store.update(SERVICE, kind, doc["Id"], doc)
        else:
            doc["Id"] = seed.sid(
                f"draft:{ctx.company}:{store.next_seq('visma.draft')}:{ctx.svc.clock.now()}"
            )
            doc["CreatedUtc"] = ctx.svc.now_iso()
            store.insert(SERVICE, kind, doc, id=doc["Id"])
    return public(doc)


def _row(ctx, index, row, customer, errors):
    prefix = f"Rows[{index}]"
    if not isinstance(row, dict):
        errors.add(prefix, "A row must be an object.")
        return {}
    row_errors = FieldErrors()
    out = {name: None for name in ROW_FIELDS}
    out.update(bind(row, ROW_FIELDS, ROW_READONLY, row_errors))
    check_lengths(out, ROW_FIELDS, row_errors)
    for name in ("IsTextRow", "ReversedConstructionServicesVatFree"):  # V31
        if not isinstance(out.get(name), bool):
            row_errors.add(name, f"{name} is required.")
    out["LineNumber"] = out["LineNumber"] if out.get("LineNumber") is not None else index
    if not isinstance(out["LineNumber"], int) or not 0 <= out["LineNumber"] <= 1000:
        row_errors.add("LineNumber", "LineNumber must be 0..1000.")
    if out.get("IsTextRow"):
        if not str(out.get("Text") or ""):
            row_errors.add("Text", "A text row needs a text.")
    elif isinstance(out.get("IsTextRow"), bool):
        article = None
        if not out.get("ArticleId"):
            row_errors.add("ArticleId", "ArticleId is required on a row that is not a text row.")
        else:
            article = (
                ctx.svc.store.get(SERVICE, ctx.kind("articles"), str(out["ArticleId"]).lower())
                if is_guid(out["ArticleId"])
                else None
            )
            if article is None:
                row_errors.add("ArticleId", f"Article {out['ArticleId']} does not exist.", 3000)
        foreign = bool(customer) and (
            (customer.get("InvoiceCountryCode") or "NL") != "NL"
            or (customer.get("CurrencyCode") or "EUR") != "EUR"
        )
        _check_number(out, "UnitPrice", 4 if foreign else 2, row_errors, required=False)
        _check_number(out, "Quantity", 2, row_errors, required=False)
        _check_number(out, "DiscountPercentage", 4, row_errors, required=False)
        if (out.get("DiscountPercentage") or 0) < 0 or (out.get("DiscountPercentage") or 0) > 1:
            row_errors.add("DiscountPercentage", "DiscountPercentage is a fraction 0..1.")  # V31
        if article is not None:
            out["ArticleNumber"] = article["Number"]
            out["UnitId"] = article["UnitId"]
            out["_coding"] = article["CodingId"]
            if out.get("UnitPrice") is None:
                out["UnitPrice"] = article.get("NetPrice") or 0.0
            if out.get("Quantity") is None:
                out["Quantity"] = 1.0
            if not out.get("Text"):
                out["Text"] = article["Name"]
    for item in row_errors.items:
        errors.add(f"{prefix}.{item['Field']}", item["Message"], int(item["ErrorCode"]))
    return out


def _check_number(out, name, places, errors, required):
    value = out.get(name)
    if value is None:
        if required:
            errors.add(name, f"{name} is required.")
        return
    if _number(value) is None:
        errors.add(name, f"{name} must be a number.")
    elif _decimals(value) > places:
        errors.add(name, f"{name} can have at most {places} decimals.")  # V31


def _totals(doc, company, customer):
    """V33 [I]: row amounts to the cent, VAT per rate on the sum of its rows."""
    sign = Decimal(-1) if doc.get("IsCreditInvoice") else Decimal(1)
    by_rate = {}
    total_net = Decimal(0)
    for row in doc["Rows"]:
        if row.get("IsTextRow"):
            row["Amount"] = 0.0
            continue
        coding = master_by_id("articleaccountcodings", row.get("_coding"))
        rate, vat_id = _situation_rate(company, customer, coding)
        amount = money(
            Decimal(str(row["Quantity"]))
            * Decimal(str(row["UnitPrice"]))
            * (1 - Decimal(str(row.get("DiscountPercentage") or 0)))
        )
        row.update(Amount=float(amount * sign), VatRateId=vat_id, VatRate=float(rate))
        row["_inc"] = float(money(amount + amount * rate / 100) * sign)
        by_rate[rate] = by_rate.get(rate, Decimal(0)) + amount
        total_net += amount
    vat = sum((money(net * rate / 100) for rate, net in by_rate.items()), Decimal(0))
    fx = Decimal(str(seed.RATES.get(customer.get("CurrencyCode") or "EUR", 1.0)))
    total = (total_net + vat) * sign
    doc.update(
        TotalAmount=float(total),
        TotalVatAmount=float(vat * sign),
        TotalRoundings=0.0,
        TotalAmountBaseCurrency=float(money(total * fx)),
        TotalVatAmountBaseCurrency=float(money(vat * sign * fx)),
        _net=float(total_net * sign),
        _vat_by_rate={str(r): float(money(n * r / 100)) for r, n in by_rate.items()},
    )


def r_drafts(ctx, rest, method):
    store, kind = ctx.svc.store, ctx.kind("customerinvoicedrafts")
    if not rest:
        if method == "GET":
            return listing(
                ctx,
                store.view(SERVICE, kind),
                "customerinvoicedrafts",
                FILTERS["customerinvoicedrafts"],
            )
        if method == "POST":
            return 201, save_draft(ctx, ctx.body(), None)
        return None
    draft = store.get(SERVICE, kind, rest[0].lower())
    if draft is None:
        raise not_found("customer invoice draft", rest[0])  # V35: also after a convert
    if len(rest) == 1:
        if method == "GET":
            return 200, public(draft)
        if method == "PUT":
            return 200, save_draft(ctx, ctx.body(), draft)
        if method == "DELETE":
            store.delete(SERVICE, kind, draft["Id"])
            return 204, None
    if len(rest) == 2 and rest[1].lower() == "convert" and method == "POST":
        raw = ctx.request.get_data(cache=True)
        expected = ctx.body() if raw.strip() else {}
        keep = _flag(ctx.args.get("keepOriginalDraftDate"))
        override = _flag(ctx.args.get("overrideCompanyKeepOriginalDraftDate"))
        return 201, convert(ctx.svc, ctx.company, draft, expected, keep, override)
    return None


def _flag(value):
    return str(value or "").lower() == "true"


def convert(svc, company_id, draft, expected, keep, override):
    """V34/V35/V36: check the expected totals, book the invoice, remove the draft."""
    errors = FieldErrors()
    body = bind(expected, VALIDATION_FIELDS, set(), errors)
    _check_expected(draft, body, errors)
    errors.raise_if_any()
    # V34: the company setting wins unless the override flag says the query flag wins
    keep_date = keep if override else (svc.config["keep_original_draft_date"] or keep)
    today = svc.today()
    day = _date(draft.get("InvoiceDate"))
    if day is None or (day < today and not keep_date):
        day = today
    ctx = _CompanyCtx(svc, company_id)
    fiscal_check(ctx, day, errors, "InvoiceDate")
    errors.raise_if_any()
    customer = svc.store.get(SERVICE, ctx.kind("customers"), draft["CustomerId"]) or {}
    terms = master_by_id(
        "termsofpayments", draft.get("TermsOfPaymentId") or customer.get("TermsOfPaymentId")
    )
    due = _date(draft.get("DueDate")) or day + dt.timedelta(
        days=(terms or {}).get("NumberOfDays", 30)
    )
    with svc.lock:
        if svc.store.get(SERVICE, ctx.kind("customerinvoicedrafts"), draft["Id"]) is None:
            raise not_found("customer invoice draft", draft["Id"])
        number = svc.store.kv_get(f"visma_last_invoice:{company_id}", 1000) + 1  # V36: no gaps
        svc.store.kv_set(f"visma_last_invoice:{company_id}", number)
        now = svc.now_iso()
        invoice = {
            "Id": seed.sid(f"invoice:{company_id}:{number}:{svc.clock.now()}"),
            "InvoiceNumber": number,
            "CustomerId": draft["CustomerId"],
            "CustomerNumber": draft["CustomerNumber"],
            "CustomerName": draft["CustomerName"],
            "InvoiceCustomerName": draft["InvoiceCustomerName"],
            "CurrencyCode": draft["InvoiceCurrencyCode"],
            "IsCreditInvoice": draft["IsCreditInvoice"],
            "InvoiceDate": _iso_day(day),
            "DueDate": _iso_day(due),
            "YourReference": draft.get("YourReference"),
            "OurReference": draft.get("OurReference"),
            "EuThirdParty": draft.get("EuThirdParty"),
            "RotReducedInvoicingType": draft.get("RotReducedInvoicingType"),
            "Rows": [{k: v for k, v in r.items() if not k.startswith("_")} for r in draft["Rows"]],
            "TotalAmountInvoiceCurrency": draft["TotalAmount"],
            "TotalVatAmountInvoiceCurrency": draft["TotalVatAmount"],
            "TotalAmount": draft["TotalAmountBaseCurrency"],
            "TotalVatAmount": draft["TotalVatAmountBaseCurrency"],
            "TotalRoundings": 0.0,
            "RemainingAmountInvoiceCurrency": draft["TotalAmount"],
            "RemainingAmount": draft["TotalAmountBaseCurrency"],
            "PaymentDate": None,
            "CreatedFromDraftId": draft["Id"],  # V35
            "VoucherId": seed.sid(f"voucher:{company_id}:inv:{number}:{svc.clock.now()}"),
            "VoucherNumber": f"F{number}",
            "HasAutoInvoiceError": False,
            "SalesDocumentAttachments": [],
            "CreatedUtc": now,
            "ModifiedUtc": now,
        }
        svc.store.insert(SERVICE, ctx.kind("customerinvoices"), invoice, id=invoice["Id"])
        svc.store.delete(SERVICE, ctx.kind("customerinvoicedrafts"), draft["Id"])  # V35
    return invoice_out(svc, invoice)


class _CompanyCtx:
    """The little of a request context that control actions need."""

    def __init__(self, svc, company):
        self.svc, self.company = svc, company

    def kind(self, name):
        return f"{name}@{self.company}"


def _check_expected(draft, body, errors):
    """V34: every field sent is compared; a mismatch refuses the convert."""
    pairs = (
        ("TotalAmountInvoiceCurrency", draft["TotalAmount"]),
        ("TotalVatAmountInvoiceCurrency", draft["TotalVatAmount"]),
        ("TotalRoundingsInvoiceCurrency", draft["TotalRoundings"]),
    )
    for name, actual in pairs:
        if name in body and body[name] is not None:
            if _number(body[name]) is None or money(body[name]) != money(actual):
                errors.add(name, f"{name} is {actual:.2f} in eAccounting, not {body[name]}.")
    rows = {r["LineNumber"]: r for r in draft["Rows"]}
    for want in body.get("Rows") or []:
        want = want if isinstance(want, dict) else {"LineNumber": want}
        row = rows.get(want.get("LineNumber"))
        if row is None:
            errors.add("Rows", f"No row with LineNumber {want.get('LineNumber')}.")
            continue
        for name, actual in (
            ("TotalAmountNoVatInvoiceCurrency", row.get("Amount") or 0.0),
            ("TotalAmountIncVatInvoiceCurrency", row.get("_inc", 0.0)),
        ):
            if want.get(name) is not None and (
                _number(want[name]) is None or money(want[name]) != money(actual)
            ):
                errors.add(
                    f"Rows[{row['LineNumber']}].{name}",
                    f"{name} is {actual:.2f} in eAccounting, not {want[name]}.",
                )


# -- invoices --------------------------------------------------------------------------------
def invoice_out(svc, invoice):
    out = public(invoice)
    due = _date(invoice.get("DueDate"))
    if abs(invoice["RemainingAmountInvoiceCurrency"]) < 0.005:
        out["PaymentStatus"] = 0  # V36: Paid
    elif due and due < svc.today():
        out["PaymentStatus"] = 2  # Overdue
    else:
        out["PaymentStatus"] = 1  # Unpaid
    return out


def r_invoices(ctx, rest, method):
    store, kind = ctx.svc.store, ctx.kind("customerinvoices")
    if not rest and method == "GET":
        items = [invoice_out(ctx.svc, i) for i in store.view(SERVICE, kind)]
        since = ctx.args.get("modifiedSinceUtc")
        if since:
            from .odata import _as_datetime, bad_query  # noqa: PLC0415

            try:
                limit = _as_datetime(since)
            except ValueError:
                raise bad_query(f"modifiedSinceUtc {since!r} is not a date-time")
            items = [i for i in items if _as_datetime(i["ModifiedUtc"]) >= limit]  # V17
        return listing(ctx, items, "customerinvoices", FILTERS["customerinvoices"])
    if len(rest) == 1 and method == "GET":
        invoice = store.get(SERVICE, kind, rest[0].lower())
        if invoice is None:
            raise not_found("customer invoice", rest[0])
        return 200, invoice_out(ctx.svc, invoice)
    return None  # POST /customerinvoices (book directly) is not simulated: we never use it


def pay(svc, company, kind, id_, amount, remaining_key="RemainingAmountInvoiceCurrency"):
    with svc.lock:
        doc = svc.store.get(SERVICE, f"{kind}@{company}", id_)
        if doc is None:
            return None
        open_amount = money(doc[remaining_key])
        payment = open_amount if amount is None else money(amount)
        doc[remaining_key] = float(open_amount - payment)
        if "RemainingAmount" in doc and remaining_key != "RemainingAmount":
            fx = Decimal(str(seed.RATES.get(doc.get("CurrencyCode") or "EUR", 1.0)))
            doc["RemainingAmount"] = float(money(Decimal(str(doc[remaining_key])) * fx))
        doc["PaymentDate"] = _iso_day(svc.today())
        doc["ModifiedUtc"] = svc.now_iso()
        svc.store.update(SERVICE, f"{kind}@{company}", id_, doc)
        return doc


# -- customer ledger items with voucher (V38-V41) ---------------------------------------------
def save_ledger_item(ctx, body):
    errors = FieldErrors()
    doc = {name: None for name in LEDGER_FIELDS}
    doc.update(bind(body, LEDGER_FIELDS, {"Id", "ModifiedUtc"}, errors))
    check_lengths(doc, LEDGER_FIELDS, errors)
    customer = _customer(ctx, doc.get("CustomerId"))
    if not doc.get("CustomerId"):
        errors.add("CustomerId", "CustomerId is required.")
    elif customer is None:
        errors.add("CustomerId", f"Customer {doc['CustomerId']} does not exist.", 3000)
    number = doc.get("InvoiceNumber")
    if not isinstance(number, int) or isinstance(number, bool) or not 0 < number <= INT32_MAX:
        errors.add(
            "InvoiceNumber", "InvoiceNumber is required: a whole number 1..2147483647."
        )  # V38
    if not isinstance(doc.get("IsCreditInvoice"), bool):
        errors.add("IsCreditInvoice", "IsCreditInvoice is required.")
    if not doc.get("CurrencyCode"):
        errors.add("CurrencyCode", "CurrencyCode is required.")
    elif doc["CurrencyCode"] not in seed.RATES:
        errors.add("CurrencyCode", f"Currency {doc['CurrencyCode']} does not exist.", 3000)
    for name in ("TotalAmountInvoiceCurrency", "RemainingAmountInvoiceCurrency"):
        value = doc.get(name)
        if _number(value) is None:
            errors.add(name, f"{name} is required.")
        elif abs(value) > 99_999_999.99 or _decimals(value) > 2:
            errors.add(name, f"{name} must be within ±99,999,999.99 with 2 decimals.")
    for name in ("InvoiceDate", "DueDate"):
        if doc.get(name) is not None and _date(doc[name]) is None:
            errors.add(name, f"{name} must be a date (yyyy-mm-dd).")
    voucher = _voucher(ctx, doc.get("Voucher"), errors)
    errors.raise_if_any()
    total, remaining = (
        money(doc["TotalAmountInvoiceCurrency"]),
        money(doc["RemainingAmountInvoiceCurrency"]),
    )
    debit = sum((money(r.get("DebitAmount") or 0) for r in voucher["Rows"]), Decimal(0))
    if doc["IsCreditInvoice"] != (total < 0) or abs(total) != debit:
        # V40 [I]: the item's total is the voucher's receivable side, negative for a credit
        errors.add(
            "TotalAmountInvoiceCurrency",
            f"TotalAmountInvoiceCurrency must be {'-' if doc['IsCreditInvoice'] else ''}"
            f"{debit} (the voucher's receivable side).",
        )
    if remaining and ((remaining < 0) != (total < 0) or abs(remaining) > abs(total)):
        errors.add(
            "RemainingAmountInvoiceCurrency",
            "RemainingAmountInvoiceCurrency cannot exceed the total.",
        )
    errors.raise_if_any()
    store, kind = ctx.svc.store, ctx.kind("customerledgeritems")
    with ctx.svc.lock:
        if any(i["InvoiceNumber"] == number for i in store.view(SERVICE, kind)):
            raise ApiError(
                400,
                4000,
                f"Conflict - a customer ledger item with invoice number {number} exists.",
                [
                    {
                        "Field": "InvoiceNumber",
                        "ErrorCode": "4000",
                        "Message": "Already in use.",
                        "Key": "InvoiceNumber",
                    }
                ],
            )  # V40 [I]
        now = ctx.svc.now_iso()
        seq = store.next_seq("visma.voucher")
        voucher.update(
            Id=seed.sid(f"voucher:{ctx.company}:{seq}:{ctx.svc.clock.now()}"),
            NumberAndNumberSeries=f"A{seq}",
            VoucherType=doc["Voucher"].get("VoucherType") or 2,
            CreatedUtc=now,
            ModifiedUtc=now,
            Attachments=[],
        )
        store.insert(SERVICE, ctx.kind("vouchers"), voucher, id=voucher["Id"])
        doc.pop("Voucher")
        doc.update(
            Id=seed.sid(f"ledgeritem:{ctx.company}:{seq}:{ctx.svc.clock.now()}"),
            VoucherId=voucher["Id"],
            ModifiedUtc=now,
            InvoiceDate=_iso_day(_date(doc.get("InvoiceDate")) or _date(voucher["VoucherDate"])),
        )
        if doc.get("DueDate"):
            doc["DueDate"] = _iso_day(_date(doc["DueDate"]))
        store.insert(SERVICE, kind, doc, id=doc["Id"])
        voucher["SourceId"] = doc["Id"]
        store.update(SERVICE, ctx.kind("vouchers"), voucher["Id"], voucher)
    return public(doc)


def _voucher(ctx, body, errors):
    if not isinstance(body, dict):
        errors.add("Voucher", "Voucher is required.")
        return {"Rows": []}
    sub = FieldErrors()
    voucher = {name: None for name in VOUCHER_FIELDS}
    voucher.update(
        bind(
            body,
            VOUCHER_FIELDS,
            {
                "Id",
                "NumberAndNumberSeries",
                "ModifiedUtc",
                "CreatedUtc",
                "SourceId",
                "ImportedVoucherNumber",
            },
            sub,
        )
    )
    check_lengths(voucher, VOUCHER_FIELDS, sub)
    if not str(voucher.get("VoucherText") or "").strip():
        sub.add("VoucherText", "VoucherText is required.")
    day = _date(voucher.get("VoucherDate"))
    if day is None:
        sub.add("VoucherDate", "VoucherDate is required (yyyy-mm-dd).")
    else:
        fiscal_check(ctx, day, sub, "VoucherDate")
    rows = voucher.get("Rows") if isinstance(voucher.get("Rows"), list) else []
    if len(rows) < 2:
        sub.add("Rows", "A voucher needs at least two rows.")
    accounts = {number for number, _name, _vat in seed.ACCOUNTS}
    clean, debit, credit = [], Decimal(0), Decimal(0)
    for i, row in enumerate(rows):
        out = {name: None for name in VOUCHER_ROW_FIELDS}
        row_errors = FieldErrors()
        out.update(
            bind(
                row if isinstance(row, dict) else {},
                VOUCHER_ROW_FIELDS,
                {"AccountDescription"},
                row_errors,
            )
        )
        check_lengths(out, VOUCHER_ROW_FIELDS, row_errors)
        number = out.get("AccountNumber")
        if (
            not isinstance(number, int)
            or isinstance(number, bool)
            or not 1 <= number <= 9_999_999_999
        ):
            row_errors.add("AccountNumber", "AccountNumber is required (a whole number).")
        elif str(number) not in accounts:
            row_errors.add(
                "AccountNumber",
                f"AccountNotFound - account {number} does not exist in that fiscal year.",
                3002,
            )
        for name in ("DebitAmount", "CreditAmount", "VatAmount"):
            value = out.get(name)
            if value is None:
                continue
            if _number(value) is None or value < 0 or value > 1e10 or _decimals(value) > 2:
                row_errors.add(name, f"{name} must be 0 or more with at most 2 decimals.")
        if out.get("VatCodeId") and master_by_id("vatcodes", out["VatCodeId"]) is None:
            row_errors.add("VatCodeId", f"VAT code {out['VatCodeId']} does not exist.", 3000)
        for item in row_errors.items:
            sub.add(f"Rows[{i}].{item['Field']}", item["Message"], int(item["ErrorCode"]))
        if not row_errors.items:
            debit += money(out.get("DebitAmount") or 0)
            credit += money(out.get("CreditAmount") or 0)
        clean.append(out)
    if not sub.items and debit != credit:
        sub.add("Rows", f"The voucher does not balance: debit {debit}, credit {credit}.")  # V39
    for item in sub.items:
        errors.add(f"Voucher.{item['Field']}", item["Message"], int(item["ErrorCode"]))
    voucher["Rows"] = clean
    return voucher


def r_ledger_items(ctx, rest, method):
    store, kind = ctx.svc.store, ctx.kind("customerledgeritems")
    if not rest and method == "GET":
        return listing(
            ctx, store.view(SERVICE, kind), "customerledgeritems", FILTERS["customerledgeritems"]
        )
    if rest == ["customerledgeritemswithvoucher"] or [r.lower() for r in rest] == [
        "customerledgeritemswithvoucher"
    ]:
        if method == "POST":
            return 201, save_ledger_item(ctx, ctx.body())
        return None
    if len(rest) == 1 and method == "GET":
        item = store.get(SERVICE, kind, rest[0].lower())
        if item is None:
            raise not_found("customer ledger item", rest[0])
        return 200, public(item)
    return None


# -- attachments (V42, V43) ------------------------------------------------------------------
def _upload(ctx, body, fields, name_limit, name_rule, errors):
    doc = bind(body, fields, {"Id"}, errors)
    if doc.get("ContentType") not in CONTENT_TYPES:
        errors.add("ContentType", f"ContentType must be one of {', '.join(sorted(CONTENT_TYPES))}.")
    name = doc.get("FileName")
    if not isinstance(name, str) or not name or len(name) > name_limit:
        errors.add("FileName", f"FileName is required, at most {name_limit} characters.")
    elif name_rule is not None and not name_rule.match(name):
        errors.add("FileName", "FileName may hold letters, digits and - _ ( ) only.")
    size = 0
    if doc.get("Data") and doc.get("Url"):
        errors.add("Data", "Give Data or Url, not both.")
    elif doc.get("Data"):
        try:
            size = len(base64.b64decode(doc["Data"], validate=True))
        except (binascii.Error, ValueError, TypeError):
            errors.add("Data", "Data must be base64.")
    elif not doc.get("Url"):
        errors.add("Data", "Data (base64) or Url is required.")
    return doc, size


def r_sales_attachments(ctx, rest, method):
    if method != "POST" or [r.lower() for r in rest] != ["customerinvoice"]:
        return None
    errors = FieldErrors()
    fields = {"ContentType": 15, "FileName": 128, "DockumentId": None, "Data": None, "Url": None}
    doc, size = _upload(ctx, ctx.body(), fields, 128, None, errors)
    kind = ctx.kind("customerinvoices")
    invoice = ctx.svc.store.get(SERVICE, kind, str(doc.get("DockumentId") or "").lower())
    if not doc.get("DockumentId"):
        errors.add("DockumentId", "DockumentId is required.")
    elif invoice is None:
        errors.add("DockumentId", f"Customer invoice {doc['DockumentId']} does not exist.", 3000)
    errors.raise_if_any()
    with ctx.svc.lock:
        att = {
            "Id": seed.sid(f"salesatt:{ctx.company}:{ctx.svc.store.next_seq('visma.att')}"),
            "DocumentId": invoice["Id"],
            "DocumentType": 2,
            "OriginalFilename": doc["FileName"],
            "DocumentSize": size,
            "CreatedUtc": ctx.svc.now_iso(),
            "CreatedBy": "api",
            "Thumbnail": None,
        }
        ctx.svc.store.insert(SERVICE, ctx.kind("salesdocumentattachments"), att, id=att["Id"])
        invoice["SalesDocumentAttachments"] = list(
            invoice.get("SalesDocumentAttachments") or []
        ) + [att["Id"]]
        ctx.svc.store.update(SERVICE, kind, invoice["Id"], invoice)
    return 201, att


def r_attachments(ctx, rest, method):
    if method != "POST" or rest:
        return None
    errors = FieldErrors()
    fields = {"ContentType": 15, "FileName": 200, "Data": None, "Url": None, "Comment": None}
    doc, size = _upload(ctx, ctx.body(), fields, 200, FILE_NAME, errors)
    errors.raise_if_any()
    att = {
        "Id": seed.sid(f"att:{ctx.company}:{ctx.svc.store.next_seq('visma.att')}"),
        "ContentType": doc["ContentType"],
        "FileName": doc["FileName"],
        "Comment": doc.get("Comment"),
        "AttachmentStatus": 1,  # Unmatched until linked
        "DocumentSize": size,
        "UploadedBy": "api",
        "ImageDate": ctx.svc.now_iso(),
    }
    ctx.svc.store.insert(SERVICE, ctx.kind("attachments"), att, id=att["Id"])
    return 201, att


def r_attachment_links(ctx, rest, method):
    if method != "POST" or rest:
        return None
    errors = FieldErrors()
    doc = bind(
        ctx.body(), {"DocumentId": None, "DocumentType": None, "AttachmentIds": None}, set(), errors
    )
    if doc.get("DocumentType") != 3:
        errors.add("DocumentType", "Only vouchers (3) are linked through this simulator.")
    voucher = ctx.svc.store.get(
        SERVICE, ctx.kind("vouchers"), str(doc.get("DocumentId") or "").lower()
    )
    if voucher is None:
        errors.add("DocumentId", f"Voucher {doc.get('DocumentId')} does not exist.", 3000)
    ids = doc.get("AttachmentIds") if isinstance(doc.get("AttachmentIds"), list) else []
    atts = [ctx.svc.store.get(SERVICE, ctx.kind("attachments"), str(i).lower()) for i in ids]
    if not ids or any(a is None for a in atts):
        errors.add("AttachmentIds", "AttachmentIds must name uploaded attachments.", 3000)
    errors.raise_if_any()
    with ctx.svc.lock:
        for att in atts:
            att["AttachmentStatus"] = 0
            ctx.svc.store.update(SERVICE, ctx.kind("attachments"), att["Id"], att)
        voucher["Attachments"] = sorted(
            set(voucher.get("Attachments") or []) | {a["Id"] for a in atts}
        )
        ctx.svc.store.update(SERVICE, ctx.kind("vouchers"), voucher["Id"], voucher)
    return 200, {
        "DocumentId": voucher["Id"],
        "DocumentType": 3,
        "AttachmentIds": [a["Id"] for a in atts],
    }


# -- control actions -------------------------------------------------------------------------
def _find(svc, kind, id_):
    for company in seed.COMPANY_IDS:
        doc = svc.store.get(SERVICE, f"{kind}@{company}", str(id_).lower())
        if doc is not None:
            return company, doc
    raise not_found(kind, id_)


def control_invoice(svc, id_, action, body):
    if action != "pay":
        return 404, {"error": f"unknown invoice action {action}"}
    company, _doc = _find(svc, "customerinvoices", id_)
    doc = pay(svc, company, "customerinvoices", _doc["Id"], body.get("amount"))
    return 200, invoice_out(svc, doc)


def control_ledger_item(svc, id_, action, body):
    if action != "pay":
        return 404, {"error": f"unknown ledger item action {action}"}
    company, _doc = _find(svc, "customerledgeritems", id_)
    return 200, public(pay(svc, company, "customerledgeritems", _doc["Id"], body.get("amount")))


def control_draft(svc, id_, action, body):
    company, draft = _find(svc, "customerinvoicedrafts", id_)
    if action == "delete":
        svc.store.delete(SERVICE, f"customerinvoicedrafts@{company}", draft["Id"])
        return 200, {"deleted": draft["Id"]}
    if action == "convert":
        # the accountant converts in eAccounting: no expected totals, the company's date rule
        return 201, convert(svc, company, draft, {}, False, False)
    return 404, {"error": f"unknown draft action {action}"}


ROUTES = {
    "customerinvoicedrafts": r_drafts,
    "customerinvoices": r_invoices,
    "customerledgeritems": r_ledger_items,
    "salesdocumentattachments": r_sales_attachments,
    "attachments": r_attachments,
    "attachmentlinks": r_attachment_links,
}
CONTROL = {"invoices": control_invoice, "ledgeritems": control_ledger_item, "drafts": control_draft}
