"""Exact's rate limits (minutely and daily per division) and the functional-error cap."""

import math

from werkzeug.wrappers import Response

from ..core.ratewindow import FixedWindows
from .errors import ODataError

DAY = 86400


class RateLimitMixin:
    """Exact's per-division minutely and daily budget and the error cap."""

    # -- rate limits -----------------------------------------------------------------
    def count_call(self, div):
        """Count one call for the division; raise 429 when a budget is spent; the 6 headers."""
        cfg, now = self.config, self.clock.now()
        window = cfg["minute_window"]
        # E25: fixed windows, the minute aligned like the clock minute, the day on UTC days
        _start, minute_reset = FixedWindows.bounds(now, window)
        _day, day_reset = FixedWindows.bounds(now, DAY)
        minute_reset, day_reset = int(minute_reset * 1000), int(day_reset * 1000)  # E26: ms
        if not cfg["rate_limit_enabled"]:
            return _rate_headers(1000000, 1000000, day_reset, 100000, 100000, minute_reset)
        with self._lock:
            minute_used = self._rate.used(div, now, window)
            daily_used = self._rate.used(div, now, DAY)
            if daily_used >= cfg["daily_limit"]:
                headers = _rate_headers(
                    cfg["daily_limit"],
                    0,
                    day_reset,
                    cfg["minutely_limit"],
                    max(cfg["minutely_limit"] - minute_used, 0),
                    minute_reset,
                )
                raise ODataError(429, None, headers, body=False)
            if minute_used >= cfg["minutely_limit"]:
                # E27: a minutely 429 carries only the minutely headers and an empty body
                headers = _rate_headers(None, None, None, cfg["minutely_limit"], 0, minute_reset)
                raise ODataError(429, None, headers, body=False)
            minute_used = self._rate.add(div, now, window)
            daily_used = self._rate.add(div, now, DAY)
            return _rate_headers(
                cfg["daily_limit"],
                cfg["daily_limit"] - daily_used,
                day_reset,
                cfg["minutely_limit"],
                cfg["minutely_limit"] - minute_used,
                minute_reset,
            )

    def fault_response(self, kind, environ):
        """Injected throttle: a minutely 429 as Exact sends it (minutely headers, no body)."""
        if kind != "throttle":
            return None
        cfg, now = self.config, self.clock.now()
        reset = int(FixedWindows.bounds(now, cfg["minute_window"])[1] * 1000)
        return Response(
            b"", 429, headers=_rate_headers(None, None, None, cfg["minutely_limit"], 0, reset)
        )

    # E28: the error cap (off by default)
    def _error_cap_blocked(self, div, endpoint):
        cfg = self.config
        if not cfg["error_cap"]:
            return False
        hour = math.floor(self.clock.now() / 3600)
        return self._errors.get((div, endpoint, hour), 0) > cfg["error_cap_limit"]

    def _count_error(self, div, endpoint, status):
        if status in (400, 401, 403, 404):
            hour = math.floor(self.clock.now() / 3600)
            with self._lock:
                key = (div, endpoint, hour)
                self._errors[key] = self._errors.get(key, 0) + 1


def _rate_headers(day_limit, day_left, day_reset, min_limit, min_left, min_reset):
    headers = {}
    if day_limit is not None:
        headers.update(
            {
                "X-RateLimit-Limit": str(day_limit),
                "X-RateLimit-Remaining": str(day_left),
                "X-RateLimit-Reset": str(day_reset),
            }
        )
    headers.update(
        {
            "X-RateLimit-Minutely-Limit": str(min_limit),
            "X-RateLimit-Minutely-Remaining": str(min_left),
            "X-RateLimit-Minutely-Reset": str(min_reset),
        }
    )
    return headers
