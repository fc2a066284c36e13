"""Fixed rate-limit windows: calls counted per key in windows aligned on the clock.

Real services count in fixed windows that start on a multiple of their length (the clock
minute, the UTC day, the second), not in sliding ones: a client that knows the reset time
can spend the whole budget of each window. Counters live in memory, so a restart of the
sandbox is a fresh window, as a deploy of the real service may be.
"""

import math
import threading


class FixedWindows:
    """Call counters per (key, window length); thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = {}  # (key, size) -> (window start, count)

    def clear(self):
        with self._lock:
            self._counts.clear()

    @staticmethod
    def bounds(now, size):
        """(start, reset) epoch seconds of the window of length ``size`` holding ``now``."""
        size = max(float(size), 0.001)
        start = math.floor(now / size) * size
        return start, start + size

    def used(self, key, now, size):
        """Calls counted so far in the current window."""
        start, _reset = self.bounds(now, size)
        with self._lock:
            begun, count = self._counts.get((key, size), (None, 0))
        return count if begun == start else 0

    def add(self, key, now, size):
        """Count one call in the current window; returns the count including it."""
        start, _reset = self.bounds(now, size)
        with self._lock:
            begun, count = self._counts.get((key, size), (None, 0))
            count = count + 1 if begun == start else 1
            self._counts[(key, size)] = (start, count)
        return count
