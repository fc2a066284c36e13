"""Visma eAccounting API v2 client (one company per client).

Facts: doc/api/visma.md (V-ids). The client relies only on what is confirmed or on the
safest reading of what is inferred: HTTP Basic at the token endpoint (V3), single-use
refresh tokens saved at once (V8), one company per token checked by CompanyIdentifier
(V5, V6), filters that may be refused fall back to reading the list (V15), a budget of
600 calls per minute per endpoint paced client-side, and a 429's wait read from its text
(V21).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import requests
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from .errors import AccessDenied, BookkeepingError, NotFound, RateLimited, ValidationError
from .http import DEFAULT_TIMEOUT, ApiClient
from .oauth import OAuth2Client, TokenStore
from .ratelimit import RateLimiter, limiter_for

PRODUCTION = {
    "identity": "https://identity.vismaonline.com",
    "api": "https://eaccountingapi.vismaonline.com",
}
SANDBOX = {
    "identity": "https://identity-sandbox.test.vismaonline.com",
    "api": "https://eaccountingapi-sandbox.test.vismaonline.com",
}
AUTHORIZE_PATH = "/connect/authorize"
TOKEN_PATH = "/connect/token"
REVOCATION_PATH = "/connect/revocation"
SCOPE = "ea:api offline_access ea:sales ea:accounting"  # V4
PAGE_SIZE = 100  # V14: the safest maximum
CALLS_PER_MINUTE = 600  # V21, per endpoint
NO_API_MODULE = "api_standard"  # V22
MARKER_PREFIX = "Odoo: "
_TRY_AGAIN = re.compile(r"try again in (\d+(?:\.\d+)?) second", re.IGNORECASE)
_ODOO_NAME = re.compile(r"^(?P<prefix>.*?)(?P<year>\d{4})\D+(?P<seq>\d+)$")
INT32_MAX = 2**31 - 1


class BasicAuthSession(OAuth2Session):
    """V3: the identity server takes the client in HTTP Basic, never in the body."""

    def fetch_token(self, token_url, code=None, client_secret=None, **kwargs):
        kwargs.pop("include_client_id", None)
        kwargs["auth"] = HTTPBasicAuth(self._client.client_id, client_secret or "")
        return super().fetch_token(token_url, code=code, include_client_id=False, **kwargs)

    def refresh_token(self, token_url, refresh_token=None, **kwargs):
        client_id = kwargs.pop("client_id", None) or self._client.client_id
        secret = kwargs.pop("client_secret", None) or ""
        kwargs["auth"] = HTTPBasicAuth(client_id, secret)
        return super().refresh_token(token_url, refresh_token=refresh_token, **kwargs)


def marker(reference: str) -> str:
    """The text row that carries our reference into the invoice (found again by V15's
    confirmed ``Rows/any`` filter)."""
    return f"{MARKER_PREFIX}{reference}"


def text_row(text: str) -> dict:
    """A draft text row (V31: 1..2000 characters)."""
    return {"IsTextRow": True, "ReversedConstructionServicesVatFree": False, "Text": text[:2000]}


def article_row(article_id: str, quantity, unit_price, *, text=None, discount=None) -> dict:
    """A draft article row; VAT and revenue come from the article's coding (V32)."""
    row = {
        "IsTextRow": False,
        "ReversedConstructionServicesVatFree": False,
        "ArticleId": article_id,
        "Quantity": quantity,
        "UnitPrice": unit_price,
    }
    if text:
        row["Text"] = text[:2000]
    if discount:
        row["DiscountPercentage"] = discount  # a fraction 0..1 (V31)
    return row


def ledger_invoice_number(name: str, series: int = 1) -> int:
    """Odoo's ``PREFIX/YYYY/SEQ`` as the int32 ``InvoiceNumber`` of a ledger item (V38):
    ``series * 10**8 + (YYYY % 100) * 10**6 + SEQ``. Unique per series (one per journal and
    move type), reversible with :func:`split_ledger_invoice_number`; a name that does not
    fit raises ValidationError saying why."""
    match = _ODOO_NAME.match((name or "").strip())
    if not match:
        raise ValidationError(
            f"The invoice number {name!r} cannot be sent as a Visma invoice number: it must "
            "end in a 4-digit year and a sequence (like INV/2026/00042)."
        )
    seq = int(match["seq"])
    if not 1 <= series <= 21 or seq >= 10**6:
        raise ValidationError(
            f"The invoice number {name!r} does not fit Visma's whole-number invoice number: "
            "the sequence must stay below 1,000,000 (and at most 21 number series)."
        )
    number = series * 10**8 + (int(match["year"]) % 100) * 10**6 + seq
    if number > INT32_MAX:
        raise ValidationError(f"The invoice number {name!r} is too large for Visma.")
    return number


def split_ledger_invoice_number(number: int) -> tuple[int, int, int]:
    """(series, two-digit year, sequence) of a number made by :func:`ledger_invoice_number`."""
    return number // 10**8, number // 10**6 % 100, number % 10**6


class VismaClient(ApiClient):
    """One Visma eAccounting company (the one the token was consented for, V5)."""

    service = "visma"
    PRODUCTION = PRODUCTION
    SANDBOX = SANDBOX

    def __init__(
        self,
        api_base: str,
        oauth: OAuth2Client,
        *,
        company_id: str | None = None,
        limiter_factory: Callable[[str], RateLimiter] | None = None,
        on_call: Callable[[dict], None] | None = None,
        timeout=DEFAULT_TIMEOUT,
        **kwargs,
    ):
        super().__init__(api_base, oauth=oauth, on_call=on_call, timeout=timeout, **kwargs)
        self.company_id = company_id
        self.limiter_factory = limiter_factory or self._default_limiter
        self.inferred_filters: bool | None = None  # None: not tried yet (V15)

    @property
    def service_label(self) -> str:
        return "Visma eAccounting"

    @classmethod
    def make_oauth(
        cls,
        identity_base: str,
        client_id: str,
        client_secret: str,
        token_store: TokenStore,
        **kwargs,
    ) -> OAuth2Client:
        """The OAuth client of an identity host: Basic client auth, our scopes."""
        base = identity_base.rstrip("/")
        kwargs.setdefault("refresh_margin", 60)
        kwargs.setdefault("service", "visma")
        kwargs.setdefault("scope", SCOPE.split())
        kwargs.setdefault("session_factory", BasicAuthSession)
        return OAuth2Client(
            base + TOKEN_PATH,
            base + AUTHORIZE_PATH,
            client_id,
            client_secret,
            token_store,
            **kwargs,
        )

    @staticmethod
    def revoke(
        identity_base: str, client_id: str, client_secret: str, token: str, timeout=DEFAULT_TIMEOUT
    ) -> None:
        """End a grant at the identity server (V10): used when a link is removed."""
        response = requests.post(
            identity_base.rstrip("/") + REVOCATION_PATH,
            data={"token": token, "token_type_hint": "refresh_token"},
            auth=HTTPBasicAuth(client_id, client_secret),
            timeout=timeout,
        )
        if response.status_code >= 400:
            raise BookkeepingError(
                f"Visma eAccounting refused to revoke the token (HTTP {response.status_code}).",
                status=response.status_code,
                remote_message=response.text[:300],
            )

    # -- rate budget per endpoint (V21) --------------------------------------------------
    def _default_limiter(self, endpoint: str) -> RateLimiter:
        client = getattr(self.oauth, "client_id", "")
        key = ("visma", self.base_url, client, endpoint)
        # 2 % under the budget: the server counts a sliding minute, clocks drift
        options = {"min_interval": 60.0 / CALLS_PER_MINUTE * 1.02}
        if self.limiter is not None:  # the caller's kind of limiter, e.g. a shared one
            return self.limiter.for_key(key, **options)
        return limiter_for(key, **options)

    @staticmethod
    def endpoint_of(url: str) -> str:
        """The resource a URL counts against: the first segment below ``/v2``."""
        parts = [p for p in urlsplit(url).path.lower().split("/") if p]
        if "v2" in parts and parts.index("v2") + 1 < len(parts):
            return parts[parts.index("v2") + 1]
        return parts[-1] if parts else ""

    def limiter_for_url(self, url: str) -> RateLimiter | None:
        return self.limiter_factory(self.endpoint_of(url))

    def rate_limit_snapshot(self) -> dict:
        return {"calls_per_minute_per_endpoint": CALLS_PER_MINUTE}

    def _note_throttle(self, response, limiter: RateLimiter | None) -> float | None:
        """V21: no Retry-After; the wait is in the text ("Try again in N seconds")."""
        seconds = retry_seconds(response)
        if limiter is not None:
            return limiter.update_from_retry_after(seconds if seconds is not None else None)
        import time  # noqa: PLC0415

        return time.time() + (seconds if seconds is not None else 60.0)

    # -- errors (V19-V22) ----------------------------------------------------------------
    def remote_message(self, response: requests.Response) -> str | None:
        body = _json(response)
        if isinstance(body, dict) and ("ErrorCode" in body or "DeveloperErrorMessage" in body):
            text = str(body.get("DeveloperErrorMessage") or f"ErrorCode {body.get('ErrorCode')}")
            if body.get("ErrorId"):
                text = f"{text} (ErrorId {body['ErrorId']})"
            return text
        return super().remote_message(response)

    def error_from_response(self, response: requests.Response) -> BookkeepingError:
        status = response.status_code
        body = _json(response) if isinstance(_json(response), dict) else {}
        code = body.get("ErrorCode")
        remote = self.remote_message(response)
        fields = {}
        for item in body.get("Errors") or []:
            if isinstance(item, dict):
                fields.setdefault(str(item.get("Field") or "?"), []).append(
                    str(item.get("Message") or item.get("ErrorCode") or "")
                )
        kwargs = {"status": status, "remote_message": remote, "reason": None}
        if status == 403 and (code == 4002 or NO_API_MODULE in (remote or "")):
            err = AccessDenied(
                "This Visma eAccounting company has no access to the API (module "
                "api_standard): activate the integration in eAccounting under Settings > Apps "
                "and extensions (it needs a licence that includes it), or log in to the right "
                "company (a default company skips the company choice), then reconnect.",
                **kwargs,
            )
        elif status == 403 and code == 4006:
            err = AccessDenied(
                "The Visma eAccounting link lacks a permission (scope) for this call: "
                f"reconnect it and allow {SCOPE}.",
                **kwargs,
            )
        elif status == 403:
            err = AccessDenied(
                "Visma eAccounting refused access to this company (inactive company, "
                "startup guide not completed, or user rights).",
                **kwargs,
            )
        elif status == 429:
            seconds = retry_seconds(response)
            import time  # noqa: PLC0415

            err = RateLimited(
                retry_at=time.time() + (seconds if seconds is not None else 60.0), **kwargs
            )
        elif status in (400, 409, 422) or (400 <= status < 500 and status not in (401, 404)):
            err = ValidationError(
                "Visma eAccounting refused the data.", field_errors=fields, **kwargs
            )
        else:
            err = super().error_from_response(response)
        err.error_code = code
        err.error_id = body.get("ErrorId")
        return err

    # -- paging and look-ups -------------------------------------------------------------
    def iter_list(self, path: str, params: dict | None = None) -> Iterator[dict]:
        """Every item of a list endpoint, page by page until Meta says it was the last."""
        page = 1
        while True:
            query = dict(params or {}, **{"$page": page, "$pagesize": PAGE_SIZE})
            body = self.get_json(self.url(path), params=query) or {}
            data = body.get("Data") or []
            yield from data
            meta = body.get("Meta") or {}
            if not data or int(meta.get("CurrentPage") or page) >= int(
                meta.get("TotalNumberOfPages") or 0
            ):
                return
            page += 1

    def _find(self, path: str, expr: str, match: Callable[[dict], bool]) -> list[dict]:
        """Items matching an inferred filter (V15), or the whole list read and matched here
        when the service refuses that filter; remembered for the client's life."""
        if self.inferred_filters is not False:
            try:
                found = [i for i in self.iter_list(path, {"$filter": expr}) if match(i)]
                self.inferred_filters = True
                return found
            except ValidationError as exc:
                if exc.status != 400 or "filter" not in str(exc.remote_message or "").lower():
                    raise
                self.inferred_filters = False
        return [i for i in self.iter_list(path) if match(i)]

    def _get_or_none(self, path: str) -> dict | None:
        try:
            return self.get_json(self.url(path))
        except NotFound:
            return None

    def _post(self, path: str, vals: dict | None, params=None) -> dict:
        response = self.request("POST", self.url(path), json=vals, params=params)
        return self.decode(response) or {}

    # -- company and master data ---------------------------------------------------------
    def company_settings(self) -> dict:
        """V6: the company behind the token (``CompanyIdentifier``, ``Name``, currency)."""
        return self.get_json(self.url("/v2/companysettings")) or {}

    def check_company(self, expected: str | None = None) -> dict:
        """The company settings; AccessDenied when the token belongs to another company
        than ``expected`` (a reconnect that landed elsewhere, V5)."""
        settings = self.company_settings()
        expected = expected or self.company_id
        if expected and settings.get("CompanyIdentifier") != expected:
            raise AccessDenied(
                f"The Visma eAccounting login chose the company {settings.get('Name')!r}, not "
                "the one this link belongs to; reconnect and choose the linked company."
            )
        return settings

    def vat_codes(self) -> list[dict]:
        return list(self.iter_list("/v2/vatcodes"))

    def terms_of_payments(self) -> list[dict]:
        return list(self.iter_list("/v2/termsofpayments"))

    def article_account_codings(self) -> list[dict]:
        return list(self.iter_list("/v2/articleaccountcodings"))

    def units(self) -> list[dict]:
        return list(self.iter_list("/v2/units"))

    def fiscal_years(self) -> list[dict]:
        return list(self.iter_list("/v2/fiscalyears"))

    def accounts(self, fiscal_year_id: str | None = None) -> list[dict]:
        path = f"/v2/accounts/{fiscal_year_id}" if fiscal_year_id else "/v2/accounts"
        return list(self.iter_list(path))

    def currencies(self) -> list[dict]:
        return list(self.iter_list("/v2/currencies"))

    # -- customers and articles ----------------------------------------------------------
    def customers(self) -> Iterator[dict]:
        return self.iter_list("/v2/customers")

    def customer(self, id: str) -> dict | None:
        return self._get_or_none(f"/v2/customers/{id}")

    def create_customer(self, vals: dict) -> dict:
        return self._post("/v2/customers", vals)

    def update_customer(self, id: str, vals: dict) -> dict:
        """PUT replaces the writable fields (V26): send the customer as read, with the
        changes laid over it, so nothing remote is blanked."""
        response = self.request("PUT", self.url(f"/v2/customers/{id}"), json=vals)
        return self.decode(response) or {}

    def find_customers(self, *, email=None, number=None, vat=None) -> list[dict]:
        """Customers by e-mail, customer number or VAT number (case-insensitive)."""
        for field, value in (
            ("EmailAddress", email),
            ("CustomerNumber", number),
            ("VatNumber", vat),
        ):
            if value:
                want = str(value).strip().lower()
                return self._find(
                    "/v2/customers",
                    f"{field} eq {_literal(value)}",
                    lambda c, f=field, w=want: str(c.get(f) or "").strip().lower() == w,
                )
        return []

    def articles(self) -> Iterator[dict]:
        return self.iter_list("/v2/articles")

    def create_article(self, vals: dict) -> dict:
        return self._post("/v2/articles", vals)

    def update_article(self, id: str, vals: dict) -> dict:
        response = self.request("PUT", self.url(f"/v2/articles/{id}"), json=vals)
        return self.decode(response) or {}

    def find_article(self, number: str) -> dict | None:
        """The article with this ``Number`` (an Odoo SKU), or None."""
        want = str(number).strip().lower()
        found = self._find(
            "/v2/articles",
            f"Number eq {_literal(number)}",
            lambda a: str(a.get("Number") or "").lower() == want,
        )
        return found[0] if found else None

    # -- drafts and invoices (Visma numbers the invoice) -----------------------------------
    def create_draft(self, vals: dict) -> dict:
        """POST a customer invoice draft; put :func:`marker` in a text row first."""
        return self._post("/v2/customerinvoicedrafts", vals)

    def draft(self, id: str) -> dict | None:
        """One draft, or None when it is gone (converted or deleted, V35)."""
        return self._get_or_none(f"/v2/customerinvoicedrafts/{id}")

    def drafts(self) -> Iterator[dict]:
        return self.iter_list("/v2/customerinvoicedrafts")

    def drafts_by_ids(self, ids) -> dict[str, dict]:
        """The drafts among ``ids`` still open, read in pages (not one call per draft)."""
        wanted = {str(i).lower() for i in ids}
        return {d["Id"]: d for d in self.drafts() if str(d.get("Id")).lower() in wanted}

    def find_draft(self, reference: str) -> dict | None:
        """The draft carrying our marker row or ``YourReference`` (a lost create)."""
        text, ref = marker(reference).lower(), reference.lower()
        for draft in self.drafts():
            rows = draft.get("Rows") or []
            if any(str(r.get("Text") or "").lower() == text for r in rows) or (
                str(draft.get("YourReference") or "").lower() == ref
            ):
                return draft
        return None

    def convert_draft(
        self, id: str, expected: dict | None = None, *, keep_date: bool = True
    ) -> dict:
        """Book a draft (V34): ``expected`` totals make eAccounting refuse a difference;
        the draft's date is kept, whatever the company setting says."""
        params = {
            "keepOriginalDraftDate": "true" if keep_date else "false",
            "overrideCompanyKeepOriginalDraftDate": "true",
        }
        return self._post(f"/v2/customerinvoicedrafts/{id}/convert", expected, params=params)

    def invoice(self, id: str) -> dict | None:
        return self._get_or_none(f"/v2/customerinvoices/{id}")

    def invoices(self, modified_since: str | None = None) -> Iterator[dict]:
        """Customer invoices, optionally only those changed since (V17; payments too)."""
        params = {"modifiedSinceUtc": modified_since} if modified_since else None
        return self.iter_list("/v2/customerinvoices", params)

    def find_invoices(self, reference: str) -> list[dict]:
        """Invoices carrying our marker row: the confirmed filter (V15)."""
        text = marker(reference)
        expr = f"Rows/any(c: contains(c/Text,{_literal(text)}))"
        rows = self.iter_list("/v2/customerinvoices", {"$filter": expr})
        return [
            i
            for i in rows
            if any(str(r.get("Text") or "").lower() == text.lower() for r in i.get("Rows") or [])
        ]

    def find_invoice_for_draft(self, draft_id: str, reference: str) -> dict | None:
        """The invoice booked from ``draft_id`` (a lost convert, V35)."""
        for invoice in self.find_invoices(reference):
            if str(invoice.get("CreatedFromDraftId") or "").lower() == str(draft_id).lower():
                return invoice
        return None

    def attach_invoice_pdf(self, invoice_id: str, filename: str, content: bytes) -> dict:
        """V42: a PDF on a customer invoice."""
        import base64  # noqa: PLC0415

        return self._post(
            "/v2/salesdocumentattachments/customerinvoice",
            {
                "ContentType": "application/pdf",
                "FileName": filename[:128],
                "DockumentId": invoice_id,  # sic (V42)
                "Data": base64.b64encode(content).decode(),
            },
        )

    # -- ledger items (Odoo numbers the invoice) -----------------------------------------
    def create_ledger_item(self, vals: dict) -> dict:
        """V38: a customer ledger item and its voucher in one call."""
        return self._post("/v2/customerledgeritems/customerledgeritemswithvoucher", vals)

    def ledger_item(self, id: str) -> dict | None:
        return self._get_or_none(f"/v2/customerledgeritems/{id}")

    def ledger_items(self) -> Iterator[dict]:
        return self.iter_list("/v2/customerledgeritems")

    def find_ledger_items(self, invoice_numbers) -> dict[int, dict]:
        """Ledger items by our int32 InvoiceNumber (before any retry, V40)."""
        wanted = {int(n) for n in invoice_numbers}
        if len(wanted) == 1:
            (only,) = wanted
            found = self._find(
                "/v2/customerledgeritems",
                f"InvoiceNumber eq {only}",
                lambda i: i.get("InvoiceNumber") == only,
            )
        else:
            found = [i for i in self.ledger_items() if i.get("InvoiceNumber") in wanted]
        return {i["InvoiceNumber"]: i for i in found}

    def attach_voucher_pdf(self, voucher_id: str, filename: str, content: bytes) -> dict:
        """V43: upload, then link to the voucher (DocumentType 3)."""
        import base64  # noqa: PLC0415

        safe = re.sub(r"[^A-Za-z0-9\-_() ]", "_", filename.rsplit(".", 1)[0])[:190] + ".pdf"
        attachment = self._post(
            "/v2/attachments",
            {
                "ContentType": "application/pdf",
                "FileName": safe,
                "Data": base64.b64encode(content).decode(),
            },
        )
        self._post(
            "/v2/attachmentlinks",
            {"DocumentId": voucher_id, "DocumentType": 3, "AttachmentIds": [attachment["Id"]]},
        )
        return attachment


def retry_seconds(response: requests.Response) -> float | None:
    """N of "Try again in N seconds" in a 429's text (V21), or None."""
    body = _json(response)
    text = body.get("DeveloperErrorMessage") if isinstance(body, dict) else response.text
    match = _TRY_AGAIN.search(str(text or ""))
    return float(match.group(1)) if match else None


def _literal(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _json(response: requests.Response):
    try:
        return response.json()
    except ValueError:
        return None
