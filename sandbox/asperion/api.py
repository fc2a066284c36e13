"""Asperion's /v1 API: authentication, routing, the paged envelope and master data."""

import json
import math

from werkzeug.wrappers import Response

from ..core.oauth import access_token_dead
from . import seed
from .errors import (
    ApiError,
    request_lang,
)
from .query import (
    Ctx,
    filter_items,
    order_items,
    page_url,
    to_int,
)
from .settings import (
    SERVICE,
)


class ApiMixin:
    """Authentication, routing, envelopes and master data below /api/v1."""

    # -- API -------------------------------------------------------------------------
    def _authenticate(self, request):
        ctx = Ctx(request, request_lang(request))
        header = request.headers.get("Authorization") or ""
        rec = self.oauth.by_access(header[7:].strip()) if header[:7].lower() == "bearer " else None
        if access_token_dead(rec, self.clock.now(), self.faults):
            raise ApiError(401, "unauthorized", detail="unauthorized_detail")
        ctx.token = rec
        # A7: either tenant header; else the default administration
        tenant = request.headers.get("X-TenantId") or request.headers.get("X-Tenant-Id")
        adm = to_int(tenant) if tenant else seed.DEFAULT_ADMINISTRATION
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
        handler = getattr(self, handler) if handler else None
        if handler is None:
            raise ApiError(404, "not_found", detail="route_detail", path=request.path)
        response = handler(ctx, res, rest, method)
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
        items = filter_items(items, args)
        if query.get("orderby"):
            items = order_items(items, query["orderby"])
        size = to_int(query.get("pagesize") or self.config["default_page_size"])
        page = to_int(query.get("page") or 1)
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
            # A8: lists echo the tenant
            "administrationName": adm["name"],
            "profileName": seed.PROFILE_NAME,
            # A11: the list envelope
            "previousPage": page_url(request, page - 1) if page > 1 else None,
            "nextPage": page_url(request, page + 1) if page < pages else None,
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

    # A14: one record by id is the bare object
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


# Resource name -> the method answering it (master data lists share one).
ROUTES = dict.fromkeys(seed.MASTER, "_r_master")
ROUTES.update(
    {
        "administrations": "_r_administrations",
        "debtors": "_r_debtors",
        "draftsalesinvoices": "_r_drafts",
        "draftsalesinvoiceswithlines": "_r_drafts",
        "salesinvoices": "_r_invoices",
        "salesinvoiceswithlines": "_r_invoices",
        "outstandingsalesinvoices": "_r_outstanding",
        "files": "_r_files",
    }
)
