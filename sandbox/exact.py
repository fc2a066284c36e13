"""Exact Online simulator (facts: /work/shared/api/exact-online.md, sections 1-6 and 10).

``ExactService(store, faults, clock)`` is a WSGI callable for paths below ``/exact``:
``/api/oauth2/auth``, ``/api/oauth2/token``, ``/api/v1/current/Me`` and
``/api/v1/{division}/{service}/{Entity}``. It also offers:

- ``reset()``: wipe and re-seed the Exact data (config back to defaults);
- ``handle_control(action, path_rest, body) -> (status, dict)`` for ``/_sandbox/exact/...``:
  ``consent``, ``config``, ``receivables/<guid>/pay``, ``salesinvoices/<guid>/print``;
- ``fault_response("throttle", environ)``: the injected 429 with minutely headers.

Records live in the Store under service ``exact`` and kind ``"<division>/<set>"`` (e.g.
``1001/crm/Accounts``); fields starting with ``_`` are internal and never rendered.
"""

import base64
import binascii
import calendar
import copy
import datetime as dt
import html
import math
import re
import threading
import uuid
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from .common import (
    ClientRegistry,
    OAuthStore,
    access_token_dead,
    client_credentials,
    json_response,
)
from .exact_schema import DOCUMENTED
from .exact_seed import CONSENTABLE, CURRENCIES, seed

SERVICE = "exact"
MODELS = "Exact.Web.Api.Models."
MAX_URL = 6000
MAX_ATTACHMENT = 10 * 1024 * 1024
CENT = Decimal("0.01")

DEFAULT_CONFIG = {
    "rate_limit_enabled": True,
    "minutely_limit": 60,
    "daily_limit": 5000,
    "minute_window": 60,  # seconds; tests shrink it (e.g. 2) instead of sleeping a minute
    "access_ttl": 600,
    "min_token_age": 570,  # the 570 s rule between two access tokens
    "refresh_ttl": 30 * 86400,
    "code_ttl": 180,
    "error_cap": False,  # >10 4xx per endpoint per hour -> 403; off by default for test suites
    "error_cap_limit": 10,
}

# ---------------------------------------------------------------------------------------
# Entity definitions: field -> type (guid, str, int, float, bool, date, nav)
# ---------------------------------------------------------------------------------------
_COMMON = {"Division": "int", "Created": "date", "Modified": "date"}


def _fields(spec, **extra):
    out = {}
    for part in spec.split():
        name, _, typ = part.partition(":")
        out[name] = typ or "str"
    out.update(extra)
    return out


ACCOUNT = _fields(
    "ID:guid Code Name SearchCode Status Blocked:bool IsSales:bool Type Email VATNumber "
    "ChamberOfCommerce AddressLine1 AddressLine2 AddressLine3 Postcode City Country State "
    "Phone Website Language SalesVATCode PaymentConditionSales InvoicingMethod:int "
    "PeppolIdentifier GLAR:guid GLAccountSales:guid PriceList:guid Timestamp:int",
    **_COMMON,
)
VATCODE = _fields(
    "ID:guid Code Description Percentage:float Type VATTransactionType IsBlocked:bool "
    "GLToPay:guid GLToClaim:guid Charged:bool EUSalesListing",
    **_COMMON,
)
JOURNAL = _fields("ID:guid Code Description Type:int GLAccount:guid Currency", **_COMMON)
GLACCOUNT = _fields(
    "ID:guid Code Description Type:int BalanceType BalanceSide VATCode IsBlocked:bool", **_COMMON
)
ITEM = _fields(
    "ID:guid Code Description IsSalesItem:bool IsStockItem:bool SalesVatCode Unit "
    "GLRevenue:guid StandardSalesPrice:float",
    **_COMMON,
)
CURRENCY = _fields("ID:guid Code Description", **_COMMON)
PAYCOND = _fields(
    "ID:guid Code Description PaymentDays:int PaymentEndOfMonths:int "
    "DiscountPercentage:float PaymentMethod",
    **_COMMON,
)
INVOICE = _fields(
    "InvoiceID:guid Journal OrderedBy:guid OrderedByName InvoiceTo:guid InvoiceToName "
    "DeliverTo:guid Currency Description YourRef OrderNumber:int OrderDate:date "
    "InvoiceDate:date DueDate:date PaymentCondition PaymentReference Remarks Document:guid "
    "Salesperson:guid Type:int InvoiceNumber:int Status:int StatusDescription AmountFC:float "
    "AmountFCExclVat:float AmountDC:float VATAmountFC:float VATAmountDC:float "
    "AmountDiscount:float Timestamp:int SalesInvoiceLines:nav",
    **_COMMON,
)
INVOICE_LINE = _fields(
    "ID:guid InvoiceID:guid LineNumber:int Item:guid ItemCode ItemDescription Description "
    "Quantity:float UnitPrice:float NetPrice:float Discount:float AmountFC:float "
    "AmountDC:float VATCode VATPercentage:float VATAmountFC:float VATAmountDC:float "
    "GLAccount:guid UnitCode DeliveryDate:date CostCenter CostUnit Timestamp:int",
    **_COMMON,
)
ENTRY = _fields(
    "EntryID:guid Journal Customer:guid CustomerName EntryDate:date EntryNumber:int "
    "InvoiceNumber:int YourRef Description Currency Rate:float DueDate:date PaymentCondition "
    "PaymentReference ReportingPeriod:int ReportingYear:int Document:guid VATAmountFC:float "
    "VATAmountDC:float AmountFC:float AmountDC:float OrderNumber:int Status:int Type:int "
    "Timestamp:int SalesEntryLines:nav",
    **_COMMON,
)
ENTRY_LINE = _fields(
    "ID:guid EntryID:guid LineNumber:int AmountFC:float AmountDC:float GLAccount:guid "
    "VATCode VATPercentage:float VATAmountFC:float VATAmountDC:float VATBaseAmountFC:float "
    "Description Quantity:float CostCenter CostUnit Project:guid From:date To:date Notes",
    **_COMMON,
)
DOCUMENT = _fields(
    "ID:guid Subject Type:int Account:guid Body DocumentDate:date HasEmptyBody:bool",
    **_COMMON,
)
ATTACHMENT = _fields("ID:guid Document:guid FileName Attachment FileSize:float Url", **_COMMON)
RECEIVABLE = _fields(
    "ID:guid Account:guid AccountCode AccountName AmountDC:float AmountFC:float Currency "
    "Description DueDate:date EntryNumber:int InvoiceDate:date InvoiceNumber:int Journal "
    "YourRef IsFullyPaid:bool LastPaymentDate:date Status:int TransactionEntryID:guid "
    "TransactionID:guid PaymentMethod PaymentReference",
    **_COMMON,
)
RECEIVABLES_LIST = _fields(
    "HID:int AccountId:guid AccountCode AccountName Amount:float CurrencyCode Description "
    "DueDate:date EntryNumber:int InvoiceDate:date InvoiceNumber:int JournalCode "
    "JournalDescription YourRef"
)
DIVISION = _fields(
    "Code:int Description Hid:int Current:bool Country Currency VATNumber Status:int "
    "DivisionMoveDate:date IsMainDivision:bool CustomerName"
)
HRM_DIVISION = _fields(
    "Code:int Description HID:int Main:bool Country Currency VATNumber Status:int "
    "Customer:guid CustomerCode CustomerName"
)
ME = _fields(
    "UserID:guid CurrentDivision:int FullName Email LanguageCode Legislation:int "
    "ServerTime:date ServerUtcOffset:float UserName DivisionCustomer:guid"
)
PRINTED = _fields(
    "InvoiceID:guid InvoiceDate:date ReportingPeriod:int ReportingYear:int "
    "SendEmailToCustomer:bool SenderEmailAddress EmailLayout:guid DocumentLayout:guid "
    "ExtraText SendInvoiceToCustomerPostbox:bool SendInvoiceViaPeppol:bool "
    "SendOutputBasedOnAccount:bool PostboxSender PostboxMessageID:guid Document:guid "
    "DocumentCreationSuccess DocumentCreationError EmailCreationSuccess EmailCreationError "
    "PeppolCreationSuccess PeppolCreationError"
)
SYNC_INVOICE = dict(INVOICE, **{k: v for k, v in INVOICE_LINE.items() if k not in INVOICE})
SYNC_INVOICE.pop("SalesInvoiceLines")
SYNC_INVOICE["ID"] = "guid"

ACCOUNT_FILTERS = [
    "ID",
    "Code",
    "ChamberOfCommerce",
    "Email",
    "Modified",
    "Name",
    "SearchCode",
    "Status",
    "VATNumber",
]
ITEM_FILTERS = ["ID", "Code", "Barcode", "Description", "Modified", "SearchCode"]


class EntitySet:
    """One URL below /api/v1/{division}/ and how it behaves."""

    def __init__(
        self,
        path,
        type_name,
        fields,
        key,
        methods="G",
        kind=None,
        mode="crud",
        mandatory=None,
        navs=None,
        docs=None,
    ):
        self.path, self.type, self.key = path, MODELS + type_name, key
        self.methods, self.kind, self.mode = methods, kind or path, mode
        self.mandatory, self.navs = mandatory, navs or {}
        self.page = 1000 if mode in ("bulk", "sync") else (None if mode == "read" else 60)
        # Every documented property can be read, selected and filtered; the sandbox's own
        # types win for what it models. Writes: see ExactService._documented_extras.
        documented = _documented(docs or path)
        self.modeled = fields
        self.fields = {name: typ for name, (typ, _flags) in documented.items()}
        self.fields.update(fields)
        self.settable = {
            method: frozenset(n for n, (_t, flags) in documented.items() if method in flags)
            for method in "PU"
        }


def _documented(path):
    """{name: (type, flags)} from exact_schema.DOCUMENTED (empty when not listed)."""
    out = {}
    for item in DOCUMENTED.get(path, "").split():
        name, typ, *flags = item.split(":")
        out[name] = (typ, flags[0] if flags else "")
    return out


SETS = {
    s.path: s
    for s in [
        EntitySet("crm/Accounts", "Account", ACCOUNT, "ID", "GPUD", mandatory=ACCOUNT_FILTERS),
        EntitySet(
            "bulk/CRM/Accounts",
            "Bulk.CRM.Account",
            ACCOUNT,
            "ID",
            kind="crm/Accounts",
            mode="bulk",
            docs="crm/Accounts",
        ),
        EntitySet("vat/VATCodes", "VATCode", VATCODE, "ID"),
        EntitySet("financial/Journals", "Journal", JOURNAL, "ID"),
        EntitySet("financial/GLAccounts", "GLAccount", GLACCOUNT, "ID"),
        EntitySet("logistics/Items", "Item", ITEM, "ID", "GP", mandatory=ITEM_FILTERS),
        EntitySet("cashflow/PaymentConditions", "PaymentCondition", PAYCOND, "ID"),
        # The currencies the division knows (seeded from CURRENCIES).
        EntitySet("general/Currencies", "Currency", CURRENCY, "ID", "G"),
        EntitySet(
            "salesinvoice/SalesInvoices",
            "SalesInvoice",
            INVOICE,
            "InvoiceID",
            "GPUD",
            navs={"SalesInvoiceLines": ("salesinvoice/SalesInvoiceLines", "InvoiceID")},
        ),
        EntitySet("salesinvoice/SalesInvoiceLines", "SalesInvoiceLine", INVOICE_LINE, "ID", "GPUD"),
        EntitySet(
            "salesinvoice/PrintedSalesInvoices",
            "PrintedSalesInvoice",
            PRINTED,
            "InvoiceID",
            "P",
        ),
        EntitySet(
            "bulk/SalesInvoice/SalesInvoices",
            "Bulk.SalesInvoice.SalesInvoice",
            INVOICE,
            "InvoiceID",
            kind="salesinvoice/SalesInvoices",
            mode="bulk",
            navs={"SalesInvoiceLines": ("salesinvoice/SalesInvoiceLines", "InvoiceID")},
            docs="salesinvoice/SalesInvoices",
        ),
        EntitySet(
            "sync/SalesInvoice/SalesInvoices",
            "Sync.SalesInvoice.SalesInvoice",
            SYNC_INVOICE,
            "Timestamp",
            mode="sync",
        ),
        EntitySet(
            "salesentry/SalesEntries",
            "SalesEntry",
            ENTRY,
            "EntryID",
            "GPUD",
            navs={"SalesEntryLines": ("salesentry/SalesEntryLines", "EntryID")},
        ),
        EntitySet("salesentry/SalesEntryLines", "SalesEntryLine", ENTRY_LINE, "ID", "GPUD"),
        EntitySet("documents/Documents", "Document", DOCUMENT, "ID", "GPUD"),
        EntitySet("documents/DocumentAttachments", "DocumentAttachment", ATTACHMENT, "ID", "GPD"),
        EntitySet("cashflow/Receivables", "Receivable", RECEIVABLE, "ID", "GU"),
        EntitySet(
            "bulk/Cashflow/Receivables",
            "Bulk.Cashflow.Receivable",
            RECEIVABLE,
            "ID",
            kind="cashflow/Receivables",
            mode="bulk",
            docs="cashflow/Receivables",
        ),
        EntitySet(
            "read/financial/ReceivablesList",
            "ReceivablesList",
            RECEIVABLES_LIST,
            "HID",
            mode="read",
        ),
        EntitySet("system/Divisions", "System.Division", DIVISION, "Code"),
        # One license's divisions that the user may access (both clients list them here).
        EntitySet("hrm/Divisions", "HRM.Division", HRM_DIVISION, "Code"),
    ]
}
SET_NAMES = sorted(SETS, key=len, reverse=True)
SELECT_REQUIRED = "Please add a $select or a $top=1 statement to the query string."


class ODataError(Exception):
    """An error answer: JSON body in Exact's shape (or empty when message is None)."""

    def __init__(self, status, message, headers=None, body=True):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, dict(headers or {})
        self.body = body

    def response(self):
        if not self.body:
            return Response(b"", status=self.status, headers=self.headers)
        data = {"error": {"code": "", "message": {"lang": "", "value": self.message}}}
        return json_response(data, self.status, self.headers)


def _bad(message, status=400):
    return ODataError(status, message)


def _no_property(type_name, name):
    return _bad(f"Type '{type_name}' does not have a property named '{name}'.")


# ---------------------------------------------------------------------------------------
# Values: dates, money
# ---------------------------------------------------------------------------------------
def iso_from_epoch(seconds):
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def parse_date(value, field="Datum"):
    """ISO date/datetime or /Date(ms)/ -> 'YYYY-MM-DDTHH:MM:SS'; None stays None."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    match = re.fullmatch(r"/Date\((-?\d+)\)/", text)
    if match:
        return iso_from_epoch(int(match.group(1)) / 1000.0)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "")[:26])
    except ValueError:
        raise _bad(f"Ongeldige datum: {field}")
    return parsed.replace(tzinfo=None, microsecond=0).isoformat()


def odata_date(iso):
    """Exact's '/Date(ms)/': the wall clock encoded as if it were UTC."""
    if iso is None:
        return None
    parsed = dt.datetime.fromisoformat(iso)
    return f"/Date({calendar.timegm(parsed.timetuple()) * 1000})/"


def money(value, field="Bedrag"):
    """Amounts as numbers or strings, rounded half-up to the cent like Exact does."""
    try:
        return float(Decimal(str(value).strip()).quantize(CENT, rounding=ROUND_HALF_UP))
    except (InvalidOperation, ValueError):
        raise _bad(f"Ongeldige waarde: {field}")


def number(value, field):
    if value is None or value == "":
        return None
    try:
        return float(Decimal(str(value).strip()))
    except (InvalidOperation, ValueError):
        raise _bad(f"Ongeldige waarde: {field}")


def add_days(iso, days):
    parsed = dt.datetime.fromisoformat(iso) + dt.timedelta(days=days)
    return parsed.isoformat()


# ---------------------------------------------------------------------------------------
# $filter: a small recursive-descent parser producing a predicate
# ---------------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<guid>guid'(?P<guidv>[^']*)')
  | (?P<dt>datetime'(?P<dtv>[^']*)')
  | (?P<str>'(?P<strv>(?:[^']|'')*)')
  | (?P<num>-?\d+(?:\.\d+)?)(?P<suffix>[LlMmDdFf])?(?![A-Za-z0-9_])
  | (?P<lp>\() | (?P<rp>\)) | (?P<comma>,)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_/.]*)
    )""",
    re.X,
)
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCS = {
    "trim": (1, lambda a: a.strip() if isinstance(a, str) else a),
    "tolower": (1, lambda a: a.lower() if isinstance(a, str) else a),
    "toupper": (1, lambda a: a.upper() if isinstance(a, str) else a),
    "length": (1, lambda a: len(a) if isinstance(a, str) else None),
    "substringof": (2, lambda a, b: _fold(a) in _fold(b) if a is not None and b else False),
    "startswith": (2, lambda a, b: _fold(a).startswith(_fold(b)) if a and b is not None else False),
    "endswith": (2, lambda a, b: _fold(a).endswith(_fold(b)) if a and b is not None else False),
}


def _fold(value):
    return value.casefold() if isinstance(value, str) else str(value)


def _tokenize(text):
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise _bad(f"Syntax error at position {pos} in '{text}'.")
        pos = match.end()
        kind = None
        for name in ("guid", "dt", "str", "num", "lp", "rp", "comma", "ident"):
            if match.group(name) is not None:
                kind = name
                break
        tokens.append((kind, match))
    return tokens


def _literal(kind, match):
    if kind == "guid":
        return match.group("guidv").lower()
    if kind == "dt":
        return parse_date(match.group("dtv"))
    if kind == "str":
        return match.group("strv").replace("''", "'")
    text = match.group("num")
    return float(text) if "." in text else int(text)


# .NET names in Exact's "incompatible operand types" message (the sandbox's field types).
_NET_TYPES = {
    "str": "System.String",
    "int": "System.Int32",
    "float": "System.Double",
    "bool": "System.Boolean",
    "guid": "System.Guid",
    "date": "System.DateTime",
}
_FUNC_TYPES = {
    "trim": "str",
    "tolower": "str",
    "toupper": "str",
    "length": "int",
    "substringof": "bool",
    "startswith": "bool",
    "endswith": "bool",
}


def _typed(node, vtype, nullable=False):
    """Tag a $filter node with its value type (None: null or unknown)."""
    node.vtype, node.nullable = vtype, nullable
    return node


def _comparable(left, right):
    """OData v2 (WCF Data Services): numbers compare with numbers, every other type only
    with itself; null compares with anything."""
    a, b = getattr(left, "vtype", None), getattr(right, "vtype", None)
    if a is None or b is None or a == b:
        return True
    return {a, b} <= {"int", "float"}


def _net_type(node):
    name = _NET_TYPES.get(node.vtype, "System.Object")
    return f"System.Nullable`1[{name}]" if node.nullable and node.vtype != "str" else name


def _compare(op, left, right):
    if isinstance(left, str) and isinstance(right, str):
        left, right = left.casefold(), right.casefold()  # SQL Server's CI collation
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if left is None or right is None:
        return False
    try:
        return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[
            op
        ]
    except TypeError:
        return False


class FilterParser:
    """Grammar: or_expr := and_expr ('or' and_expr)*; and_expr := not_expr ('and' ...)*;
    not_expr := 'not' not_expr | operand (cmp operand)?; operand := literal | field |
    func '(' args ')' | '(' or_expr ')'."""

    def __init__(self, text, fields, type_name):
        self.tokens, self.i = _tokenize(text), 0
        self.fields, self.type_name, self.refs = fields, type_name, set()

    def parse(self):
        node = self.or_expr()
        if self.i != len(self.tokens):
            raise _bad(
                f"Syntax error in $filter: unexpected '{self.tokens[self.i][1].group(0).strip()}'."
            )
        return node

    def peek_word(self):
        if self.i < len(self.tokens) and self.tokens[self.i][0] == "ident":
            return self.tokens[self.i][1].group("ident")
        return None

    def expect(self, kind):
        if self.i >= len(self.tokens) or self.tokens[self.i][0] != kind:
            raise _bad(
                "Syntax error in $filter: '{}' expected.".format(
                    {"lp": "(", "rp": ")", "comma": ","}.get(kind, kind)
                )
            )
        self.i += 1

    def or_expr(self):
        node = self.and_expr()
        while self.peek_word() == "or":
            self.i += 1
            left, right = node, self.and_expr()
            node = lambda d, a=left, b=right: bool(a(d)) or bool(b(d))  # noqa: E731
        return node

    def and_expr(self):
        node = self.not_expr()
        while self.peek_word() == "and":
            self.i += 1
            left, right = node, self.not_expr()
            node = lambda d, a=left, b=right: bool(a(d)) and bool(b(d))  # noqa: E731
        return node

    def not_expr(self):
        if self.peek_word() == "not":
            self.i += 1
            inner = self.not_expr()
            return lambda d: not inner(d)
        left = self.operand()
        op = self.peek_word()
        if op in _COMPARE:
            position = self.tokens[self.i][1].start(self.tokens[self.i][0])
            self.i += 1
            right = self.operand()
            if not _comparable(left, right):
                # Exact answers 400 here, where a lenient reading would give an empty list.
                raise _bad(
                    f"Operator '{op}' incompatible with operand types '{_net_type(left)}' "
                    f"and '{_net_type(right)}' at position {position}."
                )
            return _typed(lambda d: _compare(op, left(d), right(d)), "bool")
        return left

    def operand(self):
        if self.i >= len(self.tokens):
            raise _bad("Syntax error in $filter: unexpected end.")
        kind, match = self.tokens[self.i]
        self.i += 1
        if kind == "lp":
            node = self.or_expr()
            self.expect("rp")
            return node
        if kind in ("guid", "dt", "str", "num"):
            value = _literal(kind, match)
            vtype = {"guid": "guid", "dt": "date", "str": "str"}.get(kind)
            if kind == "num":
                vtype = (
                    "float"
                    if isinstance(value, float)
                    or match.group("suffix") in ("M", "m", "D", "d", "F", "f")
                    else "int"
                )
            return _typed(lambda d: value, vtype)
        if kind != "ident":
            raise _bad(f"Syntax error in $filter near '{match.group(0).strip()}'.")
        word = match.group("ident")
        if self.i < len(self.tokens) and self.tokens[self.i][0] == "lp":
            return self.function(word)
        constants = {"true": True, "false": False, "null": None}
        if word in constants:
            value = constants[word]
            return _typed(lambda d: value, None if value is None else "bool")
        if word not in self.fields or self.fields[word] == "nav":
            raise _no_property(self.type_name, word)
        self.refs.add(word)
        return _typed(lambda d: d.get(word), self.fields[word], nullable=True)

    def function(self, name):
        if name not in _FUNCS:
            raise _bad(f"Unknown function '{name}' in $filter.")
        arity, fn = _FUNCS[name]
        self.expect("lp")
        args = [self.or_expr()]
        while self.i < len(self.tokens) and self.tokens[self.i][0] == "comma":
            self.i += 1
            args.append(self.or_expr())
        self.expect("rp")
        if len(args) != arity:
            raise _bad(f"Function '{name}' takes {arity} argument(s).")
        return _typed(lambda d: fn(*(a(d) for a in args)), _FUNC_TYPES.get(name))


def compile_filter(text, fields, type_name):
    """(predicate, referenced field names) for an OData v2 $filter."""
    parser = FilterParser(text, fields, type_name)
    return parser.parse(), parser.refs


# ---------------------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------------------
class ExactService:
    def __init__(self, store, faults, clock):
        self.store, self.faults, self.clock = store, faults, clock
        self.oauth = OAuthStore(store, SERVICE, clock)
        self.clients = ClientRegistry(store, SERVICE)
        self._lock = threading.RLock()  # serialises writes (sequences, totals)
        self._rate = {}  # division -> counters; in memory: a restart is a fresh minute
        self._errors = {}  # (division, endpoint, hour) -> 4xx count, for the error cap
        self._config = None
        self.user_id = "5c4f3e2a-0000-4000-8000-000000001001"
        self.creators = {
            "crm/Accounts": self.create_account,
            "logistics/Items": self.create_item,
            "salesinvoice/SalesInvoices": self.create_invoice,
            "salesinvoice/SalesInvoiceLines": self.create_invoice_line,
            "salesinvoice/PrintedSalesInvoices": self.create_print,
            "salesentry/SalesEntries": self.create_entry,
            "salesentry/SalesEntryLines": self.create_entry_line,
            "documents/Documents": self.create_document,
            "documents/DocumentAttachments": self.create_attachment,
        }
        if not store.kv_get("exact:seeded"):
            self.reset()

    # -- seed, config, storage helpers -------------------------------------------------
    def reset(self):
        with self._lock:
            self.store.reset(SERVICE)
            self._rate.clear()
            self._errors.clear()
            seed(self)
            self.store.kv_set("exact:seeded", True)
            self._config = None

    @property
    def config(self):
        """Settings (defaults + /_sandbox/exact/config), cached: read on every request."""
        cached = self._config
        if cached is None:
            cached = self._config = dict(DEFAULT_CONFIG, **self.store.kv_get("exact:config", {}))
        return cached

    def seed_record(self, div, kind, data):
        self.save(div, kind, data, new=True)

    def rows(self, div, kind):
        return self.store.view(SERVICE, f"{div}/{kind}")

    def get(self, div, kind, key):
        return self.store.get(SERVICE, f"{div}/{kind}", str(key).lower()) if key else None

    def save(self, div, kind, doc, new=False):
        """Insert or replace a record, stamping Division, Created/Modified and Timestamp."""
        key = SETS[kind].key if kind in SETS else "ID"
        now = iso_from_epoch(self.clock.now())
        doc["Division"] = div
        if not doc.get("Created"):  # creators start from {field: None}: fill it on insert
            doc["Created"] = now
        doc["Modified"] = now
        if kind in (
            "salesinvoice/SalesInvoices",
            "salesinvoice/SalesInvoiceLines",
            "crm/Accounts",
            "salesentry/SalesEntries",
        ):
            doc["Timestamp"] = self.store.next_seq("exact:timestamp")  # Int64 rowversion
        if new:
            self.store.insert(SERVICE, f"{div}/{kind}", doc, id=doc[key])
        else:
            self.store.update(SERVICE, f"{div}/{kind}", doc[key], doc)
        return doc

    def remove(self, div, kind, key):
        self.store.delete(SERVICE, f"{div}/{kind}", key)

    def find(self, div, kind, **match):
        """First record matching field values (trimmed, case-insensitive), as a copy."""
        for row in self.rows(div, kind):
            if all(_same(row.get(k), v) for k, v in match.items()):
                return copy.deepcopy(row)  # callers may edit it before save()
        return None

    def divisions(self):
        return {d["Code"]: d for d in self.store.view(SERVICE, "divisions")}

    # -- WSGI ------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            resp = self.dispatch(request)
        except ODataError as err:
            resp = err.response()
        return resp(environ, start_response)

    def dispatch(self, request):
        path = request.path
        if path == "/api/oauth2/auth":
            return self.authorize(request)
        if path == "/api/oauth2/token":
            return self.token(request)
        if path.startswith("/api/v1/"):
            return self.api(request, path[len("/api/v1/") :])
        raise _bad("Not found", 404)

    # -- OAuth -----------------------------------------------------------------------
    def authorize(self, request):
        """A tiny login/consent page; its form posts back here and redirects with a code."""
        args = request.args
        client_id, redirect_uri = args.get("client_id", ""), args.get("redirect_uri", "")
        problem = self._client_problem(client_id, redirect_uri)
        if problem:
            # Never redirect to an unregistered URI: an error page, as Exact shows.
            return Response(
                f"<h1>Exact Online</h1><p>{html.escape(problem)}</p>",
                400,
                content_type="text/html; charset=utf-8",
            )
        if request.method == "POST":
            state = args.get("state", "")
            if request.form.get("action") != "allow":
                return _redirect(redirect_uri, {"error": "access_denied", "state": state})
            chosen = [int(d) for d in request.form.getlist("division") if d.isdigit()]
            divisions = [d for d in chosen if d in CONSENTABLE]
            if not divisions:
                return Response(
                    "<h1>Kies minstens één administratie</h1>",
                    400,
                    content_type="text/html; charset=utf-8",
                )
            code = self.oauth.issue_code(
                client_id, redirect_uri, self.config["code_ttl"], divisions=divisions
            )
            return _redirect(redirect_uri, {"code": code, "state": state})
        return Response(self._consent_page(request), 200, content_type="text/html; charset=utf-8")

    def _consent_page(self, request):
        names = self.divisions()
        boxes = "".join(
            f'<label><input type="checkbox" name="division" value="{d}" checked> {d} '
            f"{html.escape(names[d]['Description'])}</label><br>"
            for d in CONSENTABLE
        )
        # Root-relative with the mount prefix (SCRIPT_NAME, e.g. /exact): the browser must
        # post back to this same page wherever the sandbox is mounted.
        action = html.escape(request.script_root + request.full_path)
        return (
            "<!doctype html><html><head><title>Exact Online (sandbox)</title></head><body>"
            "<h1>Exact Online sandbox</h1><p>Gebruiker: sandbox@example.com</p>"
            f'<form method="post" action="{action}">'
            f"<fieldset><legend>Administraties</legend>{boxes}</fieldset>"
            '<button type="submit" name="action" value="allow">Toestaan</button> '
            '<button type="submit" name="action" value="deny">Weigeren</button>'
            "</form></body></html>"
        )

    def _client_problem(self, client_id, redirect_uri):
        if self.clients.get(client_id) is None:
            return f"Unknown client_id {client_id!r}."
        if not self.clients.redirect_ok(client_id, redirect_uri):
            return (
                f"The redirect_uri {redirect_uri!r} does not match a redirect URL registered "
                "for this app in the App Center."
            )
        return None

    def consent(self, body):
        """Control API: the same as a user pressing 'allow' on the consent page."""
        client_id, redirect_uri = body.get("client_id", ""), body.get("redirect_uri", "")
        problem = self._client_problem(client_id, redirect_uri)
        if problem:
            return 400, {"error": problem}
        divisions = [int(d) for d in body.get("divisions") or CONSENTABLE]
        if not set(divisions) <= set(CONSENTABLE):
            return 400, {"error": f"the sandbox user can only consent to {list(CONSENTABLE)}"}
        code = self.oauth.issue_code(
            client_id, redirect_uri, self.config["code_ttl"], divisions=divisions
        )
        params = {"code": code, "state": body.get("state", "")}
        return 200, {"redirect": _redirect_url(redirect_uri, params), "code": code}

    def token(self, request):
        if request.method != "POST":
            raise _bad("Method not allowed", 405)
        form = request.form
        client_id, secret = client_credentials(request)
        if not self.clients.secret_ok(client_id, secret):
            return _oauth_error(400, "invalid_request")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._token_from_code(form, client_id)
        if grant_type == "refresh_token":
            return self._token_from_refresh(form, client_id)
        return _oauth_error(400, "unsupported_grant_type")

    def _token_from_code(self, form, client_id):
        rec = self.oauth.take_code(form.get("code", ""), client_id, form.get("redirect_uri"))
        if rec is None or self.faults.revoked:
            # used twice, expired (3 minutes) or for another redirect_uri
            return _oauth_error(
                400, "invalid_grant", "The authorization code is invalid or expired."
            )
        cfg = self.config
        tokens = self.oauth.issue_tokens(
            client_id, rec["grant"], cfg["access_ttl"], cfg["refresh_ttl"]
        )
        return _token_response(tokens, cfg["access_ttl"])

    def _token_from_refresh(self, form, client_id):
        with self._lock:
            rec = self.oauth.by_refresh(form.get("refresh_token", ""))
            now, cfg = self.clock.now(), self.config
            if rec is None or self.faults.revoked or rec["client_id"] != client_id:
                return _oauth_error(400, "invalid_grant")
            if rec["refresh_used"]:
                return _oauth_error(401, "unauthorized_client", "Old refresh token used.")
            if now > rec["refresh_expires_at"]:
                return _oauth_error(
                    400,
                    "invalid_request",
                    f"The refresh token expired at {_us_time(rec['refresh_expires_at'])}"
                    f" and it is now {_us_time(now)}.",
                )
            if now - rec["issued_at"] < cfg["min_token_age"]:
                # [unverified] whether the current pair survives a too-early refresh: we keep
                # it usable, so a client that backs off keeps working (the friendlier reading)
                msg = "Rate limit exceeded: access_token not expired"
                resp = _oauth_error(400, "access_denied", msg)
                resp.headers["Reason"] = "TooEarlyToRefreshTokens: " + msg
                return resp
            rec["refresh_used"] = True
            self.oauth.save(rec)
            tokens = self.oauth.issue_tokens(
                rec["client_id"],
                rec["grant"],
                cfg["access_ttl"],
                cfg["refresh_ttl"],
                family=rec["family"],
            )
        return _token_response(tokens, cfg["access_ttl"])

    def authenticate(self, request):
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        rec = self.oauth.by_access(token)
        if access_token_dead(rec, self.clock.now(), self.faults):
            raise ODataError(
                401, "Unauthorized", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        return rec

    # -- API routing -----------------------------------------------------------------
    def api(self, request, rest):
        raw_len = (
            len(request.environ.get("SCRIPT_NAME", ""))
            + len(request.path)
            + len(request.environ.get("QUERY_STRING", ""))
        )
        if raw_len > MAX_URL:
            raise _bad("The request URL is too long (max 6000 characters).")
        token = self.authenticate(request)
        div_text, _, sub = rest.partition("/")
        if div_text == "current" and sub == "Me":
            return self.me(request, token)  # no division: not rate-counted
        if not div_text.isdigit():
            raise _bad("Not found", 404)
        div = int(div_text)
        entity_set, key, tail = _split_resource(sub)
        divisions_list = entity_set is not None and entity_set.path == "system/Divisions"
        if not divisions_list and div not in token["grant"]["divisions"]:
            # the {div} of system/Divisions is not validated (picqer#470)
            # 'Forbidden - WrongDivision' is [unverified]; we send the documented Reason
            raise ODataError(403, "Forbidden", {"Reason": "NoDivisionAccess"})
        headers = self.count_call(div)  # every division URL counts, even a wrong one
        endpoint = f"{request.method} {entity_set.path if entity_set else sub}"
        try:
            injected = self.faults.status_for(entity_set.path if entity_set else sub,
                                              request.method)
            if injected == 404:
                # What Exact answers for an endpoint the division does not offer.
                raise _bad(f"Resource not found for the segment '{sub.split('?')[0]}'.", 404)
            if injected:
                raise ODataError(injected, "The service is temporarily unavailable.")
            if entity_set is None:
                raise _bad(f"Resource not found for the segment '{sub}'.", 404)
            if self._error_cap_blocked(div, endpoint):
                raise ODataError(
                    403,
                    "Forbidden: too many errors on this endpoint.",
                    {"Reason": "ErrorLimitExceeded"},
                )
            resp = self.route(request, div, entity_set, key, tail, token)
        except ODataError as err:
            err.headers.update(headers)
            self._count_error(div, endpoint, err.status)
            raise
        resp.headers.extend(headers.items())
        self._count_error(div, endpoint, resp.status_code)
        return resp

    def route(self, request, div, entity_set, key, tail, token):
        method = request.method
        letter = {"GET": "G", "POST": "P", "PUT": "U", "DELETE": "D"}.get(method)
        if letter is None or letter not in entity_set.methods:
            raise _bad("Method not allowed", 405)
        if method == "GET":
            return self.read(request, div, entity_set, key, tail, token)
        if method == "POST":
            if key is not None:
                raise _bad("Method not allowed", 405)
            return self.create(request, div, entity_set)
        if key is None:
            raise _bad("Method not allowed", 405)
        if method == "PUT":
            return self.update(request, div, entity_set, key)
        return self.delete(div, entity_set, key)

    # -- rate limits -----------------------------------------------------------------
    def count_call(self, div):
        """Count one call for the division; raise 429 when a budget is spent; the 6 headers."""
        cfg, now = self.config, self.clock.now()
        window = max(float(cfg["minute_window"]), 0.001)
        start = math.floor(now / window) * window  # fixed window aligned like the clock minute
        day = math.floor(now / 86400)
        minute_reset = int((start + window) * 1000)
        day_reset = int((day + 1) * 86400 * 1000)
        if not cfg["rate_limit_enabled"]:
            return _rate_headers(1000000, 1000000, day_reset, 100000, 100000, minute_reset)
        with self._lock:
            st = self._rate.setdefault(div, {"start": None, "minute": 0, "day": None, "daily": 0})
            if st["start"] != start:
                st["start"], st["minute"] = start, 0
            if st["day"] != day:
                st["day"], st["daily"] = day, 0
            if st["daily"] >= cfg["daily_limit"]:
                headers = _rate_headers(
                    cfg["daily_limit"],
                    0,
                    day_reset,
                    cfg["minutely_limit"],
                    max(cfg["minutely_limit"] - st["minute"], 0),
                    minute_reset,
                )
                raise ODataError(429, None, headers, body=False)
            if st["minute"] >= cfg["minutely_limit"]:
                # a minutely 429 carries only the minutely headers and an empty body
                headers = _rate_headers(None, None, None, cfg["minutely_limit"], 0, minute_reset)
                raise ODataError(429, None, headers, body=False)
            st["minute"] += 1
            st["daily"] += 1
            return _rate_headers(
                cfg["daily_limit"],
                cfg["daily_limit"] - st["daily"],
                day_reset,
                cfg["minutely_limit"],
                cfg["minutely_limit"] - st["minute"],
                minute_reset,
            )

    def fault_response(self, kind, environ):
        """Injected throttle: a minutely 429 as Exact sends it (minutely headers, no body)."""
        if kind != "throttle":
            return None
        cfg, now = self.config, self.clock.now()
        window = max(float(cfg["minute_window"]), 0.001)
        reset = int((math.floor(now / window) * window + window) * 1000)
        return Response(
            b"", 429, headers=_rate_headers(None, None, None, cfg["minutely_limit"], 0, reset)
        )

    def _error_cap_blocked(self, div, endpoint):
        cfg = self.config
        if not cfg["error_cap"]:
            return False
        hour = math.floor(self.clock.now() / 3600)
        return self._errors.get((div, endpoint, hour), 0) > cfg["error_cap_limit"]

    def _count_error(self, div, endpoint, status):
        if status in (400, 401, 403, 404):
            hour = math.floor(self.clock.now() / 3600)
            with self._lock:
                key = (div, endpoint, hour)
                self._errors[key] = self._errors.get(key, 0) + 1

    # -- reading -----------------------------------------------------------------------
    def me(self, request, token):
        divisions = token["grant"]["divisions"]
        row = {
            "UserID": self.user_id,
            "CurrentDivision": divisions[0],
            "FullName": "Sandbox Gebruiker",
            "Email": "sandbox@example.com",
            "UserName": "sandbox@example.com",
            "LanguageCode": "nl-NL",
            "Legislation": 1,
            "ServerTime": iso_from_epoch(self.clock.now()),
            "ServerUtcOffset": 0.0,
            "DivisionCustomer": None,
        }
        select = self._select(request, ME, MODELS + "System.Me")
        out = _project(row, ME, select)
        out["__metadata"] = {
            "uri": self._base(request) + f"/api/v1/current/Me(guid'{self.user_id}')",
            "type": MODELS + "System.Me",
        }
        return self._answer(request, {"d": {"results": [out]}})

    def read(self, request, div, entity_set, key, tail, token):
        rows = self._source(div, entity_set, token)
        if key is not None:
            row = next((r for r in rows if _key_equal(r.get(entity_set.key), key)), None)
            if row is None:
                raise _bad("Entity not found", 404)
            if tail:
                nav = entity_set.navs.get(tail)
                if nav is None:
                    raise _no_property(entity_set.type, tail)
                child = SETS[nav[0]]
                kids = [
                    r for r in self.rows(div, child.kind) if r.get(nav[1]) == row[entity_set.key]
                ]
                return self.collection(request, div, child, kids)
            select = self._select(request, entity_set.fields, entity_set.type)
            return self._answer(request, {"d": self.render(request, div, entity_set, row, select)})
        if tail == "$count":
            predicate = self._filter(request, entity_set)
            count = sum(1 for r in rows if predicate(r))
            return Response(str(count), 200, content_type="text/plain")
        if tail:
            raise _bad(f"Resource not found for the segment '{tail}'.", 404)
        return self.collection(request, div, entity_set, rows)

    def _source(self, div, entity_set, token):
        if entity_set.path == "system/Divisions":
            divs = self.divisions()
            consented = token["grant"]["divisions"]
            return [
                dict(
                    divs[d],
                    Current=(d == consented[0]),
                    Status=1,
                    IsMainDivision=(d == 1001),
                    CustomerName=divs[d]["Description"],
                )
                for d in consented
                if d in divs
            ]
        if entity_set.path == "hrm/Divisions":
            # The license that owns the division in the URI; only divisions with consent.
            divs = self.divisions()
            return [
                dict(
                    Code=d,
                    Description=divs[d]["Description"],
                    HID=divs[d]["Hid"],
                    Main=(d == 1001),
                    Country=divs[d].get("Country"),
                    Currency=divs[d].get("Currency"),
                    VATNumber=divs[d].get("VATNumber"),
                    Status=1,
                )
                for d in token["grant"]["divisions"]
                if d in divs
            ]
        if entity_set.path == "read/financial/ReceivablesList":
            return self._receivables_list(div)
        if entity_set.mode == "sync":
            return self._sync_invoice_rows(div)
        return self.rows(div, entity_set.kind)

    def collection(self, request, div, entity_set, rows):
        args = request.args
        select = self._select(request, entity_set.fields, entity_set.type)
        top = _int_arg(args.get("$top"), "$top")
        if entity_set.mode in ("bulk", "sync") and not select and top != 1:
            raise _bad(SELECT_REQUIRED)
        if entity_set.mandatory and "$filter" not in args:
            raise _bad(
                "This endpoint has mandatory filtering applied. A GET request for this endpoint "
                "must have a $filter parameter with one of the following fields in the url: "
                + ", ".join(entity_set.mandatory)
                + "."
            )
        predicate = self._filter(request, entity_set)
        rows = [r for r in rows if predicate(r)]
        rows = _order(rows, args.get("$orderby"), entity_set)
        rows = rows[_int_arg(args.get("$skip"), "$skip") or 0 :]
        rows = _after_skiptoken(rows, args.get("$skiptoken"), entity_set)
        size = entity_set.page or len(rows) or 1
        if top is not None:
            size = min(size, top)
        chunk = rows[:size]
        remaining_top = None if top is None else top - len(chunk)
        out = {"results": [self.render(request, div, entity_set, r, select) for r in chunk]}
        if len(rows) > len(chunk) and (remaining_top is None or remaining_top > 0):
            out["__next"] = self._next_url(request, entity_set, chunk[-1], remaining_top)
        return self._answer(request, {"d": out})

    def _select(self, request, fields, type_name):
        text = request.args.get("$select")
        if not text:
            return None
        names = [n.strip() for n in text.split(",") if n.strip()]
        if names == ["*"]:
            return None
        for name in names:
            if name not in fields:
                raise _no_property(type_name, name)
        return names

    def _filter(self, request, entity_set):
        text = request.args.get("$filter")
        if not text:
            return lambda r: True
        predicate, refs = compile_filter(text, entity_set.fields, entity_set.type)
        if entity_set.mode == "sync" and refs - {"Timestamp"}:
            raise _bad("Only the Timestamp field can be used in the $filter of a sync endpoint.")
        if entity_set.mandatory and not refs & set(entity_set.mandatory):
            raise _bad(
                "This endpoint has mandatory filtering applied. A GET request for this endpoint "
                "must have a $filter parameter with one of the following fields in the url: "
                + ", ".join(entity_set.mandatory)
                + "."
            )
        return predicate

    def _next_url(self, request, entity_set, last, remaining_top):
        params = [
            (k, v)
            for k, v in request.args.items(multi=True)
            if k not in ("$skiptoken", "$skip", "$top")
        ]
        if remaining_top is not None:
            params.append(("$top", str(remaining_top)))
        params.append(("$skiptoken", _key_literal(entity_set, last[entity_set.key])))
        return self._base(request) + request.path + "?" + urlencode(params, safe="$'(),")

    def _base(self, request):
        """Absolute URL of the /exact root (computed once per request: it is hot)."""
        env = request.environ
        base = env.get("exact.base")
        if base is None:
            host = env.get("HTTP_HOST") or f"{env['SERVER_NAME']}:{env['SERVER_PORT']}"
            base = env["exact.base"] = (
                f"{env['wsgi.url_scheme']}://{host}{env.get('SCRIPT_NAME', '')}"
            )
        return base

    def render(self, request, div, entity_set, row, select):
        out = {
            "__metadata": {
                "uri": f"{self._base(request)}/api/v1/{div}/{entity_set.path}"
                f"({_key_literal(entity_set, row.get(entity_set.key))})",
                "type": entity_set.type,
            }
        }
        out.update(_project(row, entity_set.fields, select))
        expand = (request.args.get("$expand") or "").split(",")
        for nav, (child_path, parent_field) in entity_set.navs.items():
            if select and nav not in select:
                continue
            if nav in expand:
                child = SETS[child_path]
                kids = [
                    r
                    for r in self.rows(div, child.kind)
                    if r.get(parent_field) == row[entity_set.key]
                ]
                out[nav] = {"results": [self.render(request, div, child, k, None) for k in kids]}
            else:
                out[nav] = {"__deferred": {"uri": out["__metadata"]["uri"] + "/" + nav}}
        return out

    def _answer(self, request, payload, status=200):
        accept = request.headers.get("Accept", "")
        if "json" in accept or request.args.get("$format") == "json":
            return json_response(payload, status)
        return Response(_atom(payload), status, content_type="application/atom+xml;charset=utf-8")

    # -- writing: generic ------------------------------------------------------------
    def _body(self, request, entity_set):
        import json

        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _bad(
                "Error processing request stream. The request should be a valid "
                "top-level resource object."
            )
        for name in body:
            if name not in entity_set.fields and name != "__metadata":
                raise _bad(
                    f"Error processing request stream. The property name '{name}' "
                    f"specified for type '{entity_set.type}' is not valid."
                )
        return body

    def create(self, request, div, entity_set):
        body = self._body(request, entity_set)
        with self._lock:
            row = self.creators[entity_set.path](div, body)
            if entity_set.path == "salesinvoice/PrintedSalesInvoices":
                return self._answer(request, {"d": row}, 201)
            extras = self._documented_extras(entity_set, body, "P")
            if extras:
                row.update(extras)
                self.save(div, entity_set.kind, row)
        full = self.render(request, div, entity_set, row, None)
        if "return=representation" not in request.headers.get("Prefer", ""):
            # without Prefer Exact returns the entity with most properties null
            full = {
                k: (v if k in ("__metadata", entity_set.key) else None)
                for k, v in full.items()
                if not isinstance(v, dict) or k == "__metadata"
            }
        return self._answer(request, {"d": full}, 201)

    def update(self, request, div, entity_set, key):
        body = self._body(request, entity_set)
        with self._lock:
            row = self._existing(div, entity_set, key)
            updater = {
                "crm/Accounts": self.update_account,
                "salesinvoice/SalesInvoices": self.update_invoice,
                "salesinvoice/SalesInvoiceLines": self.update_invoice_line,
                "salesentry/SalesEntries": self.update_entry,
                "salesentry/SalesEntryLines": self.update_entry_line,
                "documents/Documents": self.update_document,
                "cashflow/Receivables": self.update_receivable,
            }[entity_set.path]
            updater(div, row, body)
            extras = self._documented_extras(entity_set, body, "U")
            if extras:
                stored = self.get(div, entity_set.kind, row[entity_set.key])
                stored.update(extras)
                self.save(div, entity_set.kind, stored)
        return Response(b"", 204)

    def delete(self, div, entity_set, key):
        with self._lock:
            row = self._existing(div, entity_set, key)
            path = entity_set.path
            if path == "salesinvoice/SalesInvoices":
                self._check_open(row)
                for line in list(self.rows(div, "salesinvoice/SalesInvoiceLines")):
                    if line["InvoiceID"] == row["InvoiceID"]:
                        self.remove(div, "salesinvoice/SalesInvoiceLines", line["ID"])
            elif path == "salesinvoice/SalesInvoiceLines":
                invoice = self.get(div, "salesinvoice/SalesInvoices", row["InvoiceID"])
                self._check_open(invoice)
            elif path == "salesentry/SalesEntries":
                self._delete_entry(div, row)
                return Response(b"", 204)
            elif path == "salesentry/SalesEntryLines":
                self._delete_entry_line(div, row)
                return Response(b"", 204)
            elif path == "crm/Accounts" and self._account_in_use(div, row["ID"]):
                raise _bad("De relatie is in gebruik en kan niet worden verwijderd.")
            self.remove(div, entity_set.kind, row[entity_set.key])
            if path == "salesinvoice/SalesInvoiceLines":
                self._recompute_invoice(div, row["InvoiceID"])
        return Response(b"", 204)

    def _documented_extras(self, entity_set, body, method):
        """Documented properties a client may set (``method`` P: POST, U: PUT) that the
        sandbox does not model: kept as sent, so they read back. Read-only documented ones
        are ignored, as Exact ignores them; undocumented ones were refused by _body."""
        extras = {}
        for name in entity_set.settable[method].intersection(body):
            typ = entity_set.fields[name]
            if name in entity_set.modeled or typ == "nav":
                continue
            value = body[name]
            if typ == "date":
                value = parse_date(value, name)
            elif typ == "guid" and value:
                value = str(value).lower()
            extras[name] = value
        return extras

    def _existing(self, div, entity_set, key):
        match = re.fullmatch(r"guid'([^']*)'", key.strip())
        row = self.get(div, entity_set.kind, match.group(1)) if match else None
        if row is None:
            raise _bad("Entity not found", 404)
        return row

    def _merge(self, row, body, fields, writable):
        for name in writable:
            if name in body:
                typ = fields[name]
                value = body[name]
                if typ == "date":
                    value = parse_date(value, name)
                elif typ == "guid" and value:
                    value = str(value).lower()
                row[name] = value
        return row

    # -- accounts and items ----------------------------------------------------------
    ACCOUNT_WRITABLE = (
        "Name",
        "Status",
        "Blocked",
        "Email",
        "VATNumber",
        "ChamberOfCommerce",
        "AddressLine1",
        "AddressLine2",
        "AddressLine3",
        "Postcode",
        "City",
        "Country",
        "State",
        "Phone",
        "Website",
        "Language",
        "SalesVATCode",
        "PaymentConditionSales",
        "InvoicingMethod",
        "PeppolIdentifier",
        "GLAR",
        "GLAccountSales",
        "PriceList",
        "SearchCode",
    )

    def create_account(self, div, body):
        if not (body.get("Name") or "").strip():
            raise _bad("Verplicht: Naam")
        row = {name: None for name in ACCOUNT}
        # [unverified] whether invoices need IsSales: it is read-only here and follows
        # Status 'C' (the default), so a client that sets Status='C' works either way
        row.update({"ID": _new_guid(), "Status": "C", "Blocked": False, "Type": "A"})
        self._merge(row, body, ACCOUNT, self.ACCOUNT_WRITABLE)
        row["Code"] = self._account_code(div, body.get("Code"))
        self._normalise_account(div, row)
        return self.save(div, "crm/Accounts", row, new=True)

    def _account_code(self, div, code):
        existing = {str(r["Code"]).strip() for r in self.rows(div, "crm/Accounts")}
        if code is None or not str(code).strip():
            numbers = [int(c) for c in existing if c.isdigit()]
            return str(max(numbers, default=0) + 1).rjust(18)  # new accounts get max + 1
        code = str(code).strip()
        if code in existing:
            raise _bad(f"Code bestaat al: {code}")
        if len(code) > 18:
            raise _bad("Code is te lang (maximaal 18 tekens).")
        return code.rjust(18) if code.isdigit() else code

    def _normalise_account(self, div, row):
        if row.get("Country"):
            country = str(row["Country"]).strip().upper()
            if len(country) != 2:
                raise _bad(f"Ongeldige waarde: Land ({country})")
            row["Country"] = country.ljust(3)  # Exact answers 'NL '
        if row.get("SalesVATCode") and not self._vat_code(div, row["SalesVATCode"]):
            raise _bad("Ongeldige referentie: Btw-code", 500)
        row["IsSales"] = row.get("Status") == "C"

    def update_account(self, div, row, body):
        self._merge(row, body, ACCOUNT, self.ACCOUNT_WRITABLE)
        if "Name" in body and not (body.get("Name") or "").strip():
            raise _bad("Verplicht: Naam")
        self._normalise_account(div, row)
        self.save(div, "crm/Accounts", row)

    def _account_in_use(self, div, account_id):
        return any(
            r.get("OrderedBy") == account_id for r in self.rows(div, "salesinvoice/SalesInvoices")
        ) or any(r.get("Customer") == account_id for r in self.rows(div, "salesentry/SalesEntries"))

    def create_item(self, div, body):
        missing = [
            label
            for field, label in (("Code", "Code"), ("Description", "Omschrijving"))
            if not body.get(field)
        ]
        if missing:
            raise _bad("\r\n".join("Verplicht: " + m for m in missing))
        if self.find(div, "logistics/Items", Code=body["Code"]):
            raise _bad(f"Code bestaat al: {body['Code']}")
        row = {name: None for name in ITEM}
        row.update({"ID": _new_guid(), "IsSalesItem": True, "IsStockItem": False, "Unit": "pc"})
        self._merge(
            row,
            body,
            ITEM,
            (
                "Code",
                "Description",
                "IsSalesItem",
                "IsStockItem",
                "SalesVatCode",
                "Unit",
                "GLRevenue",
                "StandardSalesPrice",
            ),
        )
        if row.get("SalesVatCode"):
            row["SalesVatCode"] = str(row["SalesVatCode"]).strip().ljust(3)
        return self.save(div, "logistics/Items", row, new=True)

    # -- references ------------------------------------------------------------------
    def _vat_code(self, div, code):
        return self.find(div, "vat/VATCodes", Code=str(code)) if code not in (None, "") else None

    def _sales_journal(self, div, code):
        journal = self.find(div, "financial/Journals", Code=str(code)) if code else None
        if journal is None or journal["Type"] != 20:
            # a journal ID instead of its code lands here too (picqer#31)
            raise _bad("Ongeldige referentie: Journals", 500)
        return journal

    def _account(self, div, guid, label):
        account = self.get(div, "crm/Accounts", guid) if guid else None
        if account is None:
            raise _bad(f"Ongeldige referentie: {label}", 500)
        return account

    def _currency(self, div, code):
        code = (code or self.divisions()[div]["Currency"]).strip().upper()
        if code not in CURRENCIES:
            raise _bad(f"Valuta bestaat niet: {code}")
        return code

    def _payment_days(self, div, code):
        if not code:
            return 30
        cond = self.find(div, "cashflow/PaymentConditions", Code=str(code))
        if cond is None:
            raise _bad("Ongeldige referentie: Betalingsconditie", 500)
        return cond["PaymentDays"]

    def _line_vat(self, div, amount, code, vat_amount):
        """(code, percentage, VAT): VAT per line rounded to the cent unless given."""
        vat = self._vat_code(div, code)
        if vat is None:
            raise _bad("Ongeldige referentie: Btw-code", 500)
        if vat["IsBlocked"]:
            raise _bad(f"Btw-code {vat['Code'].strip()} is geblokkeerd.")
        pct = vat["Percentage"]
        if vat_amount is not None and vat_amount != "" and not self.faults.ignore_vat_amounts:
            return vat["Code"], pct, money(vat_amount, "Btw-bedrag")
        if vat["Type"] == "I":  # amount includes VAT: the VAT part of it
            return (
                vat["Code"],
                pct,
                money(Decimal(str(amount)) * Decimal(str(pct)) / (1 + Decimal(str(pct)))),
            )
        return vat["Code"], pct, money(Decimal(str(amount)) * Decimal(str(pct)))

    def _today(self):
        return iso_from_epoch(self.clock.now())[:10] + "T00:00:00"

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
            raise _bad("\r\n".join("Verplicht: " + m for m in missing))
        if lines is not None and not isinstance(lines, list):
            raise _bad(
                "Error processing request stream. The request should be a valid "
                "top-level resource object."
            )
        if not lines:
            raise _bad("Verplicht: Factuurregels")
        journal = self._sales_journal(div, body["Journal"])
        ordered_by = self._account(div, str(body["OrderedBy"]).lower(), "Besteld door")
        invoice_to = self._account(
            div, str(body.get("InvoiceTo") or ordered_by["ID"]).lower(), "Factuur voor"
        )
        row = {name: None for name in INVOICE if INVOICE[name] != "nav"}
        self._merge(row, body, INVOICE, self.INVOICE_WRITABLE)
        row.update(
            {
                "InvoiceID": _new_guid(),
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
            raise _bad(
                "Error processing request stream. The request should be a valid "
                "top-level resource object."
            )
        for name in body:
            if name not in SETS["salesinvoice/SalesInvoiceLines"].fields and name != "__metadata":
                raise _bad(
                    f"Error processing request stream. The property name '{name}' "
                    f"specified for type '{MODELS}SalesInvoiceLine' is not valid."
                )
        if not body.get("Item"):
            raise _bad("Verplicht: Artikel")
        item = self.get(div, "logistics/Items", str(body["Item"]).lower())
        if item is None:
            raise _bad("Ongeldige referentie: Artikel", 500)
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
            "ID": _new_guid(),
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

    def _check_open(self, invoice):
        if invoice is not None and invoice["Status"] == 50:
            raise _bad("Deze factuur is verwerkt en kan niet meer worden gewijzigd.")

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
            raise _bad(
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
            raise _bad("Verplicht: Factuur")
        invoice = self.get(div, "salesinvoice/SalesInvoices", invoice_id)
        if invoice is None:
            raise _bad("Ongeldige referentie: Factuur", 500)
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
        if invoice["Status"] == 50:
            raise _bad("Deze factuur is al verwerkt.")
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

    # -- sales entries -----------------------------------------------------------------
    ENTRY_WRITABLE = (
        "Journal",
        "Customer",
        "EntryDate",
        "YourRef",
        "Description",
        "Currency",
        "Rate",
        "DueDate",
        "PaymentCondition",
        "PaymentReference",
        "ReportingPeriod",
        "ReportingYear",
        "Document",
        "OrderNumber",
    )
    ENTRY_PUT = (
        "YourRef",
        "Description",
        "DueDate",
        "PaymentReference",
        "Document",
        "PaymentCondition",
        "EntryDate",
    )

    def create_entry(self, div, body):
        return self._book_entry(div, body)

    def _book_entry(self, div, body, numbered=False):
        missing = [
            label
            for field, label in (("Journal", "Dagboek"), ("Customer", "Klant"))
            if not body.get(field)
        ]
        lines = body.get("SalesEntryLines")
        if lines is not None and not isinstance(lines, list):
            raise _bad(
                "Error processing request stream. The request should be a valid "
                "top-level resource object."
            )
        if not lines:
            missing.append("Boekingsregels")
        if missing:
            raise _bad("\r\n".join("Verplicht: " + m for m in missing))
        journal = self._sales_journal(div, body["Journal"])
        customer = self._account(div, str(body["Customer"]).lower(), "Klant")
        row = {name: None for name in ENTRY if ENTRY[name] != "nav"}
        self._merge(row, body, ENTRY, self.ENTRY_WRITABLE)
        currency = self._currency(div, body.get("Currency"))
        rate = number(body.get("Rate"), "Koers") or CURRENCIES[currency]
        if body.get("Document") and not self.get(
            div, "documents/Documents", str(body["Document"]).lower()
        ):
            raise _bad("Ongeldige referentie: Document", 500)
        row.update(
            {
                "EntryID": _new_guid(),
                "Journal": journal["Code"],
                "Customer": customer["ID"],
                "CustomerName": customer["Name"],
                "Currency": currency,
                "Rate": rate,
                "Status": 50,
                "EntryDate": row["EntryDate"] or self._today(),
            }
        )
        row["EntryNumber"] = self._entry_number(
            div, journal["Code"], body.get("EntryNumber"), numbered
        )
        row["InvoiceNumber"] = row["EntryNumber"]
        # Exact checks the reference whether or not a DueDate is given.
        days = self._payment_days(div, row["PaymentCondition"])
        if not row["DueDate"]:
            row["DueDate"] = add_days(row["EntryDate"], days)
        entry_date = dt.datetime.fromisoformat(row["EntryDate"])
        row["ReportingYear"] = row["ReportingYear"] or entry_date.year
        row["ReportingPeriod"] = row["ReportingPeriod"] or entry_date.month
        built = [self._entry_line(div, row, line, n) for n, line in enumerate(lines, 1)]
        self.save(div, "salesentry/SalesEntries", row, new=True)
        for line in built:
            self.save(div, "salesentry/SalesEntryLines", line, new=True)
        entry = self._recompute_entry(div, row["EntryID"])
        self._make_receivable(div, entry, built[0]["ID"])
        return entry

    def _entry_number(self, div, journal, wanted, numbered):
        if wanted in (None, ""):
            return self._next_entry_number(div, journal)
        wanted = int(wanted)
        if not numbered and any(
            r["EntryNumber"] == wanted and r["Journal"] == journal
            for r in self.rows(div, "salesentry/SalesEntries")
        ):
            # [unverified] Exact may reject or replace a duplicate: we reject (safest)
            raise _bad(f"Boekstuknummer {wanted} bestaat al in dagboek {journal}.")
        return wanted

    def _entry_line(self, div, entry, body, number_):
        if not isinstance(body, dict):
            raise _bad(
                "Error processing request stream. The request should be a valid "
                "top-level resource object."
            )
        for name in body:
            if name not in SETS["salesentry/SalesEntryLines"].fields and name != "__metadata":
                raise _bad(
                    f"Error processing request stream. The property name '{name}' "
                    f"specified for type '{MODELS}SalesEntryLine' is not valid."
                )
        missing = [
            label
            for field, label in (("AmountFC", "Bedrag"), ("GLAccount", "Grootboekrekening"))
            if body.get(field) in (None, "")
        ]
        if missing:
            raise _bad("\r\n".join("Verplicht: " + m for m in missing))
        gl = self.get(div, "financial/GLAccounts", str(body["GLAccount"]).lower())
        if gl is None:
            raise _bad("Ongeldige referentie: Grootboekrekening", 500)
        amount = money(body["AmountFC"])  # excl. VAT
        code = body.get("VATCode") or gl["VATCode"]
        if code:
            code, pct, vat = self._line_vat(div, amount, code, body.get("VATAmountFC"))
        else:
            given = None if self.faults.ignore_vat_amounts else body.get("VATAmountFC")
            code, pct, vat = None, 0.0, money(given or 0)
        rate = Decimal(str(entry["Rate"]))
        return {
            "ID": _new_guid(),
            "EntryID": entry["EntryID"],
            "LineNumber": number_,
            "AmountFC": amount,
            "AmountDC": money(Decimal(str(amount)) * rate),
            "GLAccount": gl["ID"],
            "VATCode": code,
            "VATPercentage": pct,
            "VATAmountFC": vat,
            "VATAmountDC": money(Decimal(str(vat)) * rate),
            "VATBaseAmountFC": amount,
            "Description": body.get("Description"),
            "Quantity": number(body.get("Quantity"), "Aantal"),
            "CostCenter": body.get("CostCenter"),
            "CostUnit": body.get("CostUnit"),
            "Project": body.get("Project"),
            "From": parse_date(body.get("From")),
            "To": parse_date(body.get("To")),
            "Notes": body.get("Notes"),
            **self._documented_extras(SETS["salesentry/SalesEntryLines"], body, "P"),
        }

    def _recompute_entry(self, div, entry_id):
        entry = self.get(div, "salesentry/SalesEntries", entry_id)
        lines = [
            r for r in self.rows(div, "salesentry/SalesEntryLines") if r["EntryID"] == entry_id
        ]
        excl = sum(Decimal(str(r["AmountFC"])) for r in lines)
        vat = sum(Decimal(str(r["VATAmountFC"])) for r in lines)
        # The header (line 0) is the sum of the lines, in both currencies: each line's DC
        # amount is its own AmountFC x Rate, rounded (Exact reference, SalesEntries.AmountDC).
        excl_dc = sum(Decimal(str(r["AmountDC"])) for r in lines)
        vat_dc = sum(Decimal(str(r["VATAmountDC"])) for r in lines)
        entry.update(
            {
                "AmountFC": money(excl + vat),
                "VATAmountFC": money(vat),
                "AmountDC": money(excl_dc + vat_dc),
                "VATAmountDC": money(vat_dc),
                "Type": 21 if excl + vat < 0 else 20,
            }
        )  # credit note via negative amounts
        return self.save(div, "salesentry/SalesEntries", entry)

    def update_entry(self, div, row, body):
        if body.get("Document") and not self.get(
            div, "documents/Documents", str(body["Document"]).lower()
        ):
            raise _bad("Ongeldige referentie: Document", 500)
        self._merge(row, body, ENTRY, self.ENTRY_PUT)  # a header PUT never replaces lines
        self.save(div, "salesentry/SalesEntries", row)
        receivable = self.find(div, "cashflow/Receivables", TransactionEntryID=row["EntryID"])
        if receivable:
            receivable.update(
                {
                    "YourRef": row["YourRef"],
                    "Description": row["Description"],
                    "DueDate": row["DueDate"],
                }
            )
            self.save(div, "cashflow/Receivables", receivable)

    def create_entry_line(self, div, body):
        entry = self.get(div, "salesentry/SalesEntries", str(body.get("EntryID") or "").lower())
        if entry is None:
            raise _bad(
                "Verplicht: Boeking"
                if not body.get("EntryID")
                else "Ongeldige referentie: Boeking",
                400 if not body.get("EntryID") else 500,
            )
        count = max(
            (
                r["LineNumber"]
                for r in self.rows(div, "salesentry/SalesEntryLines")
                if r["EntryID"] == entry["EntryID"]
            ),
            default=0,
        )
        line = self._entry_line(
            div, entry, {k: v for k, v in body.items() if k != "EntryID"}, count + 1
        )
        self.save(div, "salesentry/SalesEntryLines", line, new=True)
        self._refresh_entry_totals(div, entry["EntryID"])
        return line

    def update_entry_line(self, div, row, body):
        entry = self.get(div, "salesentry/SalesEntries", row["EntryID"])
        merged = {
            k: row.get(k) for k in ("AmountFC", "GLAccount", "VATCode", "Description", "Quantity")
        }
        merged.update({k: v for k, v in body.items() if k not in ("ID", "EntryID", "LineNumber")})
        line = self._entry_line(div, entry, merged, row["LineNumber"])
        line["ID"], line["Created"] = row["ID"], row.get("Created")
        self.save(div, "salesentry/SalesEntryLines", line)
        self._refresh_entry_totals(div, entry["EntryID"])

    def _delete_entry_line(self, div, line):
        self.remove(div, "salesentry/SalesEntryLines", line["ID"])
        if not any(
            r["EntryID"] == line["EntryID"] for r in self.rows(div, "salesentry/SalesEntryLines")
        ):
            entry = self.get(div, "salesentry/SalesEntries", line["EntryID"])
            self._delete_entry(div, entry)  # deleting the last line deletes the entry (ossobv)
        else:
            self._refresh_entry_totals(div, line["EntryID"])

    def _delete_entry(self, div, entry):
        for line in list(self.rows(div, "salesentry/SalesEntryLines")):
            if line["EntryID"] == entry["EntryID"]:
                self.remove(div, "salesentry/SalesEntryLines", line["ID"])
        receivable = self.find(div, "cashflow/Receivables", TransactionEntryID=entry["EntryID"])
        if receivable:
            self.remove(div, "cashflow/Receivables", receivable["ID"])
        self.remove(div, "salesentry/SalesEntries", entry["EntryID"])

    def _refresh_entry_totals(self, div, entry_id):
        entry = self._recompute_entry(div, entry_id)
        receivable = self.find(div, "cashflow/Receivables", TransactionEntryID=entry_id)
        if receivable:
            receivable.update({"AmountFC": entry["AmountFC"], "AmountDC": entry["AmountDC"]})
            self.save(div, "cashflow/Receivables", receivable)

    # -- receivables -----------------------------------------------------------------
    def _make_receivable(self, div, entry, line_id):
        customer = self.get(div, "crm/Accounts", entry["Customer"])
        row = {
            "ID": _new_guid(),
            "Account": entry["Customer"],
            "AccountCode": customer["Code"],
            "AccountName": customer["Name"],
            "AmountDC": entry["AmountDC"],
            "AmountFC": entry["AmountFC"],
            "Currency": entry["Currency"],
            "Description": entry["Description"],
            "DueDate": entry["DueDate"],
            "EntryNumber": entry["EntryNumber"],
            "InvoiceDate": entry["EntryDate"],
            "InvoiceNumber": entry["InvoiceNumber"],
            "Journal": entry["Journal"],
            "YourRef": entry["YourRef"],
            "IsFullyPaid": False,
            "LastPaymentDate": None,
            "Status": 20,
            "TransactionEntryID": entry["EntryID"],
            "TransactionID": line_id,
            "PaymentMethod": "B",
            "PaymentReference": entry["PaymentReference"],
            "_Paid": 0.0,
            "_HID": self.store.next_seq(f"exact:{div}:hid"),
        }
        return self.save(div, "cashflow/Receivables", row, new=True)

    def update_receivable(self, div, row, body):
        self._merge(row, body, RECEIVABLE, ("PaymentMethod", "Description", "PaymentReference"))
        self.save(div, "cashflow/Receivables", row)

    def _receivables_list(self, div):
        journals = {j["Code"]: j for j in self.rows(div, "financial/Journals")}
        out = []
        for r in self.rows(div, "cashflow/Receivables"):
            if r["IsFullyPaid"]:
                continue  # paid invoices drop out of the list
            out.append(
                {
                    "HID": r["_HID"],
                    "AccountId": r["Account"],
                    "AccountCode": r["AccountCode"],
                    "AccountName": r["AccountName"],
                    "Amount": money(r["AmountFC"] - r["_Paid"]),
                    "CurrencyCode": r["Currency"],
                    "Description": r["Description"],
                    "DueDate": r["DueDate"],
                    "EntryNumber": r["EntryNumber"],
                    "InvoiceDate": r["InvoiceDate"],
                    "InvoiceNumber": r["InvoiceNumber"],
                    "JournalCode": r["Journal"],
                    "JournalDescription": journals.get(r["Journal"], {}).get("Description"),
                    "YourRef": r["YourRef"],
                }
            )
        return out

    def pay(self, div, receivable, amount=None):
        remaining = Decimal(str(receivable["AmountFC"])) - Decimal(str(receivable["_Paid"]))
        paid = remaining if amount is None else Decimal(str(amount))
        receivable["_Paid"] = money(Decimal(str(receivable["_Paid"])) + paid)
        receivable["LastPaymentDate"] = self._today()
        if abs(Decimal(str(receivable["_Paid"]))) >= abs(Decimal(str(receivable["AmountFC"]))):
            receivable.update({"IsFullyPaid": True, "Status": 50})  # matched
        self.save(div, "cashflow/Receivables", receivable)
        return receivable

    # -- documents -----------------------------------------------------------------------
    def create_document(self, div, body):
        missing = [
            label
            for field, label in (("Subject", "Onderwerp"), ("Type", "Soort"))
            if body.get(field) in (None, "")
        ]
        if missing:
            raise _bad("\r\n".join("Verplicht: " + m for m in missing))
        if body.get("Account"):
            self._account(div, str(body["Account"]).lower(), "Relatie")
        row = {name: None for name in DOCUMENT}
        row["ID"] = _new_guid()
        self._merge(row, body, DOCUMENT, ("Subject", "Type", "Account", "Body", "DocumentDate"))
        row["Type"] = int(row["Type"])
        row["DocumentDate"] = row["DocumentDate"] or self._today()
        row["HasEmptyBody"] = not row.get("Body")
        return self.save(div, "documents/Documents", row, new=True)

    def update_document(self, div, row, body):
        self._merge(row, body, DOCUMENT, ("Subject", "Body", "DocumentDate", "Account"))
        self.save(div, "documents/Documents", row)

    def create_attachment(self, div, body):
        missing = [
            label
            for field, label in (
                ("Document", "Document"),
                ("FileName", "Bestandsnaam"),
                ("Attachment", "Bijlage"),
            )
            if not body.get(field)
        ]
        if missing:
            raise _bad("\r\n".join("Verplicht: " + m for m in missing))
        if not self.get(div, "documents/Documents", str(body["Document"]).lower()):
            raise _bad("Ongeldige referentie: Document", 500)
        try:
            size = len(base64.b64decode(body["Attachment"], validate=True))
        except (binascii.Error, ValueError, TypeError):
            raise _bad("Ongeldige waarde: Bijlage (geen geldige base64)")
        if size > MAX_ATTACHMENT:
            raise _bad("Het bestand is te groot. De maximale grootte is 10 MB.")
        row = {
            "ID": _new_guid(),
            "Document": str(body["Document"]).lower(),
            "FileName": body["FileName"],
            "Attachment": body["Attachment"],
            "FileSize": float(size),
        }
        row["Url"] = f"/docs/DocumentAttachment.aspx?ID={row['ID']}"
        return self.save(div, "documents/DocumentAttachments", row, new=True)

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

    # -- control API ---------------------------------------------------------------------
    def handle_control(self, action, path_rest, body):
        """/_sandbox/exact/<action>/<path_rest>: consent, clients (app registration),
        config, receivables/<guid>/pay, salesinvoices/<guid>/print. Returns (status, dict)."""
        if action == "consent":
            return self.consent(body)
        if action == "clients":
            return self.clients.register(body)
        if action == "config":
            unknown = set(body) - set(DEFAULT_CONFIG)
            if unknown:
                return 400, {"error": f"unknown settings: {sorted(unknown)}"}
            if body:
                self.store.kv_set(
                    "exact:config", dict(self.store.kv_get("exact:config", {}), **body)
                )
                self._rate.clear()
                self._config = None
            return 200, self.config
        guid, _, verb = path_rest.partition("/")
        guid = guid.lower()
        try:
            with self._lock:
                if action == "receivables" and verb == "pay":
                    return self._control_pay(guid, body)
                if action == "salesinvoices" and verb == "print":
                    return self._control_print(guid)
        except ODataError as err:
            return err.status, {"error": err.message}
        return 404, {"error": "unknown exact control action"}

    def _control_pay(self, guid, body):
        for div in self.divisions():
            for r in self.rows(div, "cashflow/Receivables"):
                invoice = self.get(div, "salesinvoice/SalesInvoices", guid)
                entry_id = invoice.get("_EntryID") if invoice else None
                if (
                    guid in (r["ID"], r["TransactionEntryID"])
                    or r["TransactionEntryID"] == entry_id
                ):
                    paid = self.pay(
                        div, self.get(div, "cashflow/Receivables", r["ID"]), body.get("amount")
                    )
                    return 200, {
                        "ID": paid["ID"],
                        "IsFullyPaid": paid["IsFullyPaid"],
                        "Status": paid["Status"],
                        "AmountFC": paid["AmountFC"],
                        "Paid": paid["_Paid"],
                        "Division": div,
                    }
        return 404, {"error": "no receivable for " + guid}

    def _control_print(self, guid):
        for div in self.divisions():
            invoice = self.get(div, "salesinvoice/SalesInvoices", guid)
            if invoice:
                printed = self.print_invoice(div, invoice)
                return 200, {
                    "InvoiceID": guid,
                    "InvoiceNumber": printed["InvoiceNumber"],
                    "Status": 50,
                    "EntryID": printed["_EntryID"],
                    "Division": div,
                }
        return 404, {"error": "no sales invoice " + guid}


def _new_guid():
    return str(uuid.uuid4())


def _same(value, wanted):
    if isinstance(value, str) and isinstance(wanted, str):
        return value.strip().casefold() == wanted.strip().casefold()
    return value == wanted


def _redirect_url(uri, params):
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def _redirect(uri, params):
    return Response("", 302, headers={"Location": _redirect_url(uri, params)})


def _oauth_error(status, error, description=None):
    body = {"error": error}
    if description:
        body["error_description"] = description
    return json_response(body, status)


def _token_response(tokens, ttl):
    return json_response(
        {
            "access_token": tokens["access_token"],
            "token_type": "bearer",
            "expires_in": str(int(ttl)),  # a string, like Exact (picqer checks ctype_digit)
            "refresh_token": tokens["refresh_token"],
        }
    )


def _us_time(epoch):
    stamp = dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
    return f"{stamp.month}/{stamp.day}/{stamp.year} {stamp.strftime('%I:%M:%S %p').lstrip('0')}"


def _split_resource(sub):
    """'crm/Accounts(guid'x')/$count' -> (EntitySet, key literal text, tail)."""
    for name in SET_NAMES:
        if sub == name or sub.startswith(name + "(") or sub.startswith(name + "/"):
            rest = sub[len(name) :]
            key = None
            if rest.startswith("("):
                close = rest.find(")")
                if close < 0:
                    return None, None, None
                key, rest = rest[1:close], rest[close + 1 :]
            return SETS[name], key, rest.lstrip("/") or None
    return None, None, None


def _key_literal(entity_set, value):
    if entity_set.fields.get(entity_set.key) == "guid":
        return f"guid'{value}'"
    return f"{value}L" if entity_set.mode == "sync" else str(value)


def _key_equal(stored, literal):
    text = literal.strip()
    match = re.fullmatch(r"guid'([^']*)'|'([^']*)'|(\d+)L?", text)
    if not match:
        raise _bad(f"Bad key: {text}")
    value = match.group(1) or match.group(2) or match.group(3)
    return str(stored).lower() == value.lower()


def _after_skiptoken(rows, token, entity_set):
    if not token:
        return rows
    match = re.fullmatch(r"guid'([^']*)'|(-?\d+)L?", token.strip())
    if not match:
        raise _bad("Invalid $skiptoken.")
    if entity_set.mode == "sync" and match.group(2):
        return [r for r in rows if (r.get("Timestamp") or 0) > int(match.group(2))]
    wanted = (match.group(1) or match.group(2)).lower()
    for index, row in enumerate(rows):
        if str(row.get(entity_set.key)).lower() == wanted:
            return rows[index + 1 :]
    return []


def _order(rows, orderby, entity_set):
    if entity_set.mode == "sync":
        rows = sorted(rows, key=lambda r: r.get("Timestamp") or 0)
    if not orderby:
        return rows
    for part in reversed([p.strip() for p in orderby.split(",") if p.strip()]):
        name, _, direction = part.partition(" ")
        if name not in entity_set.fields:
            raise _no_property(entity_set.type, name)
        rows = sorted(
            rows,
            key=lambda r, n=name: (
                r.get(n) is not None,
                r.get(n) or 0 if not isinstance(r.get(n), str) else r.get(n),
            ),
            reverse=direction.strip().lower() == "desc",
        )
    return rows


def _int_arg(value, name):
    if value is None or value == "":
        return None
    try:
        result = int(value)
    except ValueError:
        raise _bad(f"Invalid value for {name}.")
    if result < 0:
        raise _bad(f"Invalid value for {name}.")
    return result


def _project(row, fields, select):
    out = {}
    get = row.get
    for name in select or fields:
        typ = fields[name]
        if typ == "date":
            value = get(name)
            out[name] = odata_date(value) if value else None
        elif typ != "nav":
            out[name] = get(name)
    return out


def _rate_headers(day_limit, day_left, day_reset, min_limit, min_left, min_reset):
    headers = {}
    if day_limit is not None:
        headers.update(
            {
                "X-RateLimit-Limit": str(day_limit),
                "X-RateLimit-Remaining": str(day_left),
                "X-RateLimit-Reset": str(day_reset),
            }
        )
    headers.update(
        {
            "X-RateLimit-Minutely-Limit": str(min_limit),
            "X-RateLimit-Minutely-Remaining": str(min_left),
            "X-RateLimit-Minutely-Reset": str(min_reset),
        }
    )
    return headers


def _xml_props(entity):
    parts = []
    for name, value in entity.items():
        if name.startswith("__") or isinstance(value, dict):
            continue
        if value is None:
            parts.append(f'<d:{name} m:null="true" />')
        else:
            text = str(value).lower() if isinstance(value, bool) else str(value)
            parts.append(f"<d:{name}>{html.escape(text)}</d:{name}>")
    return "<m:properties>" + "".join(parts) + "</m:properties>"


def _atom(payload):
    """Minimal Atom feed/entry: what Exact answers without 'Accept: application/json'."""
    ns = (
        'xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" '
        'xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"'
    )
    data = payload["d"]
    if "results" not in data:
        return (
            f'<?xml version="1.0" encoding="utf-8"?><entry {ns}><content type="application/xml">'
            f"{_xml_props(data)}</content></entry>"
        )
    entries = "".join(
        f'<entry><content type="application/xml">{_xml_props(e)}</content></entry>'
        for e in data["results"]
    )
    link = f'<link rel="next" href="{html.escape(data["__next"])}" />' if "__next" in data else ""
    return f'<?xml version="1.0" encoding="utf-8"?><feed {ns}>{entries}{link}</feed>'
