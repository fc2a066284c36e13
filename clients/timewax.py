"""Timewax client: XML over POST, token in the body, 10 requests per second.

Facts: /work/shared/api/timewax.md. The XML is parsed case-insensitively and leniently
(``<Lines>`` closed by ``</lines>``, ``<line>`` never opened, ``valid`` yes/true).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from xml.sax.saxutils import escape

from lxml import etree

from .errors import AuthExpired, RetryableError, ValidationError
from .http import DEFAULT_TIMEOUT, ApiClient
from .ratelimit import RateLimiter, RatePolicy, limiter_for

TOKEN_PATH = "/authentication/token/get/"
INVOICES_PATH = "/invoicing/list/"
TOKEN_LIFETIME = 3600  # documented: 60 minutes
RENEW_BEFORE = 300  # renew about 5 minutes before validUntil
MIN_INTERVAL = 0.1  # 10 requests per second per client environment
# Timewax's fair-use limit tells no budget: its 429 is waited out with a short default and
# requests are paced to the documented 10 per second per client environment.
RATE_POLICY = RatePolicy(
    retry_after_header="Retry-After",
    scope="administration",
    limiter_options={"min_interval": MIN_INTERVAL, "default_429_wait": 1.0},
)

_TAG_RE = re.compile(r"<(/?)([A-Za-z_][\w.-]*)")
_CRED_ERRORS = (
    "invalid_password",
    "invalid_username",
    "invalid_user",
    "invalid_client",
    "invalid_credentials",
    "no_access",
    "access_denied",
    "blocked",
)

HEADER_FIELDS = (
    "id",
    "period",
    "date",
    "rawDate",
    "number",
    "creditNote",
    "amountInclVat",
    "clientCode",
    "clientName",
    "projectCode",
    "projectName",
    "currencyCode",
    "invoiceReference1",
    "invoiceReference2",
    "invoiceReference3",
    "invoiceReference4",
    "invoiceReference5",
    "debtorName",
    "debtorAttn",
    "debtorPostcode",
    "debtorCity",
    "debtorCountry",
    "debtorNumber",
    "debtorEmail",
)
LINE_FIELDS = ("description", "amountExclVat", "vatCode", "vatAmount", "amountInclVat")
ITEM_FIELDS = (
    "date",
    "rawDate",
    "resourceCode",
    "resourceName",
    "breakdownCode",
    "breakdownName",
    "hours",
    "rate",
    "km",
    "amount",
    "description",
)
AMOUNT_FIELDS = frozenset(
    {"amountinclvat", "amountexclvat", "vatamount", "hours", "rate", "km", "amount"}
)
_CANON = {name.lower(): name for name in HEADER_FIELDS + LINE_FIELDS + ITEM_FIELDS}


def parse_decimal(text: str | None) -> Decimal | None:
    """``1.234,56`` / ``1234,56`` / ``1234.56`` / blank -> Decimal or None."""
    if text is None:
        return None
    text = text.strip().replace("\u00a0", "").replace(" ", "")
    if not text:
        return None
    if "," in text and "." in text:
        # the last separator is the decimal one
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif "," in text:
        text = text.replace(",", ".")
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def parse_bool(text: str | None) -> bool:
    """``Yes``/``true``/``1`` in any case -> True."""
    return (text or "").strip().lower() in ("yes", "true", "1", "y", "ja")


def parse_valid_until(text: str | None) -> float | None:
    """``yyyyMMddTHHmmss`` (or ISO variants) -> epoch seconds, read as UTC."""
    if not text:
        return None
    text = text.strip()
    for fmt in (
        "%Y%m%dT%H%M%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y%m%d%H%M%S",
        "%d-%m-%Y %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S.%f",
    ):
        try:
            stamp = dt.datetime.strptime(text[:26], fmt)
        except ValueError:
            continue
        return stamp.replace(tzinfo=dt.timezone.utc).timestamp()
    return None


_TOKEN_RE = re.compile(
    r"<!\[CDATA\[.*?\]\]>|<!--.*?-->|<[?!].*?>|<(/?)([a-z_][\w.-]*)([^>]*?)(/?)>", re.S
)


def _balance(text: str) -> str:
    """Drop end tags that close nothing and close the ones left open (Timewax quirks)."""
    out, stack, pos = [], [], 0
    for match in _TOKEN_RE.finditer(text):
        out.append(text[pos : match.start()])
        pos = match.end()
        closing, name, _attrs, selfclosing = match.groups()
        if name is None or selfclosing:
            out.append(match.group(0))
        elif not closing:
            stack.append(name)
            out.append(match.group(0))
        elif name in stack:
            while stack:
                top = stack.pop()
                out.append(f"</{top}>")
                if top == name:
                    break
        # else: a stray end tag (e.g. </line> for a <line> never opened) is dropped
    out.append(text[pos:])
    out.extend(f"</{name}>" for name in reversed(stack))
    return "".join(out)


def parse_xml(text: str | bytes) -> etree._Element:
    """Parse a Timewax reply leniently, with every tag name lower-cased."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)  # lxml refuses str with an encoding decl
    text = _balance(_TAG_RE.sub(lambda m: f"<{m.group(1)}{m.group(2).lower()}", text))
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)
    root = etree.fromstring(text.encode("utf-8"), parser)
    if root is None:
        raise RetryableError("Timewax answered with something that is not XML.")
    return root


def _text(el) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


def _value(el):
    tag = el.tag.lower()
    text = _text(el)
    if tag in AMOUNT_FIELDS:
        return parse_decimal(text)
    if tag == "creditnote":
        return parse_bool(text)
    return text


def _fields(el, skip=()) -> dict:
    out = {}
    for child in el:
        if not isinstance(child.tag, str) or child.tag in skip:
            continue
        out[_CANON.get(child.tag, child.tag)] = _value(child)
    return out


def _parse_lines(lines_el) -> list[dict]:
    """``<lines>`` children: ``<line>`` elements, or loose fields when ``<line>`` is missing."""
    lines: list[dict] = []
    pending: dict = {}

    def flush():
        nonlocal pending
        if pending:
            pending.setdefault("items", [])
            lines.append(pending)
            pending = {}

    for child in lines_el:
        if not isinstance(child.tag, str):
            continue
        if child.tag == "line":
            flush()
            lines.append(_parse_line(child))
        elif child.tag == "items":
            pending.setdefault("items", []).extend(_parse_items(child))
        else:
            key = _CANON.get(child.tag, child.tag)
            if key in pending:  # a repeated field starts the next loose line
                flush()
            pending[key] = _value(child)
    flush()
    return lines


def _parse_items(items_el) -> list[dict]:
    return [_fields(item) for item in items_el if isinstance(item.tag, str) and item.tag == "item"]


def _parse_line(line_el) -> dict:
    line = _fields(line_el, skip=("items",))
    items_el = line_el.find("items")
    line["items"] = _parse_items(items_el) if items_el is not None else []
    return line


def parse_invoices(root) -> list[dict]:
    """The ``invoices/invoice`` of an ``invoicing/list`` reply as dicts.

    Amounts are ``Decimal`` (None when blank), ``creditNote`` a bool; each invoice has
    ``lines`` (each with ``items``) and ``references`` (invoiceReference1..5, non-empty).
    """
    invoices = []
    for inv in root.iter("invoice"):
        data = _fields(inv, skip=("lines",))
        lines_el = inv.find("lines")
        if lines_el is None:  # recovery may have nested it one level deeper
            lines_el = next(inv.iter("lines"), None)
        data["lines"] = _parse_lines(lines_el) if lines_el is not None else []
        data["references"] = [
            data.get(f"invoiceReference{i}")
            for i in range(1, 6)
            if data.get(f"invoiceReference{i}")
        ]
        data.setdefault("creditNote", False)
        invoices.append(data)
    return invoices


class TimewaxClient(ApiClient):
    """One Timewax client environment."""

    service = "timewax"
    rate_policy = RATE_POLICY

    def __init__(
        self,
        base_url: str,
        client: str,
        username: str,
        password: str,
        *,
        on_call: Callable[[dict], None] | None = None,
        timeout=DEFAULT_TIMEOUT,
        limiter: RateLimiter | None = None,
        now: Callable[[], float] = time.time,
        **kwargs,
    ):
        if limiter is None:
            limiter = limiter_for(
                ("timewax", base_url.rstrip("/"), client), **RATE_POLICY.limiter_options
            )
        super().__init__(base_url, limiter=limiter, on_call=on_call, timeout=timeout, **kwargs)
        self.client = client
        self.username = username
        self.password = password
        self.now = now
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = threading.Lock()

    @property
    def service_label(self) -> str:
        return "Timewax"

    def default_headers(self, method: str, url: str) -> dict:
        return {"Content-Type": "text/xml; charset=utf-8", "Accept": "text/xml, application/xml"}

    # -- protocol -----------------------------------------------------------------------
    def _post_xml(self, path: str, fields: dict) -> etree._Element:
        body = (
            "<request>"
            + "".join(
                f"<{k}>{escape(str(v))}</{k}>" for k, v in fields.items() if v not in (None, "")
            )
            + "</request>"
        )
        # Every Timewax service is a POST, but the reads change nothing: safe to retry.
        response = self.request("POST", self.url(path), data=body.encode("utf-8"), idempotent=True)
        return parse_xml(response.content)

    @staticmethod
    def _errors(root) -> str:
        el = root.find("errors")
        if el is None:
            return ""
        parts = [_text(e) for e in el if isinstance(e.tag, str)] or [_text(el)]
        return "; ".join(p for p in parts if p)

    def token(self, *, renew: bool = False) -> str:
        """A valid token (cached; renewed ~5 minutes before ``validUntil``)."""
        with self._token_lock:
            if not renew and self._token and self.now() < self._token_expires - RENEW_BEFORE:
                return self._token
            root = self._post_xml(
                TOKEN_PATH,
                {"client": self.client, "username": self.username, "password": self.password},
            )
            if not parse_bool(_text(root.find("valid"))) or not _text(root.find("token")):
                errors = self._errors(root) or "no token"
                raise AuthExpired(
                    "Timewax refused the login; check the client, API ID and password in the "
                    "settings.",
                    remote_message=errors,
                )
            obtained = self.now()
            until = parse_valid_until(_text(root.find("validuntil")))
            expires = obtained + TOKEN_LIFETIME
            if until and until > obtained:  # time zone unstated: keep the earlier one
                expires = min(expires, until)
            self._token, self._token_expires = _text(root.find("token")), expires
            return self._token

    def call(self, path: str, fields: dict) -> etree._Element:
        """POST a service with the token; renews the token once on a token error."""
        for attempt in range(2):
            root = self._post_xml(path, {"token": self.token(renew=attempt > 0), **fields})
            if parse_bool(_text(root.find("valid"))):
                return root
            errors = self._errors(root)
            low = errors.lower()
            if "token" in low and attempt == 0:
                continue
            if any(code in low for code in _CRED_ERRORS) or "token" in low:
                raise AuthExpired(
                    "Timewax refused the credentials; check the settings.", remote_message=errors
                )
            raise ValidationError("Timewax refused the request.", remote_message=errors or None)
        raise AuthExpired("Timewax refused the token.")  # pragma: no cover

    # -- services -----------------------------------------------------------------------
    def invoices(
        self, date_from, date_to, project: str | None = None, client: str | None = None
    ) -> list[dict]:
        """Invoices of ``invoicing/list`` between two dates (``date`` or ``yyyy-mm-dd``)."""
        root = self.call(
            INVOICES_PATH,
            {
                "dateFrom": _iso(date_from),
                "dateTo": _iso(date_to),
                "project": project,
                "client": client,
            },
        )
        return parse_invoices(root)


def _iso(value) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
