"""Exact's REST API: routing, reading ($select, $filter, paging) and generic writes."""

import re
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from ..core.http import json_response
from .entities import (
    ME,
    SELECT_REQUIRED,
    SETS,
)
from .errors import ODataError, bad, no_property
from .odata import (
    after_skiptoken,
    atom,
    compile_filter,
    int_arg,
    key_equal,
    key_literal,
    order,
    project,
    split_resource,
)
from .settings import (
    MAX_URL,
    MODELS,
)
from .values import (
    iso_from_epoch,
    parse_date,
)


class ApiMixin:
    """Routing below /api/v1/{division}/ and the generic OData read and write paths."""

    # -- API routing -----------------------------------------------------------------
    def api(self, request, rest):
        raw_len = (
            len(request.environ.get("SCRIPT_NAME", ""))
            + len(request.path)
            + len(request.environ.get("QUERY_STRING", ""))
        )
        # E20: at most 6000 characters of URL
        if raw_len > MAX_URL:
            raise bad("The request URL is too long (max 6000 characters).")
        token = self.authenticate(request)
        div_text, _, sub = rest.partition("/")
        if div_text == "current" and sub == "Me":
            return self.me(request, token)  # no division: not rate-counted
        if not div_text.isdigit():
            raise bad("Not found", 404)
        div = int(div_text)
        entity_set, key, tail = split_resource(sub)
        divisions_list = entity_set is not None and entity_set.path == "system/Divisions"
        if not divisions_list and div not in token["grant"]["divisions"]:
            # the {div} of system/Divisions is not validated (picqer#470)
            # 'Forbidden - WrongDivision' is [unverified]; we send the documented Reason
            # E11: a division without consent
            raise ODataError(403, "Forbidden", {"Reason": "NoDivisionAccess"})
        headers = self.count_call(div)  # every division URL counts, even a wrong one
        endpoint = f"{request.method} {entity_set.path if entity_set else sub}"
        try:
            injected = self.faults.status_for(
                entity_set.path if entity_set else sub, request.method
            )
            if injected == 404:
                # What Exact answers for an endpoint the division does not offer.
                raise bad(f"Resource not found for the segment '{sub.split('?')[0]}'.", 404)
            if injected:
                raise ODataError(injected, "The service is temporarily unavailable.")
            if entity_set is None:
                raise bad(f"Resource not found for the segment '{sub}'.", 404)
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
            raise bad("Method not allowed", 405)
        if method == "GET":
            return self.read(request, div, entity_set, key, tail, token)
        if method == "POST":
            if key is not None:
                raise bad("Method not allowed", 405)
            return self.create(request, div, entity_set)
        if key is None:
            raise bad("Method not allowed", 405)
        if method == "PUT":
            return self.update(request, div, entity_set, key)
        return self.delete(div, entity_set, key)

    # -- reading -----------------------------------------------------------------------
    # E13: current/Me: no division, not counted
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
        out = project(row, ME, select)
        out["__metadata"] = {
            "uri": self._base(request) + f"/api/v1/current/Me(guid'{self.user_id}')",
            "type": MODELS + "System.Me",
        }
        return self._answer(request, {"d": {"results": [out]}})

    def read(self, request, div, entity_set, key, tail, token):
        rows = self._source(div, entity_set, token)
        if key is not None:
            row = next((r for r in rows if key_equal(r.get(entity_set.key), key)), None)
            if row is None:
                raise bad("Entity not found", 404)
            if tail:
                nav = entity_set.navs.get(tail)
                if nav is None:
                    raise no_property(entity_set.type, tail)
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
            raise bad(f"Resource not found for the segment '{tail}'.", 404)
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
        top = int_arg(args.get("$top"), "$top")
        if entity_set.mode in ("bulk", "sync") and not select and top != 1:
            # E17: $select is mandatory on bulk/sync
            raise bad(SELECT_REQUIRED)
        # E18: mandatory filtering on Accounts and Items
        if entity_set.mandatory and "$filter" not in args:
            raise bad(
                "This endpoint has mandatory filtering applied. A GET request for this endpoint "
                "must have a $filter parameter with one of the following fields in the url: "
                + ", ".join(entity_set.mandatory)
                + "."
            )
        predicate = self._filter(request, entity_set)
        rows = [r for r in rows if predicate(r)]
        rows = order(rows, args.get("$orderby"), entity_set)
        rows = rows[int_arg(args.get("$skip"), "$skip") or 0 :]
        rows = after_skiptoken(rows, args.get("$skiptoken"), entity_set)
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
                raise no_property(type_name, name)
        return names

    def _filter(self, request, entity_set):
        text = request.args.get("$filter")
        if not text:
            return lambda r: True
        predicate, refs = compile_filter(text, entity_set.fields, entity_set.type)
        # E22: sync endpoints filter on Timestamp only
        if entity_set.mode == "sync" and refs - {"Timestamp"}:
            raise bad("Only the Timestamp field can be used in the $filter of a sync endpoint.")
        if entity_set.mandatory and not refs & set(entity_set.mandatory):
            raise bad(
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
        params.append(("$skiptoken", key_literal(entity_set, last[entity_set.key])))
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
                f"({key_literal(entity_set, row.get(entity_set.key))})",
                "type": entity_set.type,
            }
        }
        out.update(project(row, entity_set.fields, select))
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
        # E14: Atom XML unless JSON is asked for
        if "json" in accept or request.args.get("$format") == "json":
            return json_response(payload, status)
        return Response(atom(payload), status, content_type="application/atom+xml;charset=utf-8")

    # -- writing: generic ------------------------------------------------------------
    def _body(self, request, entity_set):
        import json

        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise bad(
                "Error processing request stream. The request should be a valid "
                "top-level resource object."
            )
        for name in body:
            if name not in entity_set.fields and name != "__metadata":
                raise bad(
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
        # E15: the full entity only with Prefer: return=representation
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
                raise bad("De relatie is in gebruik en kan niet worden verwijderd.")
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
            raise bad("Entity not found", 404)
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
