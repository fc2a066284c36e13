"""Timewax simulator: POST-only XML services (facts: /work/shared/api/timewax.md, seed 003).

PATH_INFO arrives with ``/timewax`` stripped: ``/authentication/token/get/``,
``/invoicing/list/``, ``/company/list/``, ``/project/list/``. Failures are HTTP 200 with
``<valid>no</valid><errors>..</errors>``; only the fair-use limit answers HTTP 429.
"""

import datetime as dt
import re
import secrets
import threading
from xml.sax.saxutils import escape

from lxml import etree
from werkzeug.wrappers import Request, Response

from ..core.ratewindow import FixedWindows

SERVICE = "timewax"
CLIENT, USERNAME, PASSWORD = "sandbox", "api-user", "secret"
DEFAULT_CONFIG = {
    "token_lifetime": 3600,  # the doc: a token lasts 60 min
    "rate_limit_enabled": True,
    "rate_limit_per_second": 10,  # KB "API limits": max 10 requests/s per client environment
    # "clean": <lines><line>..</line></lines>; "case": <Lines><Line>..</Line></Lines>
    # (well-formed, other case); "doc": seed 003 verbatim, <Lines> .. </line></lines>
    # with <line> never opened (not well-formed: clients must parse leniently)
    "lines_style": "clean",
    # T8: both decimal formats and both credit-note signs
    "decimal_comma": False,  # undocumented decimal format: "1234.50" or "1234,50"
    "credit_note_sign": "positive",  # undocumented credit-note sign: positive | negative
}
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)

# Fixtures, dated 2026-01-05 .. 2026-03-20. Amounts excl. VAT per line; VAT codes "21", "9",
# "0" are Timewax codes the Odoo side maps per company; "VRIJ99" is deliberately unknown.
COMPANIES = [
    {
        "code": "C001",
        "name": "Acme BV",
        "isDebtor": "Yes",
        "VATNumber": "NL001234567B01",
        "debtor": {
            "name": "Acme BV",
            "attn": "Crediteurenadministratie",
            "address": "Damrak 1",
            "postcode": "1012 LG",
            "city": "Amsterdam",
            "country": "NL",
            "currency": "EUR",
            "debtorNumber": "D1001",
            "email": "invoices@acme.example",
        },
    },
    {
        "code": "C002",
        "name": "Globex Inc",
        "isDebtor": "Yes",
        "VATNumber": "",
        "debtor": {
            "name": "Globex Inc",
            "attn": "Accounts Payable",
            "address": "1 Main St",
            "postcode": "10001",
            "city": "New York",
            "country": "US",
            "currency": "USD",
            "debtorNumber": "D2001",
            "email": "ap@globex.example",
        },
    },
    {
        "code": "C003",
        "name": "Initech BV",
        "isDebtor": "Yes",
        "VATNumber": "NL009876543B01",
        "debtor": {
            "name": "Initech BV",
            "attn": "",
            "address": "Stationsplein 3",
            "postcode": "3511 ED",
            "city": "Utrecht",
            "country": "NL",
            "currency": "EUR",
            "debtorNumber": "D3001",
            "email": "finance@initech.example",
        },
    },
    {"code": "C004", "name": "Prospect BV", "isDebtor": "No", "VATNumber": "", "debtor": None},
]
PROJECTS = [
    {
        "code": "P100",
        "name": "Website redesign",
        "company": "C001",
        "isActive": "Yes",
        "isParent": "No",
        "portfolio": "Web",
    },
    {
        "code": "P200",
        "name": "US rollout",
        "company": "C002",
        "isActive": "Yes",
        "isParent": "No",
        "portfolio": "International",
    },
    {
        "code": "P300",
        "name": "Support contract",
        "company": "C003",
        "isActive": "Yes",
        "isParent": "No",
        "portfolio": "Support",
    },
    {
        "code": "P900",
        "name": "Old project",
        "company": "C001",
        "isActive": "No",
        "isParent": "No",
        "portfolio": "Web",
    },
]


def _item(raw, resource, hours="", rate="", km="", amount=0.0, text="", breakdown=("", "")):
    return {
        "rawDate": raw,
        "resourceCode": resource[0],
        "resourceName": resource[1],
        "breakdownCode": breakdown[0],
        "breakdownName": breakdown[1],
        "hours": hours,
        "rate": rate,
        "km": km,
        "amount": amount,
        "description": text,
    }


JAN, PIET = ("R01", "Jan Jansen"), ("R02", "Piet Pieters")


def _line(description, excl, vat_code, pct, items=()):
    vat = round(excl * pct / 100 + 1e-9, 2)
    return {
        "description": description,
        "amountExclVat": excl,
        "vatCode": vat_code,
        "vatAmount": vat,
        "amountInclVat": round(excl + vat, 2),
        "items": list(items),
    }


def _invoice(id_, number, raw, company, project, lines, currency="EUR", credit=False, refs=()):
    comp = next(c for c in COMPANIES if c["code"] == company)
    proj = next(p for p in PROJECTS if p["code"] == project)
    debtor = comp["debtor"]
    refs = list(refs) + [""] * (5 - len(refs))
    return {
        "id": id_,
        "period": raw[:7],
        "rawDate": raw,
        "number": number,
        "creditNote": "Yes" if credit else "No",
        "amountInclVat": round(sum(ln["amountInclVat"] for ln in lines), 2),
        "clientCode": comp["code"],
        "clientName": comp["name"],
        "projectCode": proj["code"],
        "projectName": proj["name"],
        "currencyCode": currency,
        **{f"invoiceReference{i + 1}": ref for i, ref in enumerate(refs)},
        "debtorName": debtor["name"],
        "debtorAttn": debtor["attn"],
        "debtorPostcode": debtor["postcode"],
        "debtorCity": debtor["city"],
        "debtorCountry": debtor["country"],
        "debtorNumber": debtor["debtorNumber"],
        "debtorEmail": debtor["email"],
        "lines": lines,
    }


def seed_invoices():
    """The invoicing/list fixtures; each covers one case the importer must handle."""
    return [
        # normal: hours with items (resource, breakdown, hours x rate) plus km
        _invoice(
            9001,
            "TW2026-0001",
            "2026-01-05",
            "C001",
            "P100",
            [
                _line(
                    "Ontwerp en bouw",
                    1425.0,
                    "21",
                    21,
                    [
                        _item(
                            "2026-01-02",
                            JAN,
                            "10.00",
                            "95.00",
                            "",
                            950.0,
                            "Ontwerp",
                            ("B10", "Design"),
                        ),
                        _item(
                            "2026-01-03",
                            PIET,
                            "5.00",
                            "95.00",
                            "",
                            475.0,
                            "Bouw",
                            ("B20", "Development"),
                        ),
                    ],
                ),
                _line(
                    "Reiskosten",
                    45.6,
                    "21",
                    21,
                    [
                        _item("2026-01-03", JAN, "", "", "120", 45.6, "Reis Amsterdam"),
                    ],
                ),
            ],
            refs=("PO-4711", "Fase 1"),
        ),
        # credit note on the first invoice (sign per config credit_note_sign)
        _invoice(
            9002,
            "TW2026-0002",
            "2026-01-20",
            "C001",
            "P100",
            [
                _line(
                    "Creditering ontwerp",
                    190.0,
                    "21",
                    21,
                    [
                        _item("2026-01-02", JAN, "2.00", "95.00", "", 190.0, "Correctie uren"),
                    ],
                ),
            ],
            credit=True,
            refs=("TW2026-0001",),
        ),
        # foreign currency
        _invoice(
            9003,
            "TW2026-0003",
            "2026-02-02",
            "C002",
            "P200",
            [
                _line(
                    "Consulting",
                    2400.0,
                    "0",
                    0,
                    [
                        _item("2026-01-28", PIET, "16.00", "150.00", "", 2400.0, "Rollout"),
                    ],
                ),
            ],
            currency="USD",
        ),
        # a VAT code no Odoo mapping knows
        _invoice(
            9004,
            "TW2026-0004",
            "2026-02-15",
            "C003",
            "P300",
            [
                _line("Support", 300.0, "VRIJ99", 0),
            ],
        ),
        # fixed-price lines: blank hours/rate/km, one item without resource (layout)
        _invoice(
            9005,
            "TW2026-0005",
            "2026-03-01",
            "C003",
            "P300",
            [
                _line(
                    "Supportbundel maart",
                    500.0,
                    "21",
                    21,
                    [
                        _item("2026-03-01", ("", ""), "", "", "", 500.0, "Bundel"),
                    ],
                ),
                _line("Handleiding", 40.0, "9", 9),
            ],
        ),
        # two lines with several items and mixed VAT
        _invoice(
            9006,
            "TW2026-0006",
            "2026-03-20",
            "C001",
            "P100",
            [
                _line(
                    "Onderhoud",
                    380.0,
                    "21",
                    21,
                    [
                        _item("2026-03-10", JAN, "2.00", "95.00", "", 190.0, "Updates"),
                        _item("2026-03-11", JAN, "2.00", "95.00", "", 190.0, "Backups"),
                    ],
                ),
                _line("Boeken", 59.9, "9", 9),
            ],
        ),
    ]


def _fmt_amount(value, config, negate=False):
    if value == "" or value is None:
        return ""
    text = f"{-value if negate else value:.2f}"
    return text.replace(".", ",") if config["decimal_comma"] else text


def _el(tag, value):
    return f"<{tag}>{escape(str(value))}</{tag}>"


def _dmy(raw):
    return f"{raw[8:10]}-{raw[5:7]}-{raw[:4]}" if raw else ""


class TimewaxService:
    def __init__(self, store, faults, clock):
        self.store, self.faults, self.clock = store, faults, clock
        self._lock = threading.Lock()
        self._buckets = FixedWindows()  # per client, for the 10/s fair-use limit
        self.config = dict(DEFAULT_CONFIG)
        if store.kv_get(f"{SERVICE}:seeded") is None:
            self.reset()
        else:
            self.config.update(store.kv_get(f"{SERVICE}:config", {}))

    def reset(self):
        with self._lock:
            self.store.reset(SERVICE)
            self.config = dict(DEFAULT_CONFIG)
            self._buckets.clear()
            for inv in seed_invoices():
                self.store.insert(SERVICE, "invoices", inv, id=inv["id"])
            self.store.kv_set(f"{SERVICE}:seeded", True)

    # -- control -----------------------------------------------------------------------
    def handle_control(self, action, path_rest, body):
        if action == "config":
            with self._lock:
                for key, default in DEFAULT_CONFIG.items():
                    if key in body:
                        self.config[key] = type(default)(body[key])
                self.store.kv_set(f"{SERVICE}:config", self.config)
                return 200, dict(self.config)
        if action == "invoices":  # add or replace a fixture: {"id":.., "number":.., ...}
            if "id" not in body or "lines" not in body:
                return 400, {"error": "an invoice needs id and lines"}
            if self.store.get(SERVICE, "invoices", body["id"]) is None:
                self.store.insert(SERVICE, "invoices", body, id=body["id"])
            else:
                self.store.update(SERVICE, "invoices", body["id"], body)
            return 200, body
        if action == "token" and path_rest == "expire":  # kill every token at once
            for rec in self.store.all(SERVICE, "tokens"):
                rec["expires_at"] = 0
                self.store.update(SERVICE, "tokens", rec["token"], rec)
            return 200, {"expired": True}
        return 404, {"error": f"unknown timewax control action {action}"}

    def fault_response(self, kind, environ):
        # the KB says only "HTTP 429"; Retry-After helps the client's capped backoff
        status = {"throttle": 429, "fail": 503}.get(kind)
        if status is None:
            return None
        text = b"Too Many Requests" if status == 429 else b"Service Unavailable"
        return Response(
            text, status=status, headers={"Retry-After": "1"}, content_type="text/plain"
        )

    # -- WSGI --------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        return self._dispatch(request)(environ, start_response)

    def _dispatch(self, request):
        path = request.path.lower().strip("/")
        handler = ROUTES.get(path)
        if handler is None:
            return Response(b"Not Found", status=404, content_type="text/plain")
        # T1: every service is an XML POST to its own URL
        if request.method != "POST":  # every Timewax service is POST-only
            return Response(b"Method Not Allowed", status=405, headers={"Allow": "POST"})
        try:
            root = etree.fromstring(request.get_data(cache=True), PARSER)
        except (etree.XMLSyntaxError, ValueError):
            limited = self._limited("?")
            return limited if limited is not None else _fail("invalid_xml")
        fields = {
            child.tag.lower(): (child.text or "").strip()
            for child in root
            if isinstance(child.tag, str)
        }
        return handler(self, fields)

    # T5: 10 requests per second per client environment
    def _limited(self, client):
        """HTTP 429 once a client makes more than N requests in the same clock second."""
        if not self.config["rate_limit_enabled"]:
            return None
        count = self._buckets.add(client, self.clock.now(), 1)
        if count > self.config["rate_limit_per_second"]:
            return Response(b"Too Many Requests", status=429, content_type="text/plain")
        return None

    # T4: the token travels in the body
    def _session(self, fields):
        """(client, error response) for a request carrying <token>."""
        rec = self.store.get(SERVICE, "tokens", fields.get("token") or "-")
        client = rec["client"] if rec else "?"
        limited = self._limited(client)
        if limited is not None:
            return client, limited
        if rec is None or self.faults.revoked:
            return client, _fail("invalid_token")
        if rec["expires_at"] <= self.clock.now():
            return client, _fail("token_expired")
        return client, None

    # T3: token/get; a token lasts 60 minutes
    def _token_get(self, fields):
        client = fields.get("client", "")
        limited = self._limited(client or "?")
        if limited is not None:
            return limited
        if (client.lower(), fields.get("username"), fields.get("password")) != (
            CLIENT,
            USERNAME,
            PASSWORD,
        ):
            return _fail("invalid_password")
        token = secrets.token_hex(20)
        expires = self.clock.now() + self.config["token_lifetime"]
        self.store.insert(
            SERVICE, "tokens", {"token": token, "client": CLIENT, "expires_at": expires}, id=token
        )
        # validUntil seen as yyyyMMddTHHmmss, zone unstated: the sandbox uses UTC
        until = dt.datetime.fromtimestamp(expires, dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
        return _ok("yes", _el("token", token) + _el("validUntil", until))

    # T6: dateFrom and dateTo are required
    def _invoicing_list(self, fields):
        _client, error = self._session(fields)
        if error is not None:
            return error
        bounds = []
        for key, name in (("datefrom", "dateFrom"), ("dateto", "dateTo")):
            value = fields.get(key, "")
            try:  # strictly yyyy-mm-dd: fromisoformat alone would take 20260101 too
                if not DATE_RE.fullmatch(value):
                    raise ValueError(value)
                bounds.append(dt.date.fromisoformat(value).isoformat())
            except ValueError:
                return _fail(f"invalid_{name}" if value else f"missing_{name}")
        wanted_project = fields.get("project", "").lower()
        wanted_client = fields.get("client", "").lower()
        out = []
        for inv in self.store.view(SERVICE, "invoices"):
            if not bounds[0] <= inv["rawDate"] <= bounds[1]:
                continue
            if wanted_project and wanted_project not in (
                inv["projectCode"].lower(),
                inv["projectName"].lower(),
            ):
                continue
            if wanted_client and wanted_client not in (
                inv["clientCode"].lower(),
                inv["clientName"].lower(),
            ):
                continue
            out.append(self._invoice_xml(inv))
        return _ok("true", "<invoices>" + "".join(out) + "</invoices>")

    # T9: the invoice header, lines and items
    def _invoice_xml(self, inv):
        negate = inv.get("creditNote") == "Yes" and self.config["credit_note_sign"] == "negative"
        amount = lambda v: _fmt_amount(v, self.config, negate)  # noqa: E731
        head = [
            _el("id", inv["id"]),
            _el("period", inv.get("period", "")),
            _el("date", _dmy(inv["rawDate"])),
            _el("rawDate", inv["rawDate"]),
            _el("number", inv["number"]),
            _el("creditNote", inv.get("creditNote", "No")),
            _el("amountInclVat", amount(inv["amountInclVat"])),
        ]
        for key in (
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
        ):
            head.append(_el(key, inv.get(key, "")))
        lines = [self._line_xml(line, amount) for line in inv["lines"]]
        return "<invoice>" + "".join(head) + self._wrap_lines(lines) + "</invoice>"

    def _line_xml(self, line, amount):
        items = "".join(
            "<item>"
            + "".join(
                [
                    _el("date", _dmy(it.get("rawDate", ""))),
                    _el("rawDate", it.get("rawDate", "")),
                    _el("resourceCode", it.get("resourceCode", "")),
                    _el("resourceName", it.get("resourceName", "")),
                    _el("breakdownCode", it.get("breakdownCode", "")),
                    _el("breakdownName", it.get("breakdownName", "")),
                    _el("hours", self._num(it.get("hours", ""))),
                    _el("rate", self._num(it.get("rate", ""))),
                    _el("amount", amount(it.get("amount", ""))),
                    _el("description", it.get("description", "")),
                    _el("km", it.get("km", "")),
                ]
            )
            + "</item>"
            for it in line.get("items", [])
        )
        return "".join(
            [
                _el("description", line.get("description", "")),
                _el("amountExclVat", amount(line["amountExclVat"])),
                _el("vatCode", line.get("vatCode", "")),
                _el("vatAmount", amount(line["vatAmount"])),
                _el("amountInclVat", amount(line["amountInclVat"])),
                "<items>" + items + "</items>",
            ]
        )

    def _num(self, text):
        return str(text).replace(".", ",") if self.config["decimal_comma"] else text

    def _wrap_lines(self, lines):
        # T7: the documented broken <Lines> shape
        style = self.config["lines_style"]
        if style == "doc":  # seed 003 verbatim: one <Lines> opener, </line></lines> closers
            return "".join("<Lines>" + body + "</line></lines>" for body in lines)
        if style == "case":
            return "<Lines>" + "".join(f"<Line>{b}</Line>" for b in lines) + "</Lines>"
        return "<lines>" + "".join(f"<line>{b}</line>" for b in lines) + "</lines>"

    # T10: company/list and project/list
    def _company_list(self, fields):
        _client, error = self._session(fields)
        if error is not None:
            return error
        out = []
        for comp in COMPANIES:
            debtor = comp["debtor"]
            debtors = (
                ""
                if debtor is None
                else "<debtor>" + "".join(_el(k, v) for k, v in debtor.items()) + "</debtor>"
            )
            out.append(
                "<company>"
                + "".join(
                    [
                        _el("code", comp["code"]),
                        _el("name", comp["name"]),
                        _el("isDebtor", comp["isDebtor"]),
                        _el("VATNumber", comp["VATNumber"]),
                        "<debtors>" + debtors + "</debtors>",
                        "<contactPersons></contactPersons>",
                    ]
                )
                + "</company>"
            )
        return _ok("yes", "<companies>" + "".join(out) + "</companies>")

    def _project_list(self, fields):
        _client, error = self._session(fields)
        if error is not None:
            return error
        active = fields.get("isactive", "").lower()
        out = []
        for proj in PROJECTS:
            if active in ("yes", "no") and proj["isActive"].lower() != active:
                continue
            out.append("<project>" + "".join(_el(k, v) for k, v in proj.items()) + "</project>")
        return _ok("yes", "<projects>" + "".join(out) + "</projects>")


ROUTES = {
    "authentication/token/get": TimewaxService._token_get,
    "invoicing/list": TimewaxService._invoicing_list,
    "company/list": TimewaxService._company_list,
    "project/list": TimewaxService._project_list,
}


def _xml(body):
    data = ('<?xml version="1.0" encoding="UTF-8"?><response>' + body + "</response>").encode()
    return Response(data, content_type="text/xml; charset=utf-8")


def _ok(valid, body):
    return _xml(_el("valid", valid) + body)


# T2: failures are HTTP 200 with valid=no
def _fail(reason):
    return _xml("<valid>no</valid><errors><![CDATA[" + reason + "]]></errors>")
