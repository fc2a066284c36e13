"""Client-side rate limiting: the remote budget is spent deliberately, not discovered by 429s.

One :class:`RateLimiter` per key (a service's administration, or one endpoint of it), shared
by every thread of the process through :func:`limiter_for`. What a service tells about its
budget is its :class:`RatePolicy`, declared by its client: the response headers that carry
the remaining calls and the reset per minute and per day, how a 429 says when to try again
(a ``Retry-After`` header, a reset header, a sentence in the body) and what the limiter is
keyed by. This module applies a policy; it never knows which service it belongs to. A
service that tells nothing gets pacing (``min_interval``) and back-off.
"""

from __future__ import annotations

import contextlib
import email.utils
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .errors import RateLimited

_registry: dict = {}
_registry_lock = threading.Lock()


def limiter_for(key, **options) -> RateLimiter:
    """Return the process-wide limiter of ``key`` (e.g. ``(service, base URL, 1001)``), creating it.

    ``options`` are used only when the limiter is created.
    """
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = _registry[key] = RateLimiter(key, **options)
        return limiter


def reset_registry() -> None:
    """Forget every limiter (tests)."""
    with _registry_lock:
        _registry.clear()


def parse_retry_after(value, now: float | None = None) -> float | None:
    """Epoch seconds from a ``Retry-After`` value (delay in seconds or an HTTP date)."""
    if value is None:
        return None
    now = time.time() if now is None else now
    value = str(value).strip()
    if not value:
        return None
    try:
        return now + max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return parsed.timestamp()


def _ms_to_epoch(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    # Exact sends epoch milliseconds; accept seconds too (anything before year 2286 in s).
    return number / 1000.0 if number > 1e11 else number


def _int(value) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class BudgetHeaders:
    """The response headers that tell one budget window: remaining calls, reset, limit.

    ``reset_in``: ``"epoch"`` (a moment, in seconds or milliseconds) or ``"seconds"`` (a
    delay from now)."""

    remaining: str
    reset: str
    limit: str | None = None
    reset_in: str = "epoch"


@dataclass(frozen=True)
class RatePolicy:
    """How one service tells its budget, declared by its client (``ApiClient.rate_policy``).

    ``minute`` / ``day``: the headers of the short and the daily window (None: not told).
    ``retry_after_header``: the header of a 429 that says when to try again.
    ``retry_after_text``: parses the seconds to wait from a 429's body when the service
    says it in words ("Try again in 12 seconds") and sends no header.
    ``clock_minute_windows``: the service counts in clock minutes, so a 429 that tells
    nothing means "wait for the next minute".
    ``scope``: the limiter key: ``"administration"`` (one budget for every call of the
    link) or ``"endpoint"`` (one budget per endpoint, e.g. 600 calls a minute each).
    ``limiter_options``: options of a limiter made for this service (``min_interval``,
    ``default_429_wait``)."""

    minute: BudgetHeaders | None = None
    day: BudgetHeaders | None = None
    retry_after_header: str | None = "Retry-After"
    retry_after_text: Callable[[str], float | None] | None = None
    clock_minute_windows: bool = False
    scope: str = "administration"
    limiter_options: dict = field(default_factory=dict)

    @property
    def tells_budget(self) -> bool:
        return self.minute is not None or self.day is not None

    def budget_values(self, headers: Mapping, now: float) -> dict:
        """What ``headers`` say about the budget, as :meth:`RateLimiter.update` keywords
        (empty when they say nothing)."""
        if not self.tells_budget:
            return {}
        values = {}
        for name, spec in (("minute", self.minute), ("day", self.day)):
            if spec is None:
                continue
            values[f"{name}_remaining"] = _int(headers.get(spec.remaining))
            values[f"{name}_reset"] = _reset(headers.get(spec.reset), spec.reset_in, now)
            values[f"{name}_limit"] = _int(headers.get(spec.limit)) if spec.limit else None
        return values

    def read_budget(self, limiter: RateLimiter, headers: Mapping) -> None:
        """Record in ``limiter`` what ``headers`` say about the budget (absent: nothing)."""
        values = self.budget_values(headers, limiter.now())
        if values:
            limiter.update(**values)

    def retry_at(self, headers: Mapping, body: str | None, now: float) -> float | None:
        """Epoch seconds a 429 says to wait for, or None when it says nothing."""
        if self.retry_after_header:
            at = parse_retry_after(headers.get(self.retry_after_header), now)
            if at is not None:
                return at
        if self.retry_after_text and body:
            seconds = self.retry_after_text(body)
            if seconds is not None:
                return now + max(0.0, float(seconds))
        return None

    def limiter_key(self, key: tuple, endpoint: str | None = None) -> tuple:
        """The limiter key of a request: the link's ``key``, plus the endpoint when the
        service counts per endpoint."""
        return (*key, endpoint) if self.scope == "endpoint" and endpoint else key


# A service that tells nothing but Retry-After (the default of ApiClient).
RETRY_AFTER_ONLY = RatePolicy()


def _reset(value, unit: str, now: float) -> float | None:
    if unit == "seconds":
        seconds = _int(value)
        return None if seconds is None else now + seconds
    return _ms_to_epoch(value)


class RateLimiter:
    """Budget keeper for one remote administration.

    ``acquire()`` before every request (it may sleep, or raise :class:`RateLimited`),
    ``settle()`` with the response (what it told about the budget, and the slot given back),
    or ``release()`` when no response came.

    The budget lives in this object, for the threads of one process. A subclass may keep it
    elsewhere (e.g. in the database, for every worker of every server) by overriding
    :meth:`_state` (hold the budget for one decision) and the slot methods.
    """

    def __init__(
        self,
        key=None,
        *,
        daily_reserve: int = 50,
        min_interval: float = 0.0,
        margin: float = 1.0,
        max_wait: float = 120.0,
        default_429_wait: float = 60.0,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.key = key
        self.daily_reserve = daily_reserve
        self.min_interval = min_interval
        self.margin = margin
        self.max_wait = max_wait
        self.default_429_wait = default_429_wait
        self.now = now
        self.sleep = sleep
        self._lock = threading.Lock()
        self.minute_limit: int | None = None
        self.minute_remaining: int | None = None
        self.minute_reset: float | None = None
        self.day_limit: int | None = None
        self.day_remaining: int | None = None
        self.day_reset: float | None = None
        self.blocked_until: float = 0.0
        self.in_flight = 0
        self._last_start: float | None = None
        self.waited = 0.0  # total seconds slept, for tests and benchmarks

    # -- budget bookkeeping -------------------------------------------------------------
    def _expire(self, now: float) -> None:
        """Forget windows whose reset has passed (lock held)."""
        if self.minute_reset is not None and now >= self.minute_reset:
            self.minute_remaining = None
            self.minute_reset = None
        if self.day_reset is not None and now >= self.day_reset:
            self.day_remaining = None
            self.day_reset = None

    def _wait_until(self, now: float) -> float:
        """Time at which a new request may start, or raise when the day budget is gone."""
        self._expire(now)
        if (
            self.day_remaining is not None
            and self.day_remaining - self.in_flight <= self.daily_reserve
        ):
            raise RateLimited(retry_at=self.day_reset, scope="day")
        until = self.blocked_until
        if self.minute_remaining is not None and self.minute_remaining - self.in_flight <= 0:
            until = max(until, (self.minute_reset or now) + self.margin)
        if self.min_interval and self._last_start is not None:
            until = max(until, self._last_start + self.min_interval)
        return until

    def acquire(self) -> None:
        """Take one request slot, sleeping until the budget allows it.

        Raises :class:`RateLimited` (scope ``day``) when the daily remaining is at or below
        the reserve, or (scope ``minute``) when the wait would exceed ``max_wait``.
        """
        while True:
            with self._state():
                now = self.now()
                until = self._wait_until(now)
                if until <= now:
                    self._take_slot(now)
                    return
                delay = until - now
                if delay > self.max_wait:
                    raise RateLimited(retry_at=until, scope="minute")
            # Sleep without the lock so other threads can report responses meanwhile.
            self.waited += delay
            self.sleep(delay)

    # -- where the budget is kept (overridden by a shared store) ---------------------------
    @contextlib.contextmanager
    def _state(self):
        """Hold the budget for one decision: read it, change it, keep it."""
        with self._lock:
            yield

    def _take_slot(self, now: float) -> None:
        self.in_flight += 1
        self._last_start = now

    def _give_back_slot(self) -> None:
        self.in_flight = max(0, self.in_flight - 1)

    def for_key(self, key, **options) -> RateLimiter:
        """A limiter of the same kind for another key (a service counting per endpoint)."""
        return limiter_for(key, now=self.now, sleep=self.sleep, **options)

    def release(self) -> None:
        """Give back the slot taken by :meth:`acquire` (the request is over, unanswered)."""
        with self._state():
            self._give_back_slot()

    def settle(self, headers: Mapping, policy: RatePolicy) -> None:
        """The request was answered: record the budget its headers tell and give the slot
        back, in one step, so that no other worker starts in between on the old count."""
        values = policy.budget_values(headers, self.now())
        with self._state():
            self._update(**values)
            self._give_back_slot()

    def update(self, *args, **kwargs) -> None:
        """Record the budget a response reported (resets in epoch seconds); the arguments
        are those of :meth:`_update`."""
        with self._state():
            self._update(*args, **kwargs)

    def _update(
        self,
        minute_remaining=None,
        minute_reset=None,
        day_remaining=None,
        day_reset=None,
        *,
        minute_limit=None,
        day_limit=None,
    ) -> None:
        if minute_limit is not None:
            self.minute_limit = minute_limit
        if day_limit is not None:
            self.day_limit = day_limit
        if minute_remaining is not None:
            self.minute_remaining, self.minute_reset = self._merge(
                self.minute_remaining, self.minute_reset, minute_remaining, minute_reset
            )
        if day_remaining is not None:
            self.day_remaining, self.day_reset = self._merge(
                self.day_remaining, self.day_reset, day_remaining, day_reset
            )

    @staticmethod
    def _merge(old_remaining, old_reset, remaining, reset):
        # Responses of concurrent requests arrive out of order: inside one window the
        # remaining count only goes down, so keep the lowest; a later reset is a new window.
        if old_remaining is None or reset is None or old_reset is None or reset > old_reset:
            return remaining, reset
        if reset < old_reset:
            return old_remaining, old_reset
        return min(old_remaining, remaining), old_reset

    def update_from_headers(self, headers: Mapping, policy: RatePolicy) -> None:
        """Record the budget ``headers`` report, read the way ``policy`` says."""
        policy.read_budget(self, headers)

    def update_from_retry_after(self, value, *, default: float | None = None) -> float:
        """Block new requests until ``Retry-After`` (or ``default`` seconds); returns epoch."""
        now = self.now()
        until = parse_retry_after(value, now)
        if until is None:
            until = now + (self.default_429_wait if default is None else default)
        with self._state():
            self.blocked_until = max(self.blocked_until, until)
        return until

    def on_429(
        self, headers: Mapping, *, policy: RatePolicy = RETRY_AFTER_ONLY, body: str | None = None
    ) -> None:
        """Note a 429 so the next :meth:`acquire` waits for the reset instead of hammering."""
        policy.read_budget(self, headers)
        now = self.now()
        until = policy.retry_at(headers, body, now)
        if until is None and policy.tells_budget:
            with self._state():
                known = self.minute_remaining == 0 or (
                    self.day_remaining is not None and self.day_remaining <= self.daily_reserve
                )
            if known:
                return  # acquire() waits for the reset the headers told
        if until is None and policy.clock_minute_windows:
            # Nothing told at all: wait for the next clock minute (fixed windows).
            until = (now // 60 + 1) * 60 + self.margin
        if until is None:
            until = now + self.default_429_wait
        with self._state():
            self.blocked_until = max(self.blocked_until, until)

    # -- reporting ----------------------------------------------------------------------
    def snapshot(self) -> dict:
        """The known budget, for a "Test connection" button or the backend form."""
        with self._state():
            self._expire(self.now())
            return {
                "key": list(self.key) if isinstance(self.key, tuple) else self.key,
                "minute_limit": self.minute_limit,
                "minute_remaining": self.minute_remaining,
                "minute_reset": self.minute_reset,
                "day_limit": self.day_limit,
                "day_remaining": self.day_remaining,
                "day_reset": self.day_reset,
                "daily_reserve": self.daily_reserve,
                "blocked_until": self.blocked_until or None,
                "in_flight": self.in_flight,
                "min_interval": self.min_interval,
            }
