"""Asperion REST client (one administration per client).

Facts: /work/shared/api/asperion.md. Names marked [I] there (inferred, not seen in a
public source) are all in the ``FIELDS``/``PATHS`` block below so that they can be
corrected in one place once the live Swagger is checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import requests

from .errors import AccessDenied, BookkeepingError, NotFound, ValidationError
from .http import DEFAULT_TIMEOUT, ApiClient
from .oauth import OAuth2Client, TokenStore
from .ratelimit import RateLimiter, RatePolicy, limiter_for

PRODUCTION = {"identity": "https://identity.asperion.nl", "api": "https://api.asperion.nl"}
SANDBOX = {
    "identity": "https://identity-sandbox.asperion.nl",
    "api": "https://api-sandbox.asperion.nl",
}
AUTHORIZE_PATH = "/connect/authorize"
TOKEN_PATH = "/connect/token"
PAGE_SIZE = 100
MAX_FILE_BYTES = 5 * 1024 * 1024

# ---- [I] names: inferred, to be checked against the live Swagger ----------------------
PATHS = {
    "administrations": "/v1/administrations",
    "vat_codes": "/v1/vatcodes",
    "debtor_kinds": "/v1/debtorkinds",
    "payment_conditions": "/v1/paymentconditions",
    "journals": "/v1/journals",
    "ledger_accounts": "/v1/ledgeraccounts",
    "sales_types": "/v1/salestypes",
    "articles": "/v1/articles",
    "countries": "/v1/countries",
    "debtors": "/v1/debtors",
    "debtor": "/v1/debtors/{id}",  # PUT [I]
    "draft_invoices": "/v1/draftsalesinvoiceswithlines",
    "draft_invoice": "/v1/draftsalesinvoices/{id}",
    "sales_invoices": "/v1/salesinvoiceswithlines",
    "sales_invoice_file": "/v1/salesinvoices/{id}/file",
    "outstanding_sales_invoices": "/v1/outstandingsalesinvoices",
}
FIELDS = {
    # draft invoice header [I]
    "draft_debtor": "debtorId",
    "draft_date": "date",
    "draft_description": "description",  # holds the Odoo reference
    "draft_reference": "reference",
    "draft_payment_condition": "paymentConditionId",
    "draft_payment_method": "paymentMethodId",
    "draft_lines": "lines",
    # draft invoice lines [I] (bookingType A/V/G/T is confirmed)
    "line_booking_type": "bookingType",
    "line_article": "articleSku",
    "line_sales_type": "salesTypeId",
    "line_ledger_account": "ledgerAccountId",
    "line_description": "description",
    "line_quantity": "quantity",
    "line_price": "price",
    "line_vat_code": "vatCode",
    "line_vat_code_alias": "vatCodeId",  # sent too: ASP.NET ignores unknown properties
    # debtor kinds / sales types [I]
    "debtor_kind_ledger": "ledgerAccountId",
    "sales_type_ledger": "ledgerAccountId",
    "sales_type_vat": "vatCode",
    # outstanding sales invoices [I]
    "outstanding_invoice_id": "invoiceId",
    "outstanding_invoice_number": "invoiceNumber",
    "outstanding_amount": "outstandingAmount",
    "outstanding_debtor": "debtorId",
    # payment condition days [I]
    "payment_condition_days": "days",
    # multipart part of a file upload ([C] for sales invoices, [I] for inbox files)
    "file_part": "File",
}
TENANT_HEADERS = ("X-TenantId", "X-Tenant-Id")  # both spellings are documented
# -----------------------------------------------------------------------------------------


def wrap_lines(lines: list[dict]) -> dict:
    """Lines in Asperion's child-list shape ``{"_data": [...]}``."""
    return {"_data": list(lines)}


def draft_line(
    booking_type: str,
    description: str,
    *,
    quantity=1,
    price=None,
    vat_code=None,
    article=None,
    sales_type=None,
    ledger_account=None,
) -> dict:
    """One draft line (``booking_type`` A article, V sales type, G ledger account, T text)."""
    line = {FIELDS["line_booking_type"]: booking_type, FIELDS["line_description"]: description}
    if booking_type == "T":
        return line
    line[FIELDS["line_quantity"]] = quantity
    if price is not None:
        line[FIELDS["line_price"]] = price
    if vat_code is not None:
        line[FIELDS["line_vat_code"]] = vat_code
        line[FIELDS["line_vat_code_alias"]] = vat_code
    if article is not None:
        line[FIELDS["line_article"]] = article
    if sales_type is not None:
        line[FIELDS["line_sales_type"]] = sales_type
    if ledger_account is not None:
        line[FIELDS["line_ledger_account"]] = ledger_account
    return line


def draft_invoice(debtor_id: int, date: str, description: str, lines: list[dict], **extra) -> dict:
    """A ``draftsalesinvoiceswithlines`` body (``extra`` keys are sent as they are)."""
    vals = {
        FIELDS["draft_debtor"]: debtor_id,
        FIELDS["draft_date"]: date,
        FIELDS["draft_description"]: description,
        FIELDS["draft_lines"]: wrap_lines(lines),
    }
    vals.update(extra)
    return vals


# Asperion publishes no budget: a 429 or 503 says when to come back in Retry-After only.
RATE_POLICY = RatePolicy(retry_after_header="Retry-After", scope="administration")


class AsperionClient(ApiClient):
    """One Asperion administration (tenant)."""

    service = "asperion"
    rate_policy = RATE_POLICY
    PRODUCTION = PRODUCTION
    SANDBOX = SANDBOX

    def __init__(
        self,
        api_base: str,
        administration_id: int | str | None,
        oauth: OAuth2Client,
        *,
        limiter: RateLimiter | None = None,
        on_call: Callable[[dict], None] | None = None,
        timeout=DEFAULT_TIMEOUT,
        language: str = "nl-NL",
        **kwargs,
    ):
        if limiter is None:
            limiter = limiter_for(("asperion", api_base.rstrip("/"), str(administration_id)))
        super().__init__(
            api_base, oauth=oauth, limiter=limiter, on_call=on_call, timeout=timeout, **kwargs
        )
        self.administration_id = administration_id
        self.language = language

    @property
    def service_label(self) -> str:
        return "Asperion"

    @classmethod
    def make_oauth(
        cls,
        identity_base: str,
        client_id: str,
        client_secret: str,
        token_store: TokenStore,
        **kwargs,
    ) -> OAuth2Client:
        """The OAuth client of an identity host (refresh 60 s before expiry)."""
        base = identity_base.rstrip("/")
        kwargs.setdefault("refresh_margin", 60)
        kwargs.setdefault("service", "asperion")
        return OAuth2Client(
            base + TOKEN_PATH,
            base + AUTHORIZE_PATH,
            client_id,
            client_secret,
            token_store,
            **kwargs,
        )

    # -- plumbing -----------------------------------------------------------------------
    def default_headers(self, method: str, url: str) -> dict:
        headers = {
            "Accept": "application/json, application/problem+json",
            "Accept-Language": self.language,
        }
        # requests sets Content-Type itself: JSON for json=, multipart boundary for files=.
        if self.administration_id not in (None, "") and not urlsplit(url).path.lower().endswith(
            PATHS["administrations"]
        ):
            for name in TENANT_HEADERS:
                headers[name] = str(self.administration_id)
        return headers

    def remote_message(self, response: requests.Response) -> str | None:
        body = _json(response)
        if isinstance(body, dict):
            parts = [str(body[k]) for k in ("title", "detail") if body.get(k)]
            if parts:
                return " ".join(parts)
            if body.get("message"):
                return str(body["message"])
        return super().remote_message(response)

    def error_from_response(self, response: requests.Response) -> BookkeepingError:
        status = response.status_code
        body = _json(response)
        if status in (400, 409, 422) or (
            400 <= status < 500
            and isinstance(body, dict)
            and body.get("errors")
            and status not in (401, 403, 404, 429)
        ):
            errors = body.get("errors") if isinstance(body, dict) else None
            return ValidationError(
                "Asperion refused the data.",
                status=status,
                remote_message=self.remote_message(response),
                field_errors=errors if isinstance(errors, dict) else {},
            )
        return super().error_from_response(response)

    def check_response(self, response: requests.Response) -> None:
        # A wrong or ignored tenant header silently gives the default administration.
        if self.administration_id in (None, "") or not response.content:
            return
        if urlsplit(response.url).path.lower().endswith(PATHS["administrations"]):
            return  # the list of administrations is sent without a tenant: nothing to check
        body = _json(response)
        meta = body.get("_meta") if isinstance(body, dict) else None
        if isinstance(meta, dict) and meta.get("administrationId") not in (None, ""):
            if str(meta["administrationId"]) != str(self.administration_id):
                raise AccessDenied(
                    f"Asperion answered for administration {meta['administrationId']} instead "
                    f"of {self.administration_id}; the request was refused to keep the "
                    "administrations apart.",
                    status=response.status_code,
                )

    def _iter(self, key: str, filters: dict | None = None) -> Iterator[dict]:
        params = {"pageSize": PAGE_SIZE, "page": 1}
        params.update({k: _param(v) for k, v in (filters or {}).items() if v is not None})
        yield from self.iter_pages(self.url(PATHS[key]), params, next_of=_next_page, items_of=_data)

    def _list(self, key: str, filters: dict | None = None) -> list[dict]:
        return list(self._iter(key, filters))

    def _post(self, key: str, vals: dict, **fmt) -> dict:
        response = self.request("POST", self.url(PATHS[key].format(**fmt)), json=vals)
        body = self.decode(response)
        if isinstance(body, int | str):  # a draft create may return only the id
            return {"id": body}
        return body or {}

    # -- master data --------------------------------------------------------------------
    def administrations(self) -> list[dict]:
        """Administrations the user can reach (``id``, ``name``); no tenant header."""
        return self._list("administrations")

    def vat_codes(self, sales: bool = True) -> list[dict]:
        """VAT codes (``SalesCode=true`` for sales codes)."""
        return self._list("vat_codes", {"SalesCode": "true"} if sales else None)

    def debtor_kinds(self) -> list[dict]:
        """Debtor kinds (required on every debtor)."""
        return self._list("debtor_kinds")

    def payment_conditions(self) -> list[dict]:
        """Payment conditions (``id``, ``description``)."""
        return self._list("payment_conditions")

    def journals(self) -> list[dict]:
        """Journals (``id`` like "70", ``description``, ``type``)."""
        return self._list("journals")

    def ledger_accounts(self) -> list[dict]:
        """Ledger accounts (``id``, ``type``, ``description``, ``vatCode``)."""
        return self._list("ledger_accounts")

    def sales_types(self) -> list[dict]:
        """Sales types (select the revenue ledger account)."""
        return self._list("sales_types")

    def articles(self) -> list[dict]:
        """Articles."""
        return self._list("articles")

    def countries(self) -> list[dict]:
        """Countries a debtor may have."""
        return self._list("countries")

    # -- debtors ------------------------------------------------------------------------
    def debtors(self, **filters) -> Iterator[dict]:
        """Debtors, all pages (filters in PascalCase, e.g. ``EmailAddress=…``,
        ``CustomerNumber=…, CustomerNumber_comparison='Equals'``)."""
        return self._iter("debtors", filters)

    def create_debtor(self, vals: dict) -> dict:
        """POST a debtor (``name``, ``debtorKindId`` required); returns it with ``id``."""
        return self._post("debtors", vals)

    def debtor(self, id: int | str) -> dict | None:
        """One debtor, or None when it was removed in Asperion."""
        try:
            return self.get_json(self.url(PATHS["debtor"].format(id=id)))
        except NotFound:
            return None

    def update_debtor(self, id: int | str, vals: dict) -> dict:
        """PUT a debtor. Take it as a whole-record replace (a field left out may become
        empty): send the debtor as read, with the changes laid over it."""
        response = self.request("PUT", self.url(PATHS["debtor"].format(id=id)), json=vals)
        return self.decode(response) or {}

    # -- invoices -----------------------------------------------------------------------
    def create_draft_invoice(self, vals: dict) -> dict:
        """POST a draft with lines (see :func:`draft_invoice`); returns at least ``id``."""
        return self._post("draft_invoices", vals)

    def draft_invoices(self, **filters) -> Iterator[dict]:
        """Draft invoices, all pages."""
        return self._iter("draft_invoices", filters)

    def draft_invoice(self, id: int | str) -> dict | None:
        """One draft, or None when it is gone (finalised or removed in Asperion)."""
        try:
            return self.get_json(self.url(PATHS["draft_invoice"].format(id=id)))
        except NotFound:
            return None

    def create_sales_invoice(self, vals: dict) -> dict:
        """POST a final sales invoice with lines (booked elsewhere, e.g. by Odoo)."""
        return self._post("sales_invoices", vals)

    def sales_invoices(self, **filters) -> Iterator[dict]:
        """Sales invoices, all pages (e.g. ``Description=ref, Description_comparison='Equals'``)."""
        return self._iter("sales_invoices", filters)

    def upload_sales_invoice_file(
        self,
        invoice_id: int | str,
        filename: str,
        content_bytes: bytes,
        content_type: str = "application/pdf",
    ) -> dict:
        """Attach a PDF (multipart part ``File``, at most 5 MB)."""
        if len(content_bytes) > MAX_FILE_BYTES:
            raise ValidationError(f"The file {filename} is larger than the 5 MB Asperion accepts.")
        response = self.request(
            "POST",
            self.url(PATHS["sales_invoice_file"].format(id=invoice_id)),
            files={FIELDS["file_part"]: (filename, content_bytes, content_type)},
        )
        return self.decode(response) or {}

    def outstanding_sales_invoices(self, **filters) -> Iterator[dict]:
        """Open sales invoices (gone or ``outstandingAmount`` 0 = paid)."""
        return self._iter("outstanding_sales_invoices", filters)


def _json(response: requests.Response):
    try:
        return response.json()
    except ValueError:
        return None


def _param(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _data(body) -> list[dict]:
    if isinstance(body, dict):
        return body.get("_data") or []
    if isinstance(body, list):
        return body
    return []


def _next_page(body) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("_meta"), dict):
        return body["_meta"].get("nextPage") or None
    return None
