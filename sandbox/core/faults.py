"""Fault injection settings of one sandbox service.

app.py applies latency, error_rate, fail_next, throttle_next and lose_next_creates around
every request of the service (a service may shape the 429 itself through
``fault_response``); services only have to honour ``revoked`` in their token checks,
``path_status`` where they support it (Exact: one endpoint, e.g. a ``bulk/`` one that an
administration does not offer, answers 404 or 5xx while the others work), and
``ignore_vat_amounts`` where invoice lines take a VAT amount; ``expire_tokens_after`` is
honoured in their token checks (``core.oauth.access_token_dead``).

``expire_tokens_after`` (seconds, 0 = off): access tokens die that long after they were
issued, whatever ``expires_in`` promised, as a server that expires or flushes tokens
early does.
"""

import random
import threading

FIELDS = {
    "latency_ms": int,
    "error_rate": float,
    "fail_next": int,
    "throttle_next": int,
    "lose_next_creates": int,
    "revoked": bool,
    # {"bulk/Cashflow/Receivables": 404, "POST salesentry/SalesEntries": 503}: that endpoint
    # (below the division, any key or query, case-insensitive; optionally for one method
    # only) answers this status; every other endpoint works.
    "path_status": lambda value: {
        str(k).strip("/").lower(): int(v) for k, v in dict(value).items()
    },
    # The service rounds VAT per line and ignores the VAT amounts sent (makes read-back
    # total checks testable).
    "ignore_vat_amounts": bool,
    "expire_tokens_after": float,
}


class Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self.clear()

    def clear(self):
        self.latency_ms = 0
        self.error_rate = 0.0
        self.fail_next = 0
        self.throttle_next = 0
        self.lose_next_creates = 0
        self.revoked = False
        self.path_status = {}
        self.ignore_vat_amounts = False
        self.expire_tokens_after = 0.0

    def set(self, **values):
        """Set attributes from a JSON dict; unknown names raise KeyError, bad values ValueError."""
        with self._lock:
            for name, value in values.items():
                if name not in FIELDS:
                    raise KeyError(name)
                setattr(self, name, FIELDS[name](value))

    def to_dict(self):
        return {
            name: (dict(getattr(self, name)) if name == "path_status" else getattr(self, name))
            for name in FIELDS
        }

    def status_for(self, path, method=None):
        """The status injected for the endpoint ``path`` (``path_status``), or None. A key
        may start with a method ("post salesentry/salesentries") to fault only that one."""
        path = str(path or "").strip("/").lower()
        if method:
            status = self.path_status.get(f"{method.lower()} {path}")
            if status:
                return status
        return self.path_status.get(path)

    def take(self, name):
        """Consume one unit of a counter fault; True when it fired."""
        with self._lock:
            count = getattr(self, name)
            if count > 0:
                setattr(self, name, count - 1)
                return True
            return False

    def random_error(self):
        return self.error_rate > 0 and random.random() < self.error_rate
