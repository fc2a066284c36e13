"""Request values and list queries: binding, dates, numbers, filters, ordering, paging
links and the request context."""

import datetime as dt
from urllib.parse import urlencode

from .errors import (
    ApiError,
)
from .settings import (
    RESERVED_QUERY,
)


def bind(body, fields):
    """Case-insensitive JSON binding (ASP.NET Core ignores property-name case)."""
    lower = {name.lower(): name for name in fields}
    out = {}
    for key, value in body.items():
        name = lower.get(str(key).lower())
        if name is not None:
            out[name] = value
    return out


def parse_date(value):
    """'YYYY-MM-DD' with optional time (RFC 3339 reads too) -> 'YYYY-MM-DDT00:00:00' or None."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
    return day.isoformat() + "T00:00:00"


def to_number(value):
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def to_int(value):
    num = to_number(value)
    return int(num) if num is not None and float(num).is_integer() else None


def public(doc):
    """Hide internal keys ('_paid', '_draftId', '_content'): never part of the API."""
    return {k: v for k, v in doc.items() if not k.startswith("_") or k == "_meta"}


# -- filters, ordering, paging (asperion.md §4) --------------------------------------------
def _conditions(args):
    conds = {}
    for key, value in args:
        if key in RESERVED_QUERY:
            continue
        # A13: _comparison, _from and _to on every field
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


def filter_items(items, args):
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


def order_items(items, order_by):
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


def iso(epoch):
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


# A15: validateOnly checks without saving
def validate_only(request):
    return any(
        k.lower() == "validateonly" and v.lower() == "true"
        for k, v in request.args.items(multi=True)
    )


def page_url(request, page):
    args = [(k, v) for k, v in request.args.items(multi=True) if k.lower() != "page"]
    args.append(("page", str(page)))
    return request.base_url + "?" + urlencode(args)


def add_query(url, **params):
    return url + ("&" if "?" in url else "?") + urlencode(params)
