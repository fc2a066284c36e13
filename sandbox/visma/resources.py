"""Company settings, master data (read-only lists) and the customer and article
registers of the eAccounting simulator."""

import re

from . import seed
from .errors import ApiError, FieldErrors, not_found
from .odata import paged, query

SERVICE = "visma"

# V24: writable customer fields and their max lengths (None: not a string)
CUSTOMER_FIELDS = {
    "CustomerNumber": 16,
    "CorporateIdentityNumber": 20,
    "VatNumber": 20,
    "Name": 50,
    "InvoiceAddress1": 50,
    "InvoiceAddress2": 50,
    "InvoiceCity": 50,
    "InvoicePostalCode": 10,
    "InvoiceCountryCode": 2,
    "DeliveryCustomerName": 100,
    "DeliveryAddress1": 50,
    "DeliveryAddress2": 50,
    "DeliveryCity": 50,
    "DeliveryPostalCode": 10,
    "DeliveryCountryCode": 2,
    "ContactPersonEmail": 255,
    "ContactPersonMobile": 50,
    "ContactPersonName": 100,
    "ContactPersonPhone": 50,
    "CurrencyCode": 3,
    "EmailAddress": 255,
    "EmailAddressOrder": 255,
    "EmailAddressQuote": 255,
    "MobilePhone": 50,
    "Telephone": 50,
    "WwwAddress": 255,
    "Note": 4000,
    "Iban": 35,
    "ElectronicAddress": 255,
    "ElectronicReference": 35,
    "GLN": 255,
    "EdiGlnNumber": 255,
    "SalesDocumentLanguage": 2,
    "TermsOfPaymentId": None,
    "IsActive": None,
    "IsPrivatePerson": None,
    "DiscountPercentage": None,
    "EmailAddresses": None,
    "ReverseChargeOnConstructionServices": None,
    "ForceBookkeepVat": None,
    "DeliveryBasedVat": None,
    "IsNorthernIreland": None,
    "IsDirectDebitEnabled": None,
    "WebshopCustomerNumber": None,
    "DeliveryMethodId": None,
    "DeliveryTermId": None,
}
CUSTOMER_READONLY = {
    "Id",
    "PayToAccountId",
    "LastInvoiceDate",
    "ChangedUtc",
    "MessageThreads",
    "Notes",
    "IsFutureInvoiceDateAllowed",
    "UnpaidInvoicesAmount",
    "TermsOfPayment",
}
NEW_CUSTOMER = {name: None for name in CUSTOMER_FIELDS}
# V24: IsActive and IsPrivatePerson are required, so they have no default
NEW_CUSTOMER.update(DiscountPercentage=0.0, EmailAddresses=[])

# V27: writable article fields
ARTICLE_FIELDS = {
    "Number": 40,
    "Name": 50,
    "NameEnglish": 50,
    "Note": 4000,
    "CurrencyCode": 3,
    "SupplierArticleNumber": 16,
    "IsActive": None,
    "CodingId": None,
    "UnitId": None,
    "NetPrice": None,
    "NetPriceWithDiscount": None,
    "GrossPrice": None,
    "PurchasePrice": None,
    "DiscountPercentage": None,
    "SendToWebshop": None,
    "UsesMoss": None,
    "IsStock": None,
    "StockBalance": None,
    "FreightCosts": None,
    "Barcodes": None,
}
ARTICLE_READONLY = {
    "Id",
    "CodingName",
    "UnitName",
    "UnitAbbreviation",
    "CreatedUtc",
    "ChangedUtc",
    "IsServiceArticle",
    "StockBalanceReserved",
    "StockBalanceAvailable",
    "StockValue",
}
NEW_ARTICLE = {name: None for name in ARTICLE_FIELDS}
NEW_ARTICLE.update(IsActive=True, NetPrice=0.0, GrossPrice=0.0, DiscountPercentage=0.0)

# V15: confirmed filter properties, and the plausible ones (config allow_inferred_filters)
FILTERS = {
    "customers": (
        {},
        {
            "CustomerNumber": None,
            "EmailAddress": None,
            "VatNumber": None,
            "Name": None,
            "CorporateIdentityNumber": None,
            "ChangedUtc": None,
        },
    ),
    "articles": ({}, {"Number": None, "Name": None, "ChangedUtc": None}),
}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def public(doc):
    """Internal keys (``_...``) are never part of the API."""
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def listing(ctx, items, resource, filters=None):
    """V13-V16: a filtered, ordered page of ``items`` in the Meta/Data envelope."""
    confirmed, inferred = filters or FILTERS.get(resource, ({}, {}))
    allowed = dict(confirmed)
    if ctx.svc.config["allow_inferred_filters"]:
        allowed.update(inferred)
    items = query([public(i) for i in items], ctx.args, allowed)
    return 200, paged(items, ctx.args, ctx.svc.now_iso())


def is_guid(value):
    return isinstance(value, str) and bool(_GUID.match(value))


def bind(body, writable, readonly, errors):
    """V23: read-only properties are ignored, properties the schema lacks are refused."""
    lower_w = {k.lower(): k for k in writable}
    lower_r = {k.lower() for k in readonly}
    out = {}
    for key, value in body.items():
        name = lower_w.get(str(key).lower())
        if name is not None:
            out[name] = value
        elif str(key).lower() not in lower_r:
            errors.add(str(key), f"The property {key} does not exist on this resource.")
    return out


def check_lengths(doc, fields, errors):
    for name, limit in fields.items():
        value = doc.get(name)
        if limit and value is not None:
            if not isinstance(value, str):
                errors.add(name, f"{name} must be a text.")
            elif len(value) > limit:
                errors.add(name, f"{name} can be at most {limit} characters long.")


def master(resource):
    """The seeded read-only lists."""
    return {
        "vatcodes": seed.VAT_CODES,
        "units": seed.UNITS,
        "termsofpayments": seed.TERMS,
        "articleaccountcodings": seed.CODINGS,
        "currencies": seed.CURRENCIES,
    }[resource]


def master_by_id(resource, id_):
    return next(
        (i for i in master(resource) if str(i.get("Id", "")).lower() == str(id_).lower()), None
    )


# -- company settings ------------------------------------------------------------------------
def company_settings(ctx):
    company = ctx.svc.company(ctx.company)
    customers = ctx.svc.store.view(SERVICE, ctx.kind("customers"))
    return {
        "Name": company["Name"],
        "CompanyIdentifier": company["Id"],  # V6
        "CountryCode": company["CountryCode"],
        "CurrencyCode": company["CurrencyCode"],
        "VatCode": company["VatCode"],
        "CorporateIdentityNumber": company["CorporateIdentityNumber"],
        "Address1": "Hoofdstraat 1",
        "PostalCode": "1234 AB",
        "City": "Utrecht",
        "ProductVariant": 1,
        "CompanyStatus": 1,
        "KeepOriginalDraftDate": ctx.svc.config["keep_original_draft_date"],
        "ShowPricesExclVatPC": False,
        "DomesticCurrencyRounding": 0,
        "NextCustomerNumber": next_customer_number(customers),
        "NextCustomerInvoiceNumber": ctx.svc.store.kv_get(f"visma_last_invoice:{ctx.company}", 1000)
        + 1,
        "UsesPaymentReferenceNumber": False,
    }


def r_companysettings(ctx, rest, method):
    if method == "GET" and not rest:
        return 200, company_settings(ctx)
    return None


def next_customer_number(customers):
    numbers = [
        int(c["CustomerNumber"]) for c in customers if str(c.get("CustomerNumber") or "").isdigit()
    ]
    return str(max(numbers + [10000]) + 1)


# -- read-only lists -------------------------------------------------------------------------
def r_master(resource):
    def handler(ctx, rest, method):
        if method != "GET" or len(rest) > 1:
            return None
        if rest:
            item = master_by_id(resource, rest[0])
            if item is None:
                raise not_found(resource, rest[0])
            return 200, public(item)
        return listing(ctx, master(resource), resource)

    return handler


def _accounts(ctx):
    years = ctx.svc.store.view(SERVICE, ctx.kind("fiscalyears"))
    out = []
    for year in years:
        for number, name, vat in seed.ACCOUNTS:
            vat_code = seed.sid(vat) if vat else None
            out.append(
                {
                    "Number": number,  # V30: a string here, an int on voucher rows
                    "Name": name,
                    "FiscalYearId": year["Id"],
                    "VatCodeId": vat_code,
                    "VatCodeDescription": next(
                        (v["Description"] for v in seed.VAT_CODES if v["Id"] == vat_code), None
                    ),
                    "IsActive": True,
                }
            )
    return out


def r_accounts(ctx, rest, method):
    if method != "GET" or len(rest) > 2:
        return None
    rows = _accounts(ctx)
    if rest:
        rows = [a for a in rows if a["FiscalYearId"] == rest[0].lower()]
        if not rows:
            raise not_found("fiscal year", rest[0])
        if len(rest) == 2:
            found = [a for a in rows if a["Number"] == rest[1]]
            if not found:
                raise ApiError(404, 3002, f"AccountNotFound - account {rest[1]} does not exist.")
            return 200, found[0]
    return listing(ctx, rows, "accounts")


def r_fiscalyears(ctx, rest, method):
    if method != "GET" or len(rest) > 1:
        return None
    years = ctx.svc.store.view(SERVICE, ctx.kind("fiscalyears"))
    if rest:
        found = [y for y in years if y["Id"] == rest[0].lower()]
        if not found:
            raise not_found("fiscal year", rest[0])
        return 200, found[0]
    return listing(ctx, years, "fiscalyears")


# -- customers -------------------------------------------------------------------------------
def r_customers(ctx, rest, method):
    kind = ctx.kind("customers")
    store = ctx.svc.store
    if method == "GET" and not rest:
        return listing(ctx, store.view(SERVICE, kind), "customers")
    if len(rest) == 1:
        existing = store.get(SERVICE, kind, rest[0].lower())
        if existing is None:
            raise not_found("customer", rest[0])
        if method == "GET":
            return 200, _customer_out(existing)
        if method == "PUT":
            return 200, save_customer(ctx, ctx.body(), existing)
        if method == "DELETE":
            invoices = store.view(SERVICE, ctx.kind("customerinvoices")) + store.view(
                SERVICE, ctx.kind("customerledgeritems")
            )
            if any(i.get("CustomerId") == existing["Id"] for i in invoices):
                raise ApiError(400, 4001, "CanNotBeDeleted - the customer has invoices.")  # V26
            store.delete(SERVICE, kind, existing["Id"])
            return 204, None
    if method == "POST" and not rest:
        return 201, save_customer(ctx, ctx.body(), None)
    return None


def _customer_out(doc):
    out = public(doc)
    out["TermsOfPayment"] = public(
        master_by_id("termsofpayments", doc.get("TermsOfPaymentId")) or {}
    )
    return out


def save_customer(ctx, body, existing):
    errors = FieldErrors()
    data = bind(body, CUSTOMER_FIELDS, CUSTOMER_READONLY, errors)
    # V26 [I]: a PUT replaces the writable fields; left out means empty
    doc = dict(NEW_CUSTOMER, **data)
    check_lengths(doc, CUSTOMER_FIELDS, errors)
    for name in ("Name", "InvoiceCity", "InvoicePostalCode"):  # V24
        if not str(doc.get(name) or "").strip():
            errors.add(name, f"{name} is required.")
    for name in ("IsActive", "IsPrivatePerson"):
        if not isinstance(doc.get(name), bool):
            errors.add(name, f"{name} is required and must be true or false.")
    terms = doc.get("TermsOfPaymentId")
    if not terms:
        errors.add("TermsOfPaymentId", "TermsOfPaymentId is required.")
    elif master_by_id("termsofpayments", terms) is None:
        errors.add("TermsOfPaymentId", f"Terms of payment {terms} do not exist.", 3000)
    discount = doc.get("DiscountPercentage") or 0
    if not isinstance(discount, (int, float)) or not 0 <= discount <= 1:
        errors.add("DiscountPercentage", "DiscountPercentage is a fraction between 0 and 1.")  # V31
    if doc.get("EmailAddresses") and not doc.get("EmailAddress"):
        errors.add("EmailAddresses", "EmailAddresses needs EmailAddress.")
    currency = doc.get("CurrencyCode")
    if currency and currency not in seed.RATES:
        errors.add("CurrencyCode", f"Currency {currency} does not exist.", 3000)
    errors.raise_if_any()
    store, kind = ctx.svc.store, ctx.kind("customers")
    with ctx.svc.lock:
        others = [c for c in store.view(SERVICE, kind) if not existing or c["Id"] != existing["Id"]]
        if not doc.get("CustomerNumber"):
            # V25 [I]: the next number when left out (a PUT keeps the number it had)
            doc["CustomerNumber"] = (existing or {}).get("CustomerNumber") or next_customer_number(
                store.view(SERVICE, kind)
            )
        if any(
            str(c["CustomerNumber"]).lower() == str(doc["CustomerNumber"]).lower() for c in others
        ):
            raise ApiError(
                400,
                4000,
                f"Conflict - customer number {doc['CustomerNumber']} is already in use.",
                [
                    {
                        "Field": "CustomerNumber",
                        "ErrorCode": "4000",
                        "Message": "Already in use.",
                        "Key": "CustomerNumber",
                    }
                ],
            )  # V25 [I]
        doc["CurrencyCode"] = doc.get("CurrencyCode") or "EUR"
        doc["ChangedUtc"] = ctx.svc.now_iso()
        if existing:
            doc["Id"] = existing["Id"]
            store.update(SERVICE, kind, doc["Id"], doc)
        else:
            doc["Id"] = seed.sid(
                f"customer:{ctx.company}:{store.next_seq('visma.customer')}:{ctx.svc.clock.now()}"
            )
            store.insert(SERVICE, kind, doc, id=doc["Id"])
    return _customer_out(doc)


# -- articles --------------------------------------------------------------------------------
def r_articles(ctx, rest, method):
    kind = ctx.kind("articles")
    store = ctx.svc.store
    if method == "GET" and not rest:
        return listing(ctx, store.view(SERVICE, kind), "articles")
    if len(rest) == 1 and method in ("GET", "PUT"):
        existing = store.get(SERVICE, kind, rest[0].lower())
        if existing is None:
            raise not_found("article", rest[0])
        if method == "GET":
            return 200, _article_out(existing)
        return 200, save_article(ctx, ctx.body(), existing)
    if method == "POST" and not rest:
        return 201, save_article(ctx, ctx.body(), None)
    return None  # V27: no DELETE


def _article_out(doc):
    out = public(doc)
    coding = master_by_id("articleaccountcodings", doc.get("CodingId")) or {}
    unit = master_by_id("units", doc.get("UnitId")) or {}
    out.update(
        CodingName=coding.get("Name"),
        UnitName=unit.get("Name"),
        UnitAbbreviation=unit.get("Abbreviation"),
        IsServiceArticle=coding.get("Type") == "Services",
    )
    return out


def save_article(ctx, body, existing):
    errors = FieldErrors()
    doc = dict(NEW_ARTICLE, **bind(body, ARTICLE_FIELDS, ARTICLE_READONLY, errors))
    check_lengths(doc, ARTICLE_FIELDS, errors)
    for name in ("Number", "Name"):  # V27
        if not str(doc.get(name) or "").strip():
            errors.add(name, f"{name} is required.")
    if not isinstance(doc.get("IsActive"), bool):
        errors.add("IsActive", "IsActive is required.")
    for name, resource in (("CodingId", "articleaccountcodings"), ("UnitId", "units")):
        if not doc.get(name):
            errors.add(name, f"{name} is required.")
        elif master_by_id(resource, doc[name]) is None:
            errors.add(name, f"{name} {doc[name]} does not exist.", 3000)
    for name in ("NetPrice", "GrossPrice", "NetPriceWithDiscount"):
        value = doc.get(name)
        if value is not None and (
            not isinstance(value, (int, float))
            or not 0 <= value <= 99_000_000
            or round(value, 2) != value
        ):
            errors.add(name, f"{name} must be 0..99,000,000 with at most 2 decimals.")
    errors.raise_if_any()
    store, kind = ctx.svc.store, ctx.kind("articles")
    with ctx.svc.lock:
        others = [a for a in store.view(SERVICE, kind) if not existing or a["Id"] != existing["Id"]]
        if any(a["Number"].lower() == doc["Number"].lower() for a in others):
            raise ApiError(
                400, 4000, f"Conflict - article number {doc['Number']} is already in use."
            )  # V27 [I]
        doc["ChangedUtc"] = ctx.svc.now_iso()
        if existing:
            doc["Id"], doc["CreatedUtc"] = existing["Id"], existing.get("CreatedUtc")
            store.update(SERVICE, kind, doc["Id"], doc)
        else:
            doc["Id"] = seed.sid(
                f"article:{ctx.company}:{store.next_seq('visma.article')}:{ctx.svc.clock.now()}"
            )
            doc["CreatedUtc"] = doc["ChangedUtc"]
            store.insert(SERVICE, kind, doc, id=doc["Id"])
    return _article_out(doc)


ROUTES = {
    "companysettings": r_companysettings,
    "customers": r_customers,
    "articles": r_articles,
    "accounts": r_accounts,
    "fiscalyears": r_fiscalyears,
    **{
        name: r_master(name)
        for name in ("vatcodes", "units", "termsofpayments", "articleaccountcodings", "currencies")
    },
}
