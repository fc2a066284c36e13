"""Asperion simulator: IdentityServer OAuth, the /v1 REST API and its test hooks.

Facts come from /work/shared/api/asperion.md. Where that page marks a fact [I] (inferred),
the behaviour here is our proposed contract; comments say so. PATH_INFO arrives with the
``/asperion`` prefix stripped: ``/identity/connect/...`` and ``/api/v1/...``.
"""

import base64
import datetime as dt
import json
import math
import secrets
import threading
import uuid
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from . import asperion_seed as seed
from .common import (
    ClientRegistry,
    OAuthStore,
    access_token_dead,
    client_credentials,
)

SERVICE = "asperion"
MAX_FILE = 5 * 1024 * 1024  # S1: inbox/invoice files are at most 5 MB
RESERVED_QUERY = {"page", "pagesize", "fields", "orderby", "metaonly", "validateonly"}
DEFAULT_CONFIG = {
    "access_token_lifetime": 3600,  # [I] IdentityServer default
    "refresh_token_lifetime": 30 * 86400,  # [I] IdentityServer default
    "code_lifetime": 300,  # [I] IdentityServer default
    "revoked_administrations": [],
    "retry_after": 1,  # seconds in Retry-After of injected 429s
    "default_page_size": 25,  # [I] the real default is unknown
    "max_page_size": 100,
}

# (nl, en) texts; nl is the default language (Accept-Language picks en)
MESSAGES = {
    "validation": (
        "Er zijn een of meer validatiefouten opgetreden.",
        "One or more validation errors occurred.",
    ),
    "unauthorized": ("Niet geautoriseerd", "Unauthorized"),
    "unauthorized_detail": (
        "Het toegangstoken ontbreekt, is verlopen of ingetrokken.",
        "The access token is missing, expired or revoked.",
    ),
    "forbidden": ("Geen toegang", "Forbidden"),
    "forbidden_detail": (
        "U heeft geen toegang tot administratie {id}.",
        "You have no access to administration {id}.",
    ),
    "not_found": ("Niet gevonden", "Not Found"),
    "not_found_detail": (
        "{resource} met id {id} is niet gevonden.",
        "{resource} with id {id} was not found.",
    ),
    "route_detail": ("Het endpoint {path} bestaat niet.", "The endpoint {path} does not exist."),
    "method": ("Methode niet toegestaan", "Method Not Allowed"),
    "method_detail": (
        "{method} is niet toegestaan op {path}.",
        "{method} is not allowed on {path}.",
    ),
    "too_large": ("Bestand te groot", "Payload Too Large"),
    "too_large_detail": ("Het bestand is groter dan 5 MB.", "The file is larger than 5 MB."),
    "throttled": ("Te veel verzoeken", "Too Many Requests"),
    "throttled_detail": (
        "Probeer het over {seconds} seconden opnieuw.",
        "Try again in {seconds} seconds.",
    ),
    "unavailable": ("Dienst niet beschikbaar", "Service Unavailable"),
    "unavailable_detail": (
        "De dienst is tijdelijk niet beschikbaar.",
        "The service is temporarily unavailable.",
    ),
    "required": ("Het veld {field} is verplicht.", "The {field} field is required."),
    "unknown": ("{field} '{value}' bestaat niet.", "{field} '{value}' does not exist."),
    "not_sales": (
        "BTW-code '{value}' is geen verkoopcode.",
        "VAT code '{value}' is not a sales code.",
    ),
    "vat_expired": (
        "BTW-code '{value}' is niet geldig op {date}.",
        "VAT code '{value}' is not valid on {date}.",
    ),
    "duplicate": ("{field} '{value}' is al in gebruik.", "{field} '{value}' is already in use."),
    "invalid": (
        "De waarde '{value}' is ongeldig voor {field}.",
        "The value '{value}' is not valid for {field}.",
    ),
    "disabled": (
        "Grootboekrekening {value} is geblokkeerd.",
        "Ledger account {value} is disabled.",
    ),
    "not_sales_journal": (
        "Dagboek {value} is geen verkoopboek.",
        "Journal {value} is not a sales journal.",
    ),
    "no_lines": (
        "Een factuur moet minstens een regel hebben.",
        "An invoice must have at least one line.",
    ),
    "bad_body": (
        "De request body is geen geldig JSON-object.",
        "The request body is not a valid JSON object.",
    ),
}
PROBLEM_TYPES = {
    400: "https://tools.ietf.org/html/rfc7231#section-6.5.1",
    401: "https://tools.ietf.org/html/rfc7235#section-3.1",
    403: "https://tools.ietf.org/html/rfc7231#section-6.5.3",
    404: "https://tools.ietf.org/html/rfc7231#section-6.5.4",
    405: "https://tools.ietf.org/html/rfc7231#section-6.5.5",
    413: "https://tools.ietf.org/html/rfc7231#section-6.5.11",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    503: "https://tools.ietf.org/html/rfc7231#section-6.6.4",
}

NEW_DEBTOR = seed._debtor(
    None, None, None, kind=None, country=None, paymentConditionId=None, paymentMethodId=None
)
DEBTOR_FIELDS = list(NEW_DEBTOR)
DRAFT_FIELDS = [
    "debtorId",
    "date",
    "description",
    "reference",
    "paymentConditionId",
    "paymentMethodId",
    "lines",
]
DRAFT_LINE_FIELDS = [
    "bookingType",
    "articleSku",
    "salesTypeId",
    "ledgerAccountId",
    "description",
    "quantity",
    "price",
    "vatCode",
    "costCenterId",
    "costUnitId",
]
INVOICE_FIELDS = [
    "invoiceNumber",
    "date",
    "description",
    "reference",
    "debtorId",
    "debtorCustomerNumber",
    "journalId",
    "bookyear",
    "bookperiod",
    "paymentConditionId",
    "paymentDueDate",
    "lines",
]
INVOICE_LINE_FIELDS = [
    "description",
    "amount",
    "vatAmount",
    "vatCode",
    "ledgerAccountId",
    "costCenterId",
    "costUnitId",
]
CENT = Decimal("0.01")


def _lang(request):
    accept = (request.headers.get("Accept-Language") or "").strip().lower()
    return 1 if accept.startswith("en") else 0


def _text(key, lang, **params):
    return MESSAGES[key][lang].format(**params)


def _money(value):
    """Round half up to the cent, as a float for JSON."""
    return float(Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP))


class ApiError(Exception):
    """An error answered as ProblemDetails; texts are rendered in the caller's language."""

    def __init__(self, status, title, detail=None, errors=None, headers=None, **params):
        super().__init__(title)
        self.status, self.title, self.detail = status, title, detail
        self.errors, self.headers, self.params = errors or [], headers or {}, params


class FieldErrors:
    """Collects (field, message key, params) like ASP.NET's ModelState."""

    def __init__(self):
        self.items = []

    def add(self, name, key, **params):
        self.items.append((name, key, params))

    def raise_if_any(self):
        if self.items:
            raise ApiError(400, "validation", errors=self.items)


def _bind(body, fields):
    """Case-insensitive JSON binding (ASP.NET Core ignores property-name case)."""
    lower = {name.lower(): name for name in fields}
    out = {}
    for key, value in body.items():
        name = lower.get(str(key).lower())
        if name is not None:
            out[name] = value
    return out


def _parse_date(value):
    """'YYYY-MM-DD' with optional time (RFC 3339 reads too) -> 'YYYY-MM-DDT00:00:00' or None."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
    return day.isoformat() + "T00:00:00"


def _number(value):
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value):
    num = _number(value)
    return int(num) if num is not None and float(num).is_integer() else None


def _public(doc):
    """Hide internal keys ('_paid', '_draftId', '_content'): never part of the API."""
    return {k: v for k, v in doc.items() if not k.startswith("_") or k == "_meta"}


# -- filters, ordering, paging (asperion.md §4) --------------------------------------------
def _conditions(args):
    conds = {}
    for key, value in args:
        if key in RESERVED_QUERY:
            continue
        for suffix, slot in (("_comparison", "cmp"), ("_from", "from"), ("_to", "to")):
            if key.endswith(suffix):
                conds.setdefault(key[: -len(suffix)], {})[slot] = value
                break
        else:
            conds.setdefault(key, {})["value"] = value
    return conds


def _match(value, cond, field):
    if "from" in cond or "to" in cond:
        day = str(value or "")[:10]
        if "from" in cond and (not day or day < cond["from"][:10]):
            return False
        if "to" in cond and (not day or day > cond["to"][:10]):
            return False
    if "value" not in cond:
        return True
    want, cmp = cond["value"], cond.get("cmp", "").lower()
    if isinstance(value, bool):
        equal = (want.lower() in ("true", "1", "yes")) == value
        return not equal if cmp == "notequals" else equal
    if isinstance(value, (int, float)) and cmp in ("", "equals", "notequals"):
        try:
            equal = float(want) == float(value)
        except ValueError:
            equal = False
        return not equal if cmp == "notequals" else equal
    text, want = ("" if value is None else str(value)).lower(), want.lower()
    # [I] default Contains for text, Equals for ids (numbers are handled above)
    cmp = cmp or ("equals" if field.endswith("id") else "contains")
    if cmp == "equals":
        return text == want
    if cmp == "notequals":
        return text != want
    if cmp == "startswith":
        return text.startswith(want)
    if cmp == "endswith":
        return text.endswith(want)
    if cmp == "contains":
        return want in text
    raise ApiError(400, "validation", errors=[(field, "invalid", {"field": field, "value": cmp})])


def _filter(items, args):
    conds = _conditions(args)
    if not conds or not items:
        return items
    names = {}
    for item in items[:1]:
        names = {k.lower(): k for k in item}
    active = [(names[f], f, c) for f, c in conds.items() if f in names]  # unknown: ignored
    if not active:
        return items
    return [it for it in items if all(_match(it.get(k), c, f) for k, f, c in active)]


def _order(items, order_by):
    for part in reversed([p.strip() for p in order_by.split(",") if p.strip()]):
        words = part.split()
        field, desc = words[0].lower(), len(words) > 1 and words[1].lower() == "desc"
        if not items:
            break
        names = {k.lower(): k for k in items[0]}
        if field not in names:
            continue
        key = names[field]
        items = sorted(items, key=lambda it: _sort_key(it.get(key)), reverse=desc)
    return items


def _sort_key(value):
    if value is None:
        return (2, 0, "")
    if isinstance(value, (int, float)):
        return (0, value, "")
    return (1, 0, str(value).lower())


class Ctx:
    """One authenticated API request: language, administration, base URL."""

    __slots__ = ("request", "lang", "adm", "token", "base")

    def __init__(self, request, lang):
        self.request, self.lang = request, lang
        self.adm = self.token = None
        self.base = request.host_url.rstrip("/") + request.script_root + "/api/v1"


class AsperionService:
    def __init__(self, store, faults, clock):
        self.store, self.faults, self.clock = store, faults, clock
        self.oauth = OAuthStore(store, SERVICE, clock)
        self.clients = ClientRegistry(store, SERVICE)
        self._lock = threading.RLock()  # read-modify-write sections (numbers, rotation)
        self._master = {
            res: {str(item["id"]).lower(): item for item in items}
            for res, items in seed.MASTER.items()
        }
        self._skus = {a["sku"].lower(): a for a in seed.ARTICLES}
        self.config = dict(DEFAULT_CONFIG)
        if store.kv_get(f"{SERVICE}:seeded") is None:
            self.reset()
        else:
            self.config.update(store.kv_get(f"{SERVICE}:config", {}))

    # -- seed and control ------------------------------------------------------------
    def reset(self):
        with self._lock:
            self.store.reset(SERVICE)
            self.config = dict(DEFAULT_CONFIG)
            for adm, debtors in seed.DEBTORS.items():
                for debtor in debtors:
                    self.store.insert(SERVICE, f"debtors@{adm}", debtor, id=debtor["id"])
            for adm, invoices in seed.SALESINVOICES.items():
                for row in invoices:
                    inv = self._seed_invoice(adm, *row)
                    self.store.insert(SERVICE, f"invoices@{adm}", inv, id=inv["id"])
            self.store.kv_set(f"{SERVICE}:seeded", True)

    def _seed_invoice(self, adm, id_, number, debtor_id, date, amount, vat, paid):
        debtor = self.store.get(SERVICE, f"debtors@{adm}", debtor_id)
        body = {
            "invoiceNumber": number,
            "date": date,
            "debtorId": debtor_id,
            "description": f"Seed {number}",
            "lines": [
                {"description": "Seed", "amount": amount, "vatCode": vat, "ledgerAccountId": 8000}
            ],
        }
        inv = self._build_invoice(adm, body, debtor)
        inv["id"] = id_
        inv["_paid"] = inv["amountInclVat"] if paid is None else paid
        inv["status"] = 7 if paid is None else 6
        return inv

    def _save_config(self):
        self.store.kv_set(f"{SERVICE}:config", self.config)

    def handle_control(self, action, path_rest, body):
        parts = [p for p in [action.lower()] + path_rest.lower().split("/") if p]
        try:
            if parts == ["consent"]:
                return 200, self._control_consent(body)
            if parts == ["clients"]:
                return self.clients.register(body)
            if parts == ["config"]:
                return 200, self._control_config(body)
            if len(parts) == 3 and parts[0] == "drafts" and parts[2] in ("finalize", "delete"):
                return self._control_draft(parts[1], parts[2])
            if len(parts) == 3 and parts[0] == "salesinvoices" and parts[2] == "pay":
                return self._control_pay(parts[1], body.get("amount"))
        except ApiError as exc:
            return exc.status, self._problem_body(exc, 1, "")
        return 404, {"error": f"unknown asperion control action {'/'.join(parts)}"}

    def _control_consent(self, body):
        """The non-interactive "Yes, Allow": returns where the browser would be sent."""
        client_id, redirect_uri = body.get("client_id"), body.get("redirect_uri") or ""
        problem = self._client_problem(client_id, redirect_uri)
        if problem:
            raise ApiError(400, "validation", detail=problem)
        adms = [int(a) for a in body.get("administrations") or seed.REACHABLE]
        code = self._issue_code(client_id, redirect_uri, body.get("scope") or "", adms)
        return {
            "redirect": _add_query(redirect_uri, code=code, state=body.get("state") or ""),
            "code": code,
        }

    def _control_config(self, body):
        with self._lock:
            for key in (
                "access_token_lifetime",
                "refresh_token_lifetime",
                "code_lifetime",
                "retry_after",
                "default_page_size",
                "max_page_size",
            ):
                if key in body:
                    self.config[key] = int(body[key])
            revoked = set(self.config["revoked_administrations"])
            if "revoked_administrations" in body:
                revoked = {int(a) for a in body["revoked_administrations"] or []}
            if body.get("revoke_administration") is not None:
                revoked.add(int(body["revoke_administration"]))
            if body.get("restore_administration") is not None:
                revoked.discard(int(body["restore_administration"]))
            self.config["revoked_administrations"] = sorted(revoked)
            self._save_config()
            return dict(self.config)

    def _find(self, kind, id_):
        for adm in seed.REACHABLE + (103,):
            doc = self.store.get(SERVICE, f"{kind}@{adm}", id_)
            if doc is not None:
                return adm, doc
        raise ApiError(404, "not_found", detail="not_found_detail", resource=kind, id=id_)

    def _control_draft(self, draft_id, what):
        with self._lock:
            adm, draft = self._find("drafts", draft_id)
            self.store.delete(SERVICE, f"drafts@{adm}", draft_id)
            if what == "delete":
                return 200, {"deleted": int(draft_id)}
            inv = self._finalize(adm, draft)
            self.store.insert(SERVICE, f"invoices@{adm}", inv, id=inv["id"])
            return 200, _public(inv)

    def _finalize(self, adm, draft):
        """The user finalises a draft in Asperion: a Payable invoice with a fresh number."""
        lines = []
        for line in draft["lines"]["_data"]:
            lines.append(
                {
                    "id": self.store.next_seq(f"{SERVICE}.line.id"),
                    "description": line.get("description"),
                    "amount": line.get("amount") or 0.0,
                    "vatAmount": line.get("vatAmount") or 0.0,
                    "vatCode": line.get("vatCode"),
                    "ledgerAccountId": self._line_ledger(line),
                    "costCenterId": line.get("costCenterId"),
                    "costUnitId": line.get("costUnitId"),
                }
            )
        debtor = self.store.get(SERVICE, f"debtors@{adm}", draft["debtorId"]) or {}
        inv = self._invoice_header(adm, draft, debtor, self._next_invoice_number(adm))
        inv.update(
            description=draft.get("description"),
            reference=draft.get("reference"),
            lines={"_data": lines, "_meta": {"totalCount": len(lines)}},
            amountExclVat=draft["amountExclVat"],
            vatAmount=draft["vatAmount"],
            amountInclVat=draft["amountInclVat"],
            _draftId=draft["id"],
        )
        inv["id"] = 1000 + self.store.next_seq(f"{SERVICE}.salesinvoice.id")
        return inv

    def _line_ledger(self, line):
        kind = line.get("bookingType")
        if kind == "G":
            return line.get("ledgerAccountId")
        if kind == "A":
            line = {"salesTypeId": self._skus[line["articleSku"].lower()]["salesTypeId"]}
        if kind in ("A", "V"):
            return self._master["salestypes"][str(line["salesTypeId"])]["ledgerAccountId"]
        return None

    def _next_invoice_number(self, adm):
        """A number from a per-administration sequence: never reused, even after deletes."""
        used = {i["invoiceNumber"] for i in self.store.view(SERVICE, f"invoices@{adm}")}
        year = dt.datetime.fromtimestamp(self.clock.now(), dt.timezone.utc).year
        while True:
            number = f"{year}{self.store.next_seq(f'{SERVICE}.invoicenumber.{adm}'):04d}"
            if number not in used:
                return number

    def _control_pay(self, invoice_id, amount):
        with self._lock:
            adm, inv = self._find("invoices", invoice_id)
            open_amount = _money(inv["amountInclVat"] - inv.get("_paid", 0.0))
            pay = open_amount if amount is None else _number(amount)
            if pay is None:
                raise ApiError(400, "validation", detail="amount must be a number")
            inv["_paid"] = _money(inv.get("_paid", 0.0) + pay)
            if abs(inv["amountInclVat"] - inv["_paid"]) < 0.005:
                inv["status"] = 7  # Paid
            self.store.update(SERVICE, f"invoices@{adm}", inv["id"], inv)
            out = _public(inv)
            out["outstandingAmount"] = _money(inv["amountInclVat"] - inv["_paid"])
            return 200, out

    def dump(self):
        out = {"config": dict(self.config), "administrations": {}}
        for adm in seed.REACHABLE:
            out["administrations"][str(adm)] = {
                "debtors": self.store.all(SERVICE, f"debtors@{adm}"),
                "draftsalesinvoices": self.store.all(SERVICE, f"drafts@{adm}"),
                "salesinvoices": self.store.all(SERVICE, f"invoices@{adm}"),
                "files": [
                    {k: v for k, v in f.items() if k != "_content"}
                    for f in self.store.view(SERVICE, f"files@{adm}")
                ],
            }
        return out

    def fault_response(self, kind, environ):
        """Injected 429 ("throttle") and 503 ("fail") look like ASP.NET behind a gateway:
        ProblemDetails with Retry-After (the core asks for "fail" only once it supports it)."""
        seconds = self.config["retry_after"]
        headers = {"Retry-After": str(seconds)}
        if kind == "throttle":
            exc = ApiError(429, "throttled", "throttled_detail", headers=headers, seconds=seconds)
        elif kind == "fail":
            exc = ApiError(503, "unavailable", "unavailable_detail", headers=headers)
        else:
            return None
        return self._problem(Request(environ), exc)

    # -- WSGI ------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except ApiError as exc:
            response = self._problem(request, exc)
        except Exception as exc:  # a simulator bug still answers like ASP.NET would
            response = self._problem(request, ApiError(500, "Internal Server Error", str(exc)))
        return response(environ, start_response)

    def _dispatch(self, request):
        path = request.path.lower().rstrip("/")
        if path.startswith("/identity/connect/"):
            return self._identity(request, path[len("/identity/connect/") :])
        if path.startswith("/api/v1/"):
            return self._api(request, path[len("/api/v1/") :].split("/"))
        raise ApiError(404, "not_found", detail="route_detail", path=request.path)

    def _problem_body(self, exc, lang, path):
        params = dict(exc.params, path=path)
        errors = {}
        for field, key, fparams in exc.errors:
            errors.setdefault(field, []).append(_text(key, lang, **fparams))
        if exc.detail in MESSAGES:
            detail = _text(exc.detail, lang, **params)
        elif exc.detail:
            detail = exc.detail
        else:
            detail = " ".join(m for msgs in errors.values() for m in msgs) or None
        body = {
            "type": PROBLEM_TYPES.get(exc.status, PROBLEM_TYPES[400]),
            "title": _text(exc.title, lang) if exc.title in MESSAGES else exc.title,
            "status": exc.status,
            "detail": detail,
            "traceId": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
        }
        if errors:
            body["errors"] = errors
        return body

    def _problem(self, request, exc):
        body = self._problem_body(exc, _lang(request), request.path)
        resp = Response(
            json.dumps(body),
            status=exc.status,
            content_type="application/problem+json; charset=utf-8",
        )
        resp.headers.update(exc.headers)
        if exc.status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return resp

    # -- identity (IdentityServer) ---------------------------------------------------
    def _identity(self, request, what):
        if what == "authorize":
            return self._authorize(request)
        if what == "token" and request.method == "POST":
            return self._token(request)
        raise ApiError(404, "not_found", detail="route_detail", path=request.path)

    def _issue_code(self, client_id, redirect_uri, scope, administrations):
        return self.oauth.issue_code(
            client_id,
            redirect_uri,
            ttl=self.config["code_lifetime"],
            scope=scope,
            administrations=administrations,
        )

    def _authorize(self, request):
        values = request.form if request.method == "POST" else request.args
        client_id, redirect_uri = values.get("client_id"), values.get("redirect_uri") or ""
        state, scope = values.get("state") or "", values.get("scope") or ""
        problem = self._client_problem(client_id, redirect_uri)
        if problem:
            # IdentityServer shows an error page and never redirects to an unknown URI.
            return _html(f"<h1>Fout</h1><p>{escape(problem)}</p>", 400)
        if request.method != "POST":
            # Root-relative with the mount prefix: works behind any host name or proxy.
            return _html(_consent_page(request.script_root + request.path, values))
        if values.get("consent") != "yes":
            return _redirect(_add_query(redirect_uri, error="access_denied", state=state))
        code = self._issue_code(client_id, redirect_uri, scope, list(seed.REACHABLE))
        return _redirect(_add_query(redirect_uri, code=code, state=state))

    def _client_problem(self, client_id, redirect_uri):
        if self.clients.get(client_id) is None:
            return "unauthorized_client: unknown client_id"
        if not self.clients.redirect_ok(client_id, redirect_uri):
            return "unauthorized_client: Invalid redirect_uri"
        return None

    def _token(self, request):
        form = request.form
        # The body (S4); HTTP Basic is tolerated (RFC 6749 §2.3.1), never both at once.
        client_id, secret = client_credentials(request)
        if not self.clients.secret_ok(client_id, secret):
            return _oauth_error("invalid_client", "Unknown client or wrong secret")
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                rec = self.oauth.take_code(
                    form.get("code") or "", client_id, form.get("redirect_uri")
                )
                if rec is None or self.faults.revoked:
                    return _oauth_error("invalid_grant", "Invalid or expired code")
                return self._tokens(client_id, rec["grant"], None)
            if grant_type == "refresh_token":
                return self._refresh(client_id, form.get("refresh_token") or "")
        return _oauth_error("unsupported_grant_type", f"grant_type {grant_type!r}")

    def _refresh(self, client_id, refresh_token):
        rec = self.oauth.by_refresh(refresh_token)
        now = self.clock.now()
        if (
            rec is None
            or rec["client_id"] != client_id
            or rec["refresh_used"]
            or self.faults.revoked
            or (rec["refresh_expires_at"] or now + 1) <= now
        ):
            return _oauth_error("invalid_grant", "Invalid refresh token")
        rec["refresh_used"] = True  # [I] rotation: the old refresh token dies now
        self.oauth.save(rec)
        return self._tokens(client_id, rec["grant"], rec["family"])

    def _tokens(self, client_id, grant, family):
        rec = self.oauth.issue_tokens(
            client_id,
            grant,
            self.config["access_token_lifetime"],
            self.config["refresh_token_lifetime"],
            family,
        )
        body = {
            "access_token": rec["access_token"],
            "token_type": "Bearer",
            "expires_in": self.config["access_token_lifetime"],
            "refresh_token": rec["refresh_token"],
            "scope": grant.get("scope") or "openid offline_access api",
        }
        return Response(
            json.dumps(body),
            content_type="application/json",
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    # -- API -------------------------------------------------------------------------
    def _authenticate(self, request):
        ctx = Ctx(request, _lang(request))
        header = request.headers.get("Authorization") or ""
        rec = self.oauth.by_access(header[7:].strip()) if header[:7].lower() == "bearer " else None
        if access_token_dead(rec, self.clock.now(), self.faults):
            raise ApiError(401, "unauthorized", detail="unauthorized_detail")
        ctx.token = rec
        tenant = request.headers.get("X-TenantId") or request.headers.get("X-Tenant-Id")
        adm = _int(tenant) if tenant else seed.DEFAULT_ADMINISTRATION
        allowed = rec["grant"].get("administrations") or list(seed.REACHABLE)
        if (
            adm not in seed.REACHABLE
            or adm not in allowed
            or adm in self.config["revoked_administrations"]
        ):
            raise ApiError(403, "forbidden", detail="forbidden_detail", id=tenant or adm)
        ctx.adm = adm
        return ctx

    def _api(self, request, segs):
        ctx = self._authenticate(request)
        res, rest, method = segs[0], segs[1:], request.method
        handler = ROUTES.get(res)
        if handler is None:
            raise ApiError(404, "not_found", detail="route_detail", path=request.path)
        response = handler(self, ctx, res, rest, method)
        if response is None:
            raise ApiError(405, "method", detail="method_detail", method=method, path=request.path)
        return response

    def _json(self, data, status=200):
        return Response(
            json.dumps(data), status=status, content_type="application/json; charset=utf-8"
        )

    def _body(self, ctx):
        try:
            body = json.loads(ctx.request.get_data(cache=True) or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ApiError(400, "validation", errors=[("$", "bad_body", {})])
        return body

    def _envelope(self, ctx, items, res, self_of=None):
        """The §4 list envelope with 1-based paging; nextPage is an absolute URL or null."""
        request = ctx.request
        args = [(k.lower(), v) for k, v in request.args.items(multi=True)]
        query = dict(args)
        items = _filter(items, args)
        if query.get("orderby"):
            items = _order(items, query["orderby"])
        size = _int(query.get("pagesize") or self.config["default_page_size"])
        page = _int(query.get("page") or 1)
        if size is None or size < 1 or page is None or page < 1:
            bad = "PageSize" if size is None or size < 1 else "Page"
            raise ApiError(
                400,
                "validation",
                errors=[(bad, "invalid", {"field": bad, "value": query.get(bad.lower())})],
            )
        size = min(size, self.config["max_page_size"])
        total = len(items)
        pages = math.ceil(total / size) if total else 0
        chunk = (
            []
            if query.get("metaonly", "").lower() == "true"
            else items[(page - 1) * size : page * size]
        )
        fields = {f.strip().lower() for f in query.get("fields", "").split(",") if f.strip()}
        self_of = self_of or (lambda it: f"{ctx.base}/{res}/{it['id']}")
        data = [self._item(it, self_of(it), fields) for it in chunk]
        adm = seed.ADMINISTRATIONS[ctx.adm - 101]
        meta = {
            "administrationId": ctx.adm,
            "administrationName": adm["name"],
            "profileName": seed.PROFILE_NAME,
            "previousPage": _page_url(request, page - 1) if page > 1 else None,
            "nextPage": _page_url(request, page + 1) if page < pages else None,
            "totalCount": total,
            "pageCount": pages,
            "self": request.url,
        }
        return self._json({"_data": data, "_meta": meta})

    def _item(self, item, url, fields=None):
        out = {k: v for k, v in item.items() if not k.startswith("_")}
        if fields:
            out = {k: v for k, v in out.items() if k.lower() in fields}
        out["_meta"] = {"self": url}
        return out

    def _bare(self, ctx, res, item):
        return self._json(self._item(item, f"{ctx.base}/{res}/{item['id']}"))

    def _get_or_404(self, ctx, kind, id_, resource):
        doc = self.store.get(SERVICE, f"{kind}@{ctx.adm}", id_) if id_.isdigit() else None
        if doc is None:
            raise ApiError(404, "not_found", detail="not_found_detail", resource=resource, id=id_)
        return doc

    # master data and administrations (read-only)
    def _r_master(self, ctx, res, rest, method):
        if method != "GET" or len(rest) > 1:
            return None
        if rest:
            item = self._master[res].get(rest[0])
            if item is None:
                raise ApiError(
                    404, "not_found", detail="not_found_detail", resource=res, id=rest[0]
                )
            return self._bare(ctx, res, item)
        return self._envelope(ctx, seed.MASTER[res], res)

    def _r_administrations(self, ctx, res, rest, method):
        if method != "GET" or len(rest) > 1:
            return None
        allowed = [
            a
            for a in seed.ADMINISTRATIONS
            if a["id"] in seed.REACHABLE and a["id"] not in self.config["revoked_administrations"]
        ]
        if rest:
            found = [a for a in allowed if str(a["id"]) == rest[0]]
            if not found:
                raise ApiError(
                    404, "not_found", detail="not_found_detail", resource=res, id=rest[0]
                )
            return self._bare(ctx, res, found[0])
        return self._envelope(ctx, allowed, res)

    # debtors
    def _r_debtors(self, ctx, res, rest, method):
        kind = f"debtors@{ctx.adm}"
        if method == "GET" and not rest:
            return self._envelope(ctx, self.store.view(SERVICE, kind), res)
        if method == "GET" and len(rest) == 1:
            return self._bare(ctx, res, self._get_or_404(ctx, "debtors", rest[0], "Debtor"))
        if method == "POST" and not rest:
            return self._save_debtor(ctx, None, self._body(ctx))
        if method == "PUT" and len(rest) == 1:
            existing = self._get_or_404(ctx, "debtors", rest[0], "Debtor")
            return self._save_debtor(ctx, existing, self._body(ctx))
        return None

    def _save_debtor(self, ctx, existing, body):
        data = _bind(body, DEBTOR_FIELDS)
        for key in ("id", "dateAdded", "dateLastChange"):
            data.pop(key, None)
        with self._lock:
            if existing:
                # A PUT replaces the whole record (the strict reading of asperion.md §5,
                # where PUT is [I]): a field left out becomes empty, as when ASP.NET binds
                # a model from the body. A client must read, merge and write.
                debtor = dict(NEW_DEBTOR, id=existing["id"], dateAdded=existing["dateAdded"])
            else:
                debtor = dict(NEW_DEBTOR)
            debtor.update(data)
            self._validate_debtor(ctx, debtor, existing)
            if _validate_only(ctx.request):
                return self._json(_public(debtor))
            now = _iso(self.clock.now())
            debtor["dateLastChange"] = now
            if existing:
                self.store.update(SERVICE, f"debtors@{ctx.adm}", debtor["id"], debtor)
                return self._bare(ctx, "debtors", debtor)
            debtor["id"] = 100 + self.store.next_seq(f"{SERVICE}.debtor.id")
            debtor["dateAdded"] = now
            if not debtor.get("customerNumber"):
                debtor["customerNumber"] = self._next_customer_number(ctx.adm)
            self.store.insert(SERVICE, f"debtors@{ctx.adm}", debtor, id=debtor["id"])
            resp = self._bare(ctx, "debtors", debtor)
            resp.status_code = 201
            return resp

    def _validate_debtor(self, ctx, debtor, existing):
        errors = FieldErrors()
        if not str(debtor.get("name") or "").strip():
            errors.add("Name", "required", field="Name")
        self._check_ref(
            errors, "DebtorKindId", "debtorkinds", debtor.get("debtorKindId"), required=True
        )
        self._check_ref(errors, "CountryCode", "countries", debtor.get("countryCode"))
        self._check_ref(
            errors, "PaymentConditionId", "paymentconditions", debtor.get("paymentConditionId")
        )
        self._check_ref(errors, "PaymentMethodId", "paymentmethod", debtor.get("paymentMethodId"))
        number = debtor.get("customerNumber")
        if existing and not number:
            # a debtor keeps its number: a PUT without it would leave the debtor without one
            errors.add("CustomerNumber", "required", field="CustomerNumber")
        if number:
            debtor["customerNumber"] = number = str(number)
            for other in self.store.view(SERVICE, f"debtors@{ctx.adm}"):
                if other["customerNumber"] == number and other["id"] != debtor.get("id"):
                    errors.add("CustomerNumber", "duplicate", field="CustomerNumber", value=number)
        errors.raise_if_any()
        if debtor.get("debtorKindId"):
            debtor["debtorKindId"] = str(debtor["debtorKindId"]).upper()
        if debtor.get("countryCode"):
            debtor["countryCode"] = str(debtor["countryCode"]).upper()

    def _check_ref(self, errors, field, res, value, required=False):
        if value is None or value == "":
            if required:
                errors.add(field, "required", field=field)
            return None
        item = self._master[res].get(str(value).lower())
        if item is None:
            errors.add(field, "unknown", field=field, value=value)
        return item

    def _next_customer_number(self, adm):
        used = {d["customerNumber"] for d in self.store.view(SERVICE, f"debtors@{adm}")}
        while True:
            seq = self.store.next_seq(f"{SERVICE}.customernumber.{adm}")
            number = str(1000 + len(seed.DEBTORS.get(adm, [])) + seq)
            if number not in used:
                return number

    # draft sales invoices ([I] proposed contract, asperion.md §5)
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

    def _save_draft(self, ctx, res, existing, body, with_lines):
        data = _bind(body, DRAFT_FIELDS)
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
        if _validate_only(ctx.request):
            return self._json(_public(draft))
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
            _int(debtor_id) is None
            or self.store.get(SERVICE, f"debtors@{ctx.adm}", _int(debtor_id)) is None
        ):
            errors.add("DebtorId", "unknown", field="DebtorId", value=debtor_id)
        else:
            draft["debtorId"] = _int(debtor_id)
        if draft.get("date") in (None, ""):
            draft["date"] = _iso(self.clock.now())[:10] + "T00:00:00"
        elif _parse_date(draft["date"]) is None:
            errors.add("Date", "invalid", field="Date", value=draft["date"])
        else:
            draft["date"] = _parse_date(draft["date"])
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
        line = _bind(item, DRAFT_LINE_FIELDS + ["vatCodeId"])
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
        qty, price = _number(line.get("quantity", 1)), _number(line.get("price"))
        if qty is None:
            errors.add(
                f"{prefix}.Quantity", "invalid", field="Quantity", value=line.get("quantity")
            )
        if price is None:
            errors.add(f"{prefix}.Price", "required", field="Price")
        if qty is not None and price is not None:
            amount = _money(Decimal(str(qty)) * Decimal(str(price)))
            line.update(quantity=qty, price=price, amount=amount)
            line["vatAmount"] = (
                _money(Decimal(str(amount)) * Decimal(str(vat["percentage"])) / 100) if vat else 0.0
            )
        return line

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
            amountExclVat=_money(excl), vatAmount=_money(vat), amountInclVat=_money(excl + vat)
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
        data = _bind(body, INVOICE_FIELDS)
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
            if _validate_only(ctx.request):
                return self._json(_public(inv))
            inv["id"] = 1000 + self.store.next_seq(f"{SERVICE}.salesinvoice.id")
            self.store.insert(SERVICE, f"invoices@{ctx.adm}", inv, id=inv["id"])
        resp = self._bare(ctx, res, inv)
        resp.status_code = 201
        return resp

    def _invoice_header(self, adm, data, debtor, number):
        date = _parse_date(data.get("date")) or _iso(self.clock.now())[:10] + "T00:00:00"
        condition = self._master["paymentconditions"].get(
            str(data.get("paymentConditionId") or debtor.get("paymentConditionId") or 2)
        )
        days = condition["days"] if condition else 30
        due = (
            _parse_date(data.get("paymentDueDate"))
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
            "bookyear": _int(data.get("bookyear")) or int(date[:4]),
            "bookperiod": _int(data.get("bookperiod")) or int(date[5:7]),
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
        if data.get("date") not in (None, "") and _parse_date(data["date"]) is None:
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
            amountExclVat=_money(excl),
            vatAmount=_money(vat),
            amountInclVat=_money(excl + vat),
        )
        return inv

    def _invoice_line(self, item, date, errors, prefix):
        line = _bind(item, INVOICE_LINE_FIELDS + ["vatCodeId"])
        if "vatCodeId" in line:
            line.setdefault("vatCode", line.pop("vatCodeId"))
        self._check_ledger(errors, f"{prefix}.LedgerAccountId", line.get("ledgerAccountId"))
        vat = self._check_vat(errors, f"{prefix}.VatCode", line.get("vatCode"), date)
        amount = _number(line.get("amount"))
        if amount is None:
            errors.add(f"{prefix}.Amount", "required", field="Amount")
            amount = 0.0
        given = None if self.faults.ignore_vat_amounts else _number(line.get("vatAmount"))
        # a given vatAmount wins (Odoo's tax to the cent); else rounded per line
        computed = (
            _money(Decimal(str(amount)) * Decimal(str(vat["percentage"])) / 100) if vat else 0.0
        )
        return {
            "id": self.store.next_seq(f"{SERVICE}.line.id"),
            "description": line.get("description"),
            "amount": _money(amount),
            "vatAmount": _money(given) if given is not None else computed,
            "vatCode": vat["id"] if vat else line.get("vatCode"),
            "ledgerAccountId": _int(line.get("ledgerAccountId")),
            "costCenterId": line.get("costCenterId"),
            "costUnitId": line.get("costUnitId"),
        }

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
            "createdOn": _iso(self.clock.now()),
            "fileUrl": url,
            "fullImageUrl": url,
            "thumbnail1Url": None,
            "thumbnail2Url": None,
            "thumbnail3Url": None,
            "salesInvoiceId": inv["id"],
            "_content": base64.b64encode(content).decode(),
        }
        self.store.insert(SERVICE, f"files@{ctx.adm}", record, id=file_id)
        return self._json(_public(record), 201)

    def _r_files(self, ctx, res, rest, method):
        if method != "GET" or len(rest) != 1:
            return None
        record = self.store.get(SERVICE, f"files@{ctx.adm}", rest[0])
        if record is None:
            raise ApiError(404, "not_found", detail="not_found_detail", resource="File", id=rest[0])
        return Response(base64.b64decode(record["_content"]), content_type=record["type"])

    # outstanding sales invoices ([I] field names)
    def _r_outstanding(self, ctx, res, rest, method):
        if method != "GET" or rest:
            return None
        today = dt.datetime.fromtimestamp(self.clock.now(), dt.timezone.utc).date()
        rows = []
        for inv in self.store.view(SERVICE, f"invoices@{ctx.adm}"):
            open_amount = _money(inv["amountInclVat"] - inv.get("_paid", 0.0))
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


ROUTES = {res: AsperionService._r_master for res in seed.MASTER}
ROUTES.update(
    {
        "administrations": AsperionService._r_administrations,
        "debtors": AsperionService._r_debtors,
        "draftsalesinvoices": AsperionService._r_drafts,
        "draftsalesinvoiceswithlines": AsperionService._r_drafts,
        "salesinvoices": AsperionService._r_invoices,
        "salesinvoiceswithlines": AsperionService._r_invoices,
        "outstandingsalesinvoices": AsperionService._r_outstanding,
        "files": AsperionService._r_files,
    }
)


def _iso(epoch):
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _validate_only(request):
    return any(
        k.lower() == "validateonly" and v.lower() == "true"
        for k, v in request.args.items(multi=True)
    )


def _page_url(request, page):
    args = [(k, v) for k, v in request.args.items(multi=True) if k.lower() != "page"]
    args.append(("page", str(page)))
    return request.base_url + "?" + urlencode(args)


def _add_query(url, **params):
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _redirect(url):
    return Response(status=302, headers={"Location": url})


def _oauth_error(error, description):
    body = {"error": error, "error_description": description}
    return Response(json.dumps(body), status=400, content_type="application/json")


def _html(body, status=200):
    page = f"<!doctype html><html><head><title>Asperion</title></head><body>{body}</body></html>"
    return Response(page, status=status, content_type="text/html; charset=utf-8")


def _consent_page(action, values):
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(values.get(k) or "")}">'
        for k in ("client_id", "redirect_uri", "state", "scope", "response_type")
    )
    return (
        "<h1>Asperion login</h1>"
        f'<form method="post" action="{escape(action)}">{hidden}'
        '<label>E-mail <input name="username" value="demo@sandbox.test"></label>'
        '<label>Wachtwoord <input type="password" name="password" value="sandbox"></label>'
        f"<p>{escape(values.get('client_id') or '')} vraagt toegang tot uw administraties.</p>"
        '<button type="submit" name="consent" value="yes">Yes, Allow</button>'
        '<button type="submit" name="consent" value="no">No, Do Not Allow</button>'
        "</form>"
    )
