"""A shared, adjustable clock so tests can jump past token lifetimes without sleeping."""

import threading
import time


class Clock:
    """Wall clock plus an offset that only moves forward through advance()."""

    def __init__(self, offset=0.0):
        self._offset = float(offset)
        self._lock = threading.Lock()

    def now(self):
        return time.time() + self._offset

    def advance(self, seconds):
        with self._lock:
            self._offset += float(seconds)
        return self.now()

    @property
    def offset(self):
        return self._offset
