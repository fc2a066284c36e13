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

import copy
import threading

from werkzeug.wrappers import Request

from ..core.oauth import ClientRegistry, OAuthStore
from ..core.ratewindow import FixedWindows
from .api import ApiMixin
from .control import ControlMixin
from .documents import DocumentsMixin
from .entities import (
    SETS,
)
from .entries import EntriesMixin
from .errors import ODataError, bad
from .oauth import OAuthMixin
from .ratelimit import RateLimitMixin
from .relations import RelationsMixin
from .sales import SalesMixin
from .seed import seed
from .settings import (
    DEFAULT_CONFIG,
    SERVICE,
)
from .values import (
    iso_from_epoch,
    same,
)


class ExactService(
    OAuthMixin,
    ApiMixin,
    RateLimitMixin,
    RelationsMixin,
    SalesMixin,
    EntriesMixin,
    DocumentsMixin,
    ControlMixin,
):
    """The Exact Online simulator: a WSGI callable for the paths below /exact."""

    def __init__(self, store, faults, clock):
        self.store, self.faults, self.clock = store, faults, clock
        self.oauth = OAuthStore(store, SERVICE, clock)
        self.clients = ClientRegistry(store, SERVICE)
        self._lock = threading.RLock()  # serialises writes (sequences, totals)
        self._rate = FixedWindows()  # per division; in memory: a restart is a fresh minute
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
            if all(same(row.get(k), v) for k, v in match.items()):
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
        # E1: consent, token and API paths of one country host
        if path == "/api/oauth2/auth":
            return self.authorize(request)
        if path == "/api/oauth2/token":
            return self.token(request)
        if path.startswith("/api/v1/"):
            return self.api(request, path[len("/api/v1/") :])
        raise bad("Not found", 404)
