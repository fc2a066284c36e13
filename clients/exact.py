"""Exact Online REST client (OData v2, one division per client).

Facts: /work/shared/api/exact-online.md. Amounts and GUIDs go as Exact wants them; dates
come back as ``/Date(ms)/`` and are turned into naive ``datetime`` (division wall clock);
padded codes (account ``Code``, ``Country``, VAT ``Code``) come back stripped.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import quote

import requests

from .errors import BookkeepingError, NotFound, RetryableError, ValidationError
from .http import DEFAULT_TIMEOUT, ApiClient
from .oauth import OAuth2Client, TokenStore
from .ratelimit import BudgetHeaders, RateLimiter, RatePolicy, limiter_for

HOSTS = {
    "nl": "https://start.exactonline.nl",
    "be": "https://start.exactonline.be",
    "de": "https://start.exactonline.de",
    "fr": "https://start.exactonline.fr",
    "es": "https://start.exactonline.es",
    "co.uk": "https://start.exactonline.co.uk",
    "com": "https://start.exactonline.com",
}
AUTHORIZE_PATH = "/api/oauth2/auth"
TOKEN_PATH = "/api/oauth2/token"
MIN_TOKEN_AGE = 570  # a new access token only 570 s after the previous one

# Exact tells its budget per division in six X-RateLimit-* headers (resets in epoch
# milliseconds); a minutely 429 carries only the three minutely ones and no Retry-After, and
# its windows are clock minutes.
RATE_POLICY = RatePolicy(
    minute=BudgetHeaders(
        "X-RateLimit-Minutely-Remaining", "X-RateLimit-Minutely-Reset", "X-RateLimit-Minutely-Limit"
    ),
    day=BudgetHeaders("X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Limit"),
    clock_minute_windows=True,
    scope="administration",
)
MAX_URL = 6000  # Exact refuses longer URLs
OR_GROUP = 40  # values per or-group (ossobv)
MAX_POST_BYTES = 10 * 1024 * 1024
# 500s that are really validation errors (bad reference, mandatory field, ...).
VALIDATION_500_PREFIXES = ("ongeldige referentie", "invalid", "verplicht", "mandatory")
STRIP_KEYS = frozenset(
    {
        "Code",
        "Country",
        "CountryCode",
        "VATCode",
        "SalesVATCode",
        "PurchaseVATCode",
        "AccountCode",
        "CustomerCode",
        "VATCodeCode",
    }
)
_DATE_RE = re.compile(r"^/Date\((-?\d+)(?:[+-]\d+)?\)/$")
_GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)

DEFAULT_SELECT = {
    "accounts": "ID,Code,Name,Email,VATNumber,ChamberOfCommerce,Country,City,Postcode,"
    "AddressLine1,Status,Blocked",
    "sales_entries": "EntryID,EntryNumber,YourRef,Status,AmountFC,AmountDC,VATAmountFC,"
    "Customer,Journal,Document",
    "sales_invoices": "InvoiceID,InvoiceNumber,YourRef,Status,AmountFC,AmountFCExclVat,"
    "VATAmountFC,OrderedBy,InvoiceTo,Journal,Document",
    "receivables": "ID,TransactionEntryID,EntryNumber,InvoiceNumber,YourRef,IsFullyPaid,Status,"
    "AmountDC,AmountFC,LastPaymentDate,DueDate",
}


# -- values ------------------------------------------------------------------------------
class Guid(str):
    """A string to be written as ``guid'…'`` in a filter."""


class Int64(int):
    """An int to be written as ``123L`` in a filter."""


def parse_date(value):
    """``/Date(1723420800000)/`` -> naive ``datetime`` (other values unchanged)."""
    if isinstance(value, str):
        match = _DATE_RE.match(value)
        if match:
            return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(match.group(1)))
    return value


def normalise(value):
    """Parse ``/Date()/`` values and strip padded codes, recursively."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in STRIP_KEYS and isinstance(item, str):
                out[key] = item.strip()
            else:
                out[key] = normalise(item)
        return out
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return parse_date(value)


def literal(value) -> str:
    """An OData v2 literal for ``value`` (quotes doubled, guid/datetime/Int64 typed)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Guid | uuid.UUID):
        return f"guid'{str(value).lower()}'"
    if isinstance(value, Int64):
        return f"{int(value)}L"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"datetime'{value.replace(microsecond=0, tzinfo=None).isoformat()}'"
    if isinstance(value, dt.date):
        return f"datetime'{value.isoformat()}T00:00:00'"
    text = str(value).replace("'", "''")
    return f"'{text}'"


def eq(field: str, value) -> str:
    """``field eq <literal>``."""
    return f"{field} eq {literal(value)}"


def and_(*parts: str) -> str:
    """Join non-empty filter parts with ``and`` (each in parentheses)."""
    parts = [p for p in parts if p]
    if len(parts) == 1:
        return parts[0]
    return " and ".join(f"({p})" for p in parts)


def _typed(field: str, value):
    # GUID-valued keys (ID, InvoiceID, TransactionEntryID, ...) need the guid'' literal.
    if (
        isinstance(value, str)
        and not isinstance(value, Guid)
        and (field == "ID" or field.endswith("ID") or field in ("Account", "Customer"))
        and _GUID_RE.match(value)
    ):
        return Guid(value)
    return value


def or_groups(
    field: str,
    values: Iterable,
    *,
    max_values: int = OR_GROUP,
    max_chars: int = 3000,
    op: str = "eq",
) -> list[str]:
    """Split ``values`` into ``(field eq a or field eq b …)`` filters.

    Each group has at most ``max_values`` values and its URL-encoded length stays under
    ``max_chars``, so the whole URL stays below Exact's 6000 characters.
    """
    groups: list[str] = []
    current: list[str] = []
    size = 0
    seen = set()
    for value in values:
        key = (type(value).__name__, str(value))
        if value in (None, "") or key in seen:
            continue
        seen.add(key)
        term = f"{field} {op} {literal(_typed(field, value))}"
        term_size = len(quote(term, safe="")) + len(quote(" or ", safe=""))
        if current and (len(current) >= max_values or size + term_size > max_chars):
            groups.append(" or ".join(current))
            current, size = [], 0
        current.append(term)
        size += term_size
    if current:
        groups.append(" or ".join(current))
    return groups


# -- client ------------------------------------------------------------------------------
class ExactClient(ApiClient):
    """One Exact Online division.

    ``base_url`` is the country host (``HOSTS["nl"]`` or the sandbox's ``{url}/exact``).
    """

    service = "exact"
    rate_policy = RATE_POLICY
    HOSTS = HOSTS

    def __init__(
        self,
        base_url: str,
        division: int | str,
        oauth: OAuth2Client,
        *,
        limiter: RateLimiter | None = None,
        on_call: Callable[[dict], None] | None = None,
        timeout=DEFAULT_TIMEOUT,
        **kwargs,
    ):
        if limiter is None:
            limiter = limiter_for(("exact", str(base_url).rstrip("/"), int(division)))
        super().__init__(
            base_url, oauth=oauth, limiter=limiter, on_call=on_call, timeout=timeout, **kwargs
        )
        self.division = int(division)

    @property
    def service_label(self) -> str:
        return "Exact Online"

    @classmethod
    def make_oauth(
        cls,
        base_url: str,
        client_id: str,
        client_secret: str,
        token_store: TokenStore,
        **kwargs,
    ) -> OAuth2Client:
        """The OAuth client of a country host (the 570 s rule; the refresh margin is the
        shared min(60 s, half the lifetime), so in practice the last 30 s)."""
        base = base_url.rstrip("/")
        kwargs.setdefault("min_token_age", MIN_TOKEN_AGE)
        kwargs.setdefault("service", "exact")
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
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if method == "POST":
            headers["Prefer"] = "return=representation"  # else most fields come back null
        return headers

    def remote_message(self, response: requests.Response) -> str | None:
        try:
            body = response.json()
        except ValueError:
            text = (response.text or "").strip()
            return text[:500] or None
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message = error.get("message")
            if isinstance(message, dict):
                message = message.get("value")
            if message:
                return "\n".join(
                    part.strip() for part in str(message).split("\r\n") if part.strip()
                )
            if error.get("code"):
                return str(error["code"])
        if isinstance(body, dict) and body.get("error_description"):
            return str(body["error_description"])
        return None

    def error_from_response(self, response: requests.Response) -> BookkeepingError:
        status = response.status_code
        remote = self.remote_message(response)
        reason = response.headers.get("Reason")
        ctype = response.headers.get("Content-Type", "")
        if status >= 500:
            if (
                remote
                and remote.lower().startswith(VALIDATION_500_PREFIXES)
                and ("html" not in ctype)
            ):
                return ValidationError(
                    "Exact Online refused the data.",
                    status=status,
                    remote_message=remote,
                    reason=reason,
                )
            return RetryableError(
                f"Exact Online had a temporary problem (HTTP {status}); "
                "it will be tried again later.",
                status=status,
                remote_message=remote if "html" not in ctype else None,
                reason=reason,
            )
        if status in (400, 405, 409, 412, 413, 422):
            return ValidationError(
                "Exact Online refused the request.",
                status=status,
                remote_message=remote,
                reason=reason,
            )
        return super().error_from_response(response)

    def api(self, path: str) -> str:
        """URL of ``path`` below ``/api/v1/{division}/``."""
        return f"{self.base_url}/api/v1/{self.division}/{path.lstrip('/')}"

    def _collection(
        self,
        path: str,
        *,
        select: str | None = None,
        filter: str | None = None,
        top: int | None = None,
        extra: dict | None = None,
    ) -> Iterator[dict]:
        params = {}
        if select:
            params["$select"] = select
        if filter:
            params["$filter"] = filter
        if top:
            params["$top"] = top
        if extra:
            params.update(extra)
        url = path if path.startswith("http") else self.api(path)
        for row in self.iter_pages(url, params, next_of=_next_link, items_of=_results):
            yield normalise(row)

    def _post(self, path: str, vals: dict) -> dict:
        body = self.decode(self.request("POST", self.api(path), json=vals))
        return normalise(_entity(body))

    def _put(self, path: str, vals: dict) -> None:
        self.request("PUT", self.api(path), json=vals)

    def _grouped(
        self, path: str, field: str, values: Iterable, select: str, extra_filter: str | None = None
    ) -> list[dict]:
        rows: list[dict] = []
        budget = MAX_URL - len(self.api(path)) - len(quote(select or "", safe="")) - 200
        for group in or_groups(field, values, max_chars=max(500, budget)):
            rows.extend(self._collection(path, select=select, filter=and_(group, extra_filter)))
        return rows

    def _bulk_or_crud(self, path: str, field: str, values: Iterable, select: str) -> list[dict]:
        """``bulk/<path>`` (1000 rows a page), or the CRUD endpoint when bulk is missing."""
        values = list(values)
        try:
            return self._grouped(f"bulk/{path}", field, values, select)
        except NotFound:
            service, _, entity = path.partition("/")
            return self._grouped(f"{service.lower()}/{entity}", field, values, select)

    # -- user and division --------------------------------------------------------------
    def me(self) -> dict:
        """``current/Me`` (not counted toward the limits): CurrentDivision, UserID, FullName…"""
        body = self.get_json(f"{self.base_url}/api/v1/current/Me", use_limiter=False)
        rows = _results(body)
        if not rows:
            raise NotFound("Exact Online returned no current user.")
        return normalise(rows[0])

    def divisions(self) -> list[dict]:
        """Divisions the user can reach (``system/Divisions``)."""
        return list(
            self._collection(
                "system/Divisions",
                select="Code,Description,Hid,Current,Country,Currency,VATNumber,Status",
            )
        )

    # -- master data --------------------------------------------------------------------
    def vat_codes(self) -> list[dict]:
        """``vat/VATCodes``: Code (stripped), Percentage (fraction), Type, VATTransactionType."""
        return list(
            self._collection(
                "vat/VATCodes",
                select="ID,Code,Description,Percentage,Type,VATTransactionType,IsBlocked,GLToPay",
            )
        )

    def journals(self, type: int | None = None) -> list[dict]:
        """``financial/Journals`` (``type=20`` for sales journals)."""
        return list(
            self._collection(
                "financial/Journals",
                select="ID,Code,Description,Type",
                filter=eq("Type", type) if type is not None else None,
            )
        )

    def gl_accounts(self) -> list[dict]:
        """``financial/GLAccounts`` (lines take the GUID)."""
        return list(
            self._collection(
                "financial/GLAccounts", select="ID,Code,Description,Type,BalanceType,VATCode"
            )
        )

    def items(self, code: str | None = None) -> list[dict]:
        """``logistics/Items`` (the endpoint needs a filter: sales items, or one code)."""
        # Items has mandatory filtering (Code, Modified, ...): IsSalesItem alone is refused.
        flt = (
            eq("Code", code)
            if code
            else and_(eq("IsSalesItem", True), f"Modified ge {literal(dt.datetime(1900, 1, 1))}")
        )
        return list(
            self._collection(
                "logistics/Items",
                select="ID,Code,Description,IsSalesItem,SalesVatCode,Unit,GLRevenue",
                filter=flt,
            )
        )

    def payment_conditions(self) -> list[dict]:
        """``cashflow/PaymentConditions``."""
        return list(
            self._collection("cashflow/PaymentConditions", select="ID,Code,Description,PaymentDays")
        )

    def currencies(self) -> list[dict]:
        """``general/Currencies`` (empty list when the endpoint is not there)."""
        try:
            return list(self._collection("general/Currencies", select="Code,Description"))
        except NotFound:
            return []

    # -- accounts -----------------------------------------------------------------------
    def accounts_where(self, filter_str: str, select: str | None = None) -> list[dict]:
        """``crm/Accounts`` matching an OData filter (Accounts needs a filter)."""
        return list(
            self._collection(
                "crm/Accounts", select=select or DEFAULT_SELECT["accounts"], filter=filter_str
            )
        )

    def accounts_by_field(
        self, field: str, values: Iterable, select: str | None = None
    ) -> list[dict]:
        """Accounts whose ``field`` equals one of ``values`` (or-groups of ~40).

        For ``Code`` pass the bare number: it is compared with ``trim(Code)``.
        """
        select = select or DEFAULT_SELECT["accounts"]
        if field == "Code":
            rows = []
            for group in or_groups("trim(Code)", [str(v).strip() for v in values]):
                rows.extend(self.accounts_where(group, select))
            return rows
        return self._grouped("crm/Accounts", field, values, select)

    def create_account(self, vals: dict) -> dict:
        """POST ``crm/Accounts``; returns the created account (with ``ID`` and ``Code``)."""
        return self._post("crm/Accounts", vals)

    def update_account(self, guid: str, vals: dict) -> None:
        """PUT ``crm/Accounts(guid'…')`` (fields not sent are kept)."""
        self._put(f"crm/Accounts({literal(Guid(guid))})", vals)

    # -- sales entries (Odoo numbers the invoice) ---------------------------------------
    def create_sales_entry(self, vals: dict) -> dict:
        """POST ``salesentry/SalesEntries`` (``YourRef`` = Odoo number); returns the entry."""
        return self._post("salesentry/SalesEntries", vals)

    def sales_entries_by_your_ref(
        self, refs: Iterable[str], select: str | None = None
    ) -> list[dict]:
        """Entries whose ``YourRef`` is one of ``refs`` (duplicate check, number sync)."""
        return self._grouped(
            "salesentry/SalesEntries", "YourRef", refs, select or DEFAULT_SELECT["sales_entries"]
        )

    # -- sales invoices (Exact numbers the invoice) -------------------------------------
    def create_sales_invoice(self, vals: dict) -> dict:
        """POST ``salesinvoice/SalesInvoices``; returns the invoice (``InvoiceID``, Status 20)."""
        return self._post("salesinvoice/SalesInvoices", vals)

    def sales_invoices_by_ids(self, ids: Iterable[str], select: str | None = None) -> list[dict]:
        """Invoices by ``InvoiceID`` (number and status sync)."""
        return self._bulk_or_crud(
            "SalesInvoice/SalesInvoices",
            "InvoiceID",
            [Guid(i) for i in ids if i],
            select or DEFAULT_SELECT["sales_invoices"],
        )

    def sales_invoices_by_your_ref(
        self, refs: Iterable[str], select: str | None = None
    ) -> list[dict]:
        """Invoices whose ``YourRef`` is one of ``refs`` (duplicate check)."""
        return self._bulk_or_crud(
            "SalesInvoice/SalesInvoices",
            "YourRef",
            refs,
            select or DEFAULT_SELECT["sales_invoices"],
        )

    def print_sales_invoice(self, invoice_id: str, **options) -> dict:
        """POST ``salesinvoice/PrintedSalesInvoices``: processes the invoice (number, PDF)."""
        return self._post(
            "salesinvoice/PrintedSalesInvoices", {"InvoiceID": str(invoice_id), **options}
        )

    # -- documents ----------------------------------------------------------------------
    def create_document(self, subject: str, account_id: str | None, type: int = 10) -> dict:
        """POST ``documents/Documents`` (type 10 = sales invoice); returns it with ``ID``."""
        vals = {"Subject": subject, "Type": type}
        if account_id:
            vals["Account"] = str(account_id)
        return self._post("documents/Documents", vals)

    def create_document_attachment(
        self, document_id: str, filename: str, content_bytes: bytes
    ) -> dict:
        """POST ``documents/DocumentAttachments`` with the file base64-encoded."""
        encoded = base64.b64encode(content_bytes).decode("ascii")
        if len(encoded) > MAX_POST_BYTES - 4096:
            raise ValidationError(
                f"The file {filename} is too large for Exact Online (limit 10 MB encoded)."
            )
        return self._post(
            "documents/DocumentAttachments",
            {"Document": str(document_id), "FileName": filename, "Attachment": encoded},
        )

    # -- payments -----------------------------------------------------------------------
    def receivables_by_entry_ids(self, ids: Iterable[str], select: str | None = None) -> list[dict]:
        """Receivables of sales entries (``TransactionEntryID``): ``IsFullyPaid``, ``Status``.

        Uses ``bulk/Cashflow/Receivables`` (1000 per page) and falls back to
        ``cashflow/Receivables`` when the bulk endpoint is not available.
        """
        ids = [Guid(i) for i in ids if i]
        select = select or DEFAULT_SELECT["receivables"]
        return self._bulk_or_crud("Cashflow/Receivables", "TransactionEntryID", ids, select)


def _results(body) -> list[dict]:
    if not isinstance(body, dict):
        return []
    d = body.get("d", body)
    if isinstance(d, dict):
        if "results" in d:
            return d["results"] or []
        return [d]
    if isinstance(d, list):
        return d
    return []


def _next_link(body) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("d"), dict):
        return body["d"].get("__next") or None
    return None


def _entity(body) -> dict:
    if isinstance(body, dict) and isinstance(body.get("d"), dict):
        d = body["d"]
        if "results" in d and isinstance(d["results"], list):
            return d["results"][0] if d["results"] else {}
        return d
    return body or {}
