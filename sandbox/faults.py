"""Fault injection settings of one sandbox service.

app.py applies latency, error_rate, fail_next, throttle_next and lose_next_creates around
every request of the service (a service may shape the 429 itself through
``fault_response``); services only have to honour ``revoked`` and ``expire_tokens_after``
in their token checks (``common.access_token_dead``).

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
        self.expire_tokens_after = 0.0

    def set(self, **values):
        """Set attributes from a JSON dict; unknown names raise KeyError, bad values ValueError."""
        with self._lock:
            for name, value in values.items():
                if name not in FIELDS:
                    raise KeyError(name)
                setattr(self, name, FIELDS[name](value))

    def to_dict(self):
        return {name: getattr(self, name) for name in FIELDS}

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
