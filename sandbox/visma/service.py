"""VismaService: the WSGI callable below /visma, its access checks, rate limit and
control actions. PATH_INFO arrives without the prefix: ``/identity/connect/...`` and
``/api/v2/...``. Facts: doc/api/visma.md (V-ids cited at each rule)."""

import collections
import datetime as dt
import json
import math
import threading

from werkzeug.wrappers import Request, Response

from ..core.oauth import ClientRegistry  # shared sandbox code: one place
from . import documents, resources, seed
from .errors import ApiError
from .identity import SERVICE, Identity

DEFAULT_CONFIG = {
    "access_token_lifetime": 3600,  # V7
    "refresh_token_lifetime": 30 * 86400,  # V9 [I]
    "code_lifetime": 300,
    "rate_limit_enabled": True,
    "rate_limit": 600,  # V21
    "rate_window": 60,
    "allow_inferred_filters": False,  # V15: only confirmed filters unless switched on
    "keep_original_draft_date": False,  # V34: the company setting KeepOriginalDraftDate
    "throttle_seconds": 30,  # N in the text of an injected 429
}

# V4: the scopes per resource (fact sheet §1): (read scopes, write scopes)
_SALES = ({"ea:sales", "ea:sales_readonly"}, {"ea:sales"})
_ACCOUNTING = ({"ea:accounting", "ea:accounting_readonly"}, {"ea:accounting"})
SCOPES = {
    "companysettings": _SALES,
    "customers": _SALES,
    "articles": _SALES,
    # V28: article account codings and units are served (GET only)
    "articleaccountcodings": _SALES,
    "units": _SALES,
    "customerinvoicedrafts": _SALES,
    "customerinvoices": _SALES,
    "customerledgeritems": _SALES,
    "salesdocumentattachments": _SALES,
    "termsofpayments": (
        {"ea:sales", "ea:sales_readonly", "ea:purchase", "ea:purchase_readonly"},
        set(),
    ),
    "currencies": ({"ea:sales", "ea:sales_readonly", "ea:purchase", "ea:purchase_readonly"}, set()),
    "accounts": _ACCOUNTING,
    "vatcodes": _ACCOUNTING,
    "fiscalyears": (
        {"ea:sales", "ea:sales_readonly", "ea:accounting", "ea:accounting_readonly"},
        {"ea:sales", "ea:accounting"},
    ),
    "attachments": (
        {"ea:accounting", "ea:accounting_readonly", "ea:purchase", "ea:purchase_readonly"},
        {"ea:accounting", "ea:purchase"},
    ),
    "attachmentlinks": (set(), {"ea:accounting", "ea:purchase"}),
}


def iso_utc(epoch):
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Ctx:
    """One authenticated API request."""

    __slots__ = ("request", "company", "grant", "args", "svc")

    def __init__(self, svc, request, company, grant):
        self.svc, self.request, self.company, self.grant = svc, request, company, grant
        self.args = {k.lower() if k.startswith("$") else k: v for k, v in request.args.items()}

    def kind(self, name):
        return f"{name}@{self.company}"

    def body(self):
        try:
            body = json.loads(self.request.get_data(cache=True) or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ApiError(400, 2000, "The request body must be a JSON object.")
        return body


class VismaService:
    def __init__(self, store, faults, clock):
        self.store, self.faults, self.clock = store, faults, clock
        self.lock = threading.RLock()
        self.clients = ClientRegistry(store, SERVICE)
        self.identity = Identity(self)
        self.config = dict(DEFAULT_CONFIG)
        self._calls = collections.defaultdict(collections.deque)
        if store.kv_get(f"{SERVICE}:seeded") is None:
            self.reset()
        else:
            self.config.update(store.kv_get(f"{SERVICE}:config", {}))

    # -- seed ----------------------------------------------------------------------------
    def reset(self):
        with self.lock:
            self.store.reset(SERVICE)
            self.config = dict(DEFAULT_CONFIG)
            self._calls.clear()
            year = dt.datetime.fromtimestamp(self.clock.now(), dt.timezone.utc).year
            for index, company in enumerate(seed.COMPANIES):
                cid = company["Id"]
                for row in seed.customers(index):
                    row = dict(resources.NEW_CUSTOMER, **row, ChangedUtc=self.now_iso())
                    self.store.insert(SERVICE, f"customers@{cid}", row, id=row["Id"])
                for row in seed.articles(index):
                    row = dict(resources.NEW_ARTICLE, **row, ChangedUtc=self.now_iso())
                    self.store.insert(SERVICE, f"articles@{cid}", row, id=row["Id"])
                for offset in (-2, -1, 0, 1):
                    fy = {
                        "Id": seed.sid(f"fiscalyear:{cid}:{year + offset}"),
                        "StartDate": f"{year + offset}-01-01T00:00:00",
                        "EndDate": f"{year + offset}-12-31T00:00:00",
                        "IsLockedForAccounting": offset == -2,  # V39: a locked year
                        "BookkeepingMethod": 0,
                    }
                    self.store.insert(SERVICE, f"fiscalyears@{cid}", fy, id=fy["Id"])
            self.store.kv_set(f"{SERVICE}:seeded", True)

    def save_config(self):
        self.store.kv_set(f"{SERVICE}:config", self.config)

    def now_iso(self):
        return iso_utc(self.clock.now())

    def today(self):
        return dt.datetime.fromtimestamp(self.clock.now(), dt.timezone.utc).date()

    def company(self, cid):
        return next((c for c in seed.COMPANIES if c["Id"] == cid), None)

    # -- WSGI ----------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except ApiError as exc:
            response = exc.response()
        except Exception as exc:  # a simulator bug still answers with the V19 body
            response = ApiError(500, 0, f"Internal error: {exc}").response()
        return response(environ, start_response)

    def _dispatch(self, request):
        path = request.path.rstrip("/")
        lower = path.lower()
        # V1: /visma stands for the identity and API hosts (identity/..., api/v2/...)
        if lower.startswith("/identity/connect/"):
            return self.identity.dispatch(request, lower[len("/identity/connect/") :])
        if lower.startswith("/api/v2/"):
            return self._api(request, [p for p in path[len("/api/v2/") :].split("/") if p])
        raise ApiError(404, 3000, f"No endpoint at {request.path}.")

    def _api(self, request, segs):
        grant = self.identity.grant_of(request)
        if grant is None:
            raise ApiError(
                401,
                4005,
                "AuthorizationException - Authorization has been denied for this request.",
            )  # V12
        company = self.company(grant["grant"].get("company"))
        if company is None or not company["api_module"]:
            # V22: the login landed in a company without the API module
            raise ApiError(
                403, 4002, "ForbiddenRequestException - No access to module: api_standard"
            )
        resource, method = segs[0].lower(), request.method
        self._check_scope(grant, resource, method)
        self._rate_limit(grant["client_id"], resource)
        status = self.faults.status_for("/".join(segs), method)
        if status:
            raise ApiError(status, 0 if status >= 500 else 2000, f"Injected HTTP {status}.")
        handler = ROUTES.get(resource)
        if handler is None:
            raise ApiError(404, 3000, f"No endpoint /v2/{segs[0]}.")
        ctx = Ctx(self, request, company["Id"], grant)
        result = handler(ctx, [s for s in segs[1:]], method)
        if result is None:
            raise ApiError(405, 2000, f"{method} is not allowed on /v2/{'/'.join(segs)}.")
        status, data = result
        if data is None:
            return Response(b"", status=status)
        return Response(
            json.dumps(data), status=status, content_type="application/json; charset=utf-8"
        )

    def _check_scope(self, grant, resource, method):
        read, write = SCOPES.get(resource, (set(), set()))
        granted = set((grant["grant"].get("scope") or "").split())
        if "ea:api" not in granted:
            raise ApiError(403, 4006, "NoAccessToScopes - the scope ea:api was not granted.")
        need = read | write if method == "GET" else write  # V4: readonly scopes refuse writes
        if need and not need & granted:
            raise ApiError(
                403,
                4006,
                f"NoAccessToScopes - {method} /v2/{resource} needs {' or '.join(sorted(need))}.",
            )

    def _rate_limit(self, client_id, resource):
        """V21: a sliding window per client and resource; the 429 names the wait only in
        its text."""
        if not self.config["rate_limit_enabled"]:
            return
        now, window = self.clock.now(), float(self.config["rate_window"])
        with self.lock:
            calls = self._calls[(client_id, resource)]
            while calls and calls[0] <= now - window:
                calls.popleft()
            if len(calls) >= int(self.config["rate_limit"]):
                seconds = max(1, math.ceil(calls[0] + window - now))
                raise self.throttle_error(seconds)
            calls.append(now)

    def throttle_error(self, seconds):
        limit = int(self.config["rate_limit"])
        return ApiError(
            429,
            4010,
            f"API calls quota exceeded! maximum admitted {limit} per Minute. "
            f"Try again in {seconds} seconds.",
        )

    def fault_response(self, kind, environ):
        """Injected faults in eAccounting's own shape: a 429 without Retry-After (V21)."""
        if kind == "throttle":
            return self.throttle_error(int(self.config["throttle_seconds"])).response()
        if kind == "fail":
            return ApiError(503, 0, "The service is temporarily unavailable.").response()
        return None

    # -- control -------------------------------------------------------------------------
    def handle_control(self, action, path_rest, body):
        parts = [p for p in [action] + path_rest.split("/") if p]
        head = parts[0].lower()
        try:
            if head == "consent":
                return 200, self._control_consent(body)
            if head == "clients":
                return self.clients.register(body)
            if head == "config":
                return 200, self._control_config(body)
            if len(parts) == 3 and head in documents.CONTROL:
                return documents.CONTROL[head](self, parts[1], parts[2].lower(), body)
        except ApiError as exc:
            return exc.status, exc.body()
        return 404, {"error": f"unknown visma control action {'/'.join(parts)}"}

    def _control_consent(self, body):
        """The user logs in, picks a company and allows: where the browser is sent."""
        client_id, redirect_uri = body.get("client_id"), body.get("redirect_uri") or ""
        problem = self.identity.client_problem(client_id, redirect_uri)
        scope = body.get("scope") or "ea:api offline_access ea:sales ea:accounting"
        problem = problem or self.identity.scope_problem(scope)
        if problem:
            raise ApiError(400, 2000, problem)
        company = body.get("company") or seed.COMPANY_IDS[0]
        if company not in seed.COMPANY_IDS:
            raise ApiError(400, 2000, f"unknown company {company}")
        code = self.identity.issue_code(client_id, redirect_uri, scope, company)
        from .identity import _add_query  # noqa: PLC0415

        return {
            "redirect": _add_query(redirect_uri, code=code, state=body.get("state") or ""),
            "code": code,
        }

    def _control_config(self, body):
        with self.lock:
            for key, default in DEFAULT_CONFIG.items():
                if key in body:
                    value = body[key]
                    self.config[key] = (
                        bool(value) if isinstance(default, bool) else type(default)(value)
                    )
            self.save_config()
            return dict(self.config)

    def dump(self):
        out = {"config": dict(self.config), "companies": {}}
        for company in seed.COMPANIES:
            cid = company["Id"]
            out["companies"][cid] = {
                kind.split("@")[0]: self.store.all(SERVICE, kind)
                for kind in self.store.kinds(SERVICE)
                if kind.endswith("@" + cid)
            }
        return out


ROUTES = dict(resources.ROUTES, **documents.ROUTES)
