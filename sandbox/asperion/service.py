"""Asperion simulator: IdentityServer OAuth, the /v1 REST API and its test hooks.

Facts come from /work/shared/api/asperion.md. Where that page marks a fact [I] (inferred),
the behaviour here is our proposed contract; comments say so. PATH_INFO arrives with the
``/asperion`` prefix stripped: ``/identity/connect/...`` and ``/api/v1/...``.
"""

import json
import secrets
import threading

from werkzeug.wrappers import Request, Response

from ..core.oauth import ClientRegistry, OAuthStore
from . import seed
from .api import ApiMixin
from .control import ControlMixin
from .errors import (
    MESSAGES,
    PROBLEM_TYPES,
    ApiError,
    message_text,
    request_lang,
)
from .oauth import OAuthMixin
from .relations import RelationsMixin
from .sales import SalesMixin
from .settings import (
    DEFAULT_CONFIG,
    SERVICE,
)


class AsperionService(OAuthMixin, ApiMixin, RelationsMixin, SalesMixin, ControlMixin):
    """The Asperion simulator: a WSGI callable for the paths below /asperion."""

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

    # A27: no published limit; injected 429s carry Retry-After
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

    # A9: paths are matched case-insensitively
    def _dispatch(self, request):
        path = request.path.lower().rstrip("/")
        # A1: IdentityServer paths and the /v1 API
        if path.startswith("/identity/connect/"):
            return self._identity(request, path[len("/identity/connect/") :])
        if path.startswith("/api/v1/"):
            return self._api(request, path[len("/api/v1/") :].split("/"))
        raise ApiError(404, "not_found", detail="route_detail", path=request.path)

    # A16: ProblemDetails
    def _problem_body(self, exc, lang, path):
        params = dict(exc.params, path=path)
        errors = {}
        for field, key, fparams in exc.errors:
            errors.setdefault(field, []).append(message_text(key, lang, **fparams))
        if exc.detail in MESSAGES:
            detail = message_text(exc.detail, lang, **params)
        elif exc.detail:
            detail = exc.detail
        else:
            detail = " ".join(m for msgs in errors.values() for m in msgs) or None
        body = {
            "type": PROBLEM_TYPES.get(exc.status, PROBLEM_TYPES[400]),
            "title": message_text(exc.title, lang) if exc.title in MESSAGES else exc.title,
            "status": exc.status,
            "detail": detail,
            "traceId": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
        }
        if errors:
            body["errors"] = errors
        return body

    def _problem(self, request, exc):
        body = self._problem_body(exc, request_lang(request), request.path)
        resp = Response(
            json.dumps(body),
            status=exc.status,
            content_type="application/problem+json; charset=utf-8",
        )
        resp.headers.update(exc.headers)
        if exc.status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return resp
