"""Exact's OData v2 dialect: error bodies, the $filter parser, keys, paging and Atom output."""

import html
import re

from .entities import (
    SET_NAMES,
    SETS,
)
from .errors import bad, no_property
from .values import (
    odata_date,
    parse_date,
)

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
            raise bad(f"Syntax error at position {pos} in '{text}'.")
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
            raise bad(
                f"Syntax error in $filter: unexpected '{self.tokens[self.i][1].group(0).strip()}'."
            )
        return node

    def peek_word(self):
        if self.i < len(self.tokens) and self.tokens[self.i][0] == "ident":
            return self.tokens[self.i][1].group("ident")
        return None

    def expect(self, kind):
        if self.i >= len(self.tokens) or self.tokens[self.i][0] != kind:
            raise bad(
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
                raise bad(
                    f"Operator '{op}' incompatible with operand types '{_net_type(left)}' "
                    f"and '{_net_type(right)}' at position {position}."
                )
            return _typed(lambda d: _compare(op, left(d), right(d)), "bool")
        return left

    def operand(self):
        if self.i >= len(self.tokens):
            raise bad("Syntax error in $filter: unexpected end.")
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
            raise bad(f"Syntax error in $filter near '{match.group(0).strip()}'.")
        word = match.group("ident")
        if self.i < len(self.tokens) and self.tokens[self.i][0] == "lp":
            return self.function(word)
        constants = {"true": True, "false": False, "null": None}
        if word in constants:
            value = constants[word]
            return _typed(lambda d: value, None if value is None else "bool")
        if word not in self.fields or self.fields[word] == "nav":
            raise no_property(self.type_name, word)
        self.refs.add(word)
        return _typed(lambda d: d.get(word), self.fields[word], nullable=True)

    def function(self, name):
        if name not in _FUNCS:
            raise bad(f"Unknown function '{name}' in $filter.")
        arity, fn = _FUNCS[name]
        self.expect("lp")
        args = [self.or_expr()]
        while self.i < len(self.tokens) and self.tokens[self.i][0] == "comma":
            self.i += 1
            args.append(self.or_expr())
        self.expect("rp")
        if len(args) != arity:
            raise bad(f"Function '{name}' takes {arity} argument(s).")
        return _typed(lambda d: fn(*(a(d) for a in args)), _FUNC_TYPES.get(name))


def compile_filter(text, fields, type_name):
    """(predicate, referenced field names) for an OData v2 $filter."""
    parser = FilterParser(text, fields, type_name)
    return parser.parse(), parser.refs


def split_resource(sub):
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


def key_literal(entity_set, value):
    if entity_set.fields.get(entity_set.key) == "guid":
        return f"guid'{value}'"
    return f"{value}L" if entity_set.mode == "sync" else str(value)


def key_equal(stored, literal):
    text = literal.strip()
    match = re.fullmatch(r"guid'([^']*)'|'([^']*)'|(\d+)L?", text)
    if not match:
        raise bad(f"Bad key: {text}")
    value = match.group(1) or match.group(2) or match.group(3)
    return str(stored).lower() == value.lower()


def after_skiptoken(rows, token, entity_set):
    if not token:
        return rows
    match = re.fullmatch(r"guid'([^']*)'|(-?\d+)L?", token.strip())
    if not match:
        raise bad("Invalid $skiptoken.")
    if entity_set.mode == "sync" and match.group(2):
        return [r for r in rows if (r.get("Timestamp") or 0) > int(match.group(2))]
    wanted = (match.group(1) or match.group(2)).lower()
    for index, row in enumerate(rows):
        if str(row.get(entity_set.key)).lower() == wanted:
            return rows[index + 1 :]
    return []


def order(rows, orderby, entity_set):
    if entity_set.mode == "sync":
        rows = sorted(rows, key=lambda r: r.get("Timestamp") or 0)
    if not orderby:
        return rows
    for part in reversed([p.strip() for p in orderby.split(",") if p.strip()]):
        name, _, direction = part.partition(" ")
        if name not in entity_set.fields:
            raise no_property(entity_set.type, name)
        rows = sorted(
            rows,
            key=lambda r, n=name: (
                r.get(n) is not None,
                r.get(n) or 0 if not isinstance(r.get(n), str) else r.get(n),
            ),
            reverse=direction.strip().lower() == "desc",
        )
    return rows


def int_arg(value, name):
    if value is None or value == "":
        return None
    try:
        result = int(value)
    except ValueError:
        raise bad(f"Invalid value for {name}.")
    if result < 0:
        raise bad(f"Invalid value for {name}.")
    return result


def project(row, fields, select):
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


def atom(payload):
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
