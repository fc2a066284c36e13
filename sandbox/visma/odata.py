"""The OData subset of eAccounting list endpoints: $filter, $orderby, $page/$pagesize.

V15: eq ne gt ge lt le, and or not, contains(), startswith(), and the lambda
``Rows/any(c: contains(c/Text,'x'))``. Filterable properties are whitelisted per
endpoint; anything else is a 400. V16: $orderby on the same properties.
"""

import datetime as dt
import math
import re

from .errors import ApiError

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')"
    r"|(?P<dt>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)"
    r"|(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)"
    r"|(?P<punct>[(),:]))"
)
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
DEFAULT_PAGE_SIZE = 50  # V14
MAX_PAGE_SIZE = 100  # V14: the real maximum is unknown; safest reading


def bad_query(message):
    return ApiError(400, 2000, f"Invalid query: {message}")


def _tokens(text):
    pos, out = 0, []
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise bad_query(f"cannot read $filter at {text[pos : pos + 20]!r}")
        kind = match.lastgroup
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class Filter:
    """A parsed $filter; ``allowed`` maps property -> set of lambda subfields (or None)."""

    def __init__(self, text, allowed):
        self.allowed = {k.lower(): (k, v) for k, v in allowed.items()}
        self.toks = _tokens(text)
        self.i = 0
        self.tree = self._or({})
        if self.i != len(self.toks):
            raise bad_query(f"unexpected {self.toks[self.i][1]!r}")

    # -- parser ------------------------------------------------------------------------
    def _peek(self, value=None):
        if self.i >= len(self.toks):
            return None
        tok = self.toks[self.i]
        if value is None or (tok[1].lower() == value and tok[0] in ("name", "punct")):
            return tok
        return None

    def _take(self, value=None):
        tok = self._peek(value)
        if tok is None:
            raise bad_query(f"expected {value or 'more'} in $filter")
        self.i += 1
        return tok

    def _or(self, scope):
        node = self._and(scope)
        while self._peek("or"):
            self._take()
            node = ("or", node, self._and(scope))
        return node

    def _and(self, scope):
        node = self._not(scope)
        while self._peek("and"):
            self._take()
            node = ("and", node, self._not(scope))
        return node

    def _not(self, scope):
        if self._peek("not"):
            self._take()
            return ("not", self._not(scope))
        return self._compare(scope)

    def _compare(self, scope):
        left = self._operand(scope)
        tok = self._peek()
        if tok and tok[0] == "name" and tok[1].lower() in _COMPARE:
            self._take()
            right = self._operand(scope)
            _check_types(left, right)
            return ("cmp", tok[1].lower(), left, right)
        return left

    def _operand(self, scope):
        kind, value = self._take()
        if kind == "punct" and value == "(":
            node = self._or(scope)
            self._take(")")
            return node
        if kind == "str":
            return ("lit", value[1:-1].replace("''", "'"))
        if kind == "num":
            return ("lit", float(value))
        if kind == "guid":
            return ("lit", value.lower())
        if kind == "dt":
            return ("lit", _as_datetime(value))
        lower = value.lower()
        if lower in ("true", "false"):
            return ("lit", lower == "true")
        if lower == "null":
            return ("lit", None)
        if lower in ("contains", "startswith", "endswith") and self._peek("("):
            self._take("(")
            a = self._operand(scope)
            self._take(",")
            b = self._operand(scope)
            self._take(")")
            return ("fn", lower, a, b)
        if lower.endswith("/any") and self._peek("("):
            return self._lambda(value[: -len("/any")], scope)
        return self._property(value, scope)

    def _lambda(self, collection, scope):
        name, subfields = self._allowed(collection)
        if not subfields:
            raise bad_query(f"{collection}/any is not supported on this endpoint")
        self._take("(")
        var = self._take()[1]
        self._take(":")
        body = self._or({var.lower(): (name, subfields)})
        self._take(")")
        return ("any", name, var.lower(), body)

    def _property(self, path, scope):
        head, _, rest = path.partition("/")
        if head.lower() in scope:
            collection, subfields = scope[head.lower()]
            matched = [f for f in subfields if f.lower() == rest.lower()]
            if not matched:
                raise bad_query(f"{collection}/{rest} cannot be filtered on")
            return ("var", head.lower(), matched[0])
        name, _sub = self._allowed(path)
        return ("prop", name)

    def _allowed(self, name):
        entry = self.allowed.get(name.lower())
        if entry is None:
            # V15: properties are whitelisted per endpoint
            raise bad_query(f"the property {name} cannot be filtered on")
        return entry

    # -- evaluation --------------------------------------------------------------------
    def __call__(self, item):
        return bool(self._eval(self.tree, item, {}))

    def _eval(self, node, item, env):
        op = node[0]
        if op == "lit":
            return node[1]
        if op == "prop":
            return _normal(_get(item, node[1]))
        if op == "var":
            return _normal(_get(env[node[1]], node[2]))
        if op == "and":
            return self._eval(node[1], item, env) and self._eval(node[2], item, env)
        if op == "or":
            return self._eval(node[1], item, env) or self._eval(node[2], item, env)
        if op == "not":
            return not self._eval(node[1], item, env)
        if op == "any":
            rows = _get(item, node[1]) or []
            return any(self._eval(node[3], item, dict(env, **{node[2]: r})) for r in rows)
        if op == "fn":
            a, b = self._eval(node[2], item, env), self._eval(node[3], item, env)
            if a is None or b is None:
                return False
            a, b = str(a).lower(), str(b).lower()
            return {"contains": b in a, "startswith": a.startswith(b), "endswith": a.endswith(b)}[
                node[1]
            ]
        if op == "cmp":
            a, b = self._eval(node[2], item, env), self._eval(node[3], item, env)
            return _compare(node[1], a, b)
        raise bad_query("unsupported expression")


def _check_types(left, right):
    """V15 [I]: a literal of another type than the property is refused, not coerced."""
    if left[0] == "lit" and right[0] == "lit":
        return
    # types are checked at evaluation time against the data (see _compare)


def _compare(op, a, b):
    if a is None or b is None:
        return {"eq": a is b, "ne": a is not b}.get(op, False)
    if isinstance(a, bool) != isinstance(b, bool) or (
        isinstance(a, (int, float)) != isinstance(b, (int, float))
    ):
        raise bad_query(f"cannot compare {a!r} with {b!r}: the types differ")
    if isinstance(a, str) and isinstance(b, str):
        a, b = a.lower(), b.lower()
    if op == "eq":
        return a == b
    if op == "ne":
        return a != b
    if isinstance(a, bool):
        raise bad_query(f"{op} does not apply to true/false")
    return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]


def _as_datetime(text):
    """A date or date-time literal as a comparable ISO string in UTC, without zone."""
    if len(text) == 10:
        return text + "T00:00:00"
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="seconds")


def _normal(value):
    """Data values in the form literals take: ints as floats, dates without zone."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value):
        return _as_datetime(value)
    return value


def _get(item, name):
    for key, value in item.items():
        if key.lower() == name.lower():
            return value
    return None


def order(items, text, allowed):
    """V16: ``$orderby=Prop [asc|desc], ...`` on whitelisted properties."""
    names = {k.lower(): k for k in allowed}
    for part in reversed([p.strip() for p in text.split(",") if p.strip()]):
        words = part.split()
        if words[0].lower() not in names or len(words) > 2:
            raise bad_query(f"cannot order by {part}")
        desc = len(words) == 2 and words[1].lower() == "desc"
        key = names[words[0].lower()]
        items = sorted(items, key=lambda it: _sort_key(_get(it, key)), reverse=desc)
    return items


def _sort_key(value):
    if value is None:
        return (0, 0, "")
    if isinstance(value, (int, float)):
        return (1, value, "")
    return (2, 0, str(value).lower())


def _int_arg(args, name, default):
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_query(f"{name} must be a whole number, not {raw!r}")
    if value < 1:
        raise bad_query(f"{name} must be 1 or more")
    return value


def paged(items, args, now_iso):
    """V13/V14: one page of ``items`` in the Meta/Data envelope."""
    page = _int_arg(args, "$page", 1)
    size = min(_int_arg(args, "$pagesize", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
    total = len(items)
    return {
        "Meta": {
            "CurrentPage": page,
            "PageSize": size,
            "TotalNumberOfPages": math.ceil(total / size) if total else 0,
            "TotalNumberOfResults": total,
            "ServerTimeUtc": now_iso,
        },
        "Data": items[(page - 1) * size : page * size],
    }


def query(items, args, filterable, sortable=None):
    """Apply $filter and $orderby of ``args`` (a dict) to ``items``."""
    if args.get("$filter"):
        keep = Filter(args["$filter"], filterable)
        items = [it for it in items if keep(it)]
    if args.get("$orderby"):
        items = order(items, args["$orderby"], sortable or filterable)
    return items
