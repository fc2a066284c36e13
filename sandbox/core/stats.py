"""Request counters per service, for benchmarks and tests (GET /_sandbox/stats/<service>)."""

import threading
from collections import Counter


class Stats:
    """Request counters of one service: per 'METHOD pattern', per status and both."""

    def __init__(self):
        self._lock = threading.Lock()
        self.clear()

    def clear(self):
        with self._lock:
            self.total = 0
            self.requests = Counter()
            self.status = Counter()
            self.detail = Counter()

    def record(self, method, pattern, status):
        key = f"{method} {pattern}"
        with self._lock:
            self.total += 1
            self.requests[key] += 1
            self.status[str(status)] += 1
            self.detail[f"{key} {status}"] += 1

    def to_dict(self):
        with self._lock:
            return {
                "total": self.total,
                "requests": dict(self.requests),
                "status": dict(self.status),
                "detail": dict(self.detail),
                "throttled": self.status.get("429", 0),
            }
