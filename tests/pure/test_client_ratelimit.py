"""RateLimiter: waiting for the reset instead of collecting 429s, daily reserve, pacing."""

from __future__ import annotations

import threading

import pytest
from test_client_support import FakeClock, LocalServer, json_response

from clients.errors import RateLimited
from clients.exact import RATE_POLICY as EXACT_RATE_POLICY
from clients.exact import ExactClient
from clients.oauth import MemoryTokenStore
from clients.ratelimit import RateLimiter, limiter_for, parse_retry_after, reset_registry


class ExactLimitedApi:
    """Fixed clock-minute windows like Exact, on the fake clock; counts 429s."""

    def __init__(self, clock, per_minute=5, per_day=5000):
        self.clock = clock
        self.per_minute = per_minute
        self.per_day = per_day
        self.used = {}
        self.day_used = 0
        self.throttled = 0
        self.lock = threading.Lock()

    def __call__(self, request):
        with self.lock:
            now = self.clock.now()
            window = int(now // 60)
            reset_ms = str((window + 1) * 60 * 1000)
            used = self.used.get(window, 0)
            if used >= self.per_minute:
                self.throttled += 1
                return json_response(
                    None,
                    429,
                    {
                        "X-RateLimit-Minutely-Limit": str(self.per_minute),
                        "X-RateLimit-Minutely-Remaining": "0",
                        "X-RateLimit-Minutely-Reset": reset_ms,
                    },
                )
            self.used[window] = used + 1
            self.day_used += 1
            day_reset = str((int(now // 86400) + 1) * 86400 * 1000)
            return json_response(
                {"d": {"results": [{"n": self.day_used}]}},
                200,
                {
                    "X-RateLimit-Limit": str(self.per_day),
                    "X-RateLimit-Remaining": str(self.per_day - self.day_used),
                    "X-RateLimit-Reset": day_reset,
                    "X-RateLimit-Minutely-Limit": str(self.per_minute),
                    "X-RateLimit-Minutely-Remaining": str(self.per_minute - used - 1),
                    "X-RateLimit-Minutely-Reset": reset_ms,
                },
            )


def exact_client(server, clock, **limiter_kwargs):
    store = MemoryTokenStore(
        {
            "access_token": "A",
            "refresh_token": "R",
            "expires_at": clock.t + 10**6,
            "obtained_at": clock.t,
        }
    )
    oauth = ExactClient.make_oauth(server.url, "c", "s", store, now=clock.now)
    limiter = RateLimiter(("exact", 1), now=clock.now, sleep=clock.sleep, **limiter_kwargs)
    return ExactClient(server.url, 1, oauth, limiter=limiter, sleep=clock.sleep)


def test_limiter_waits_for_the_minute_reset_instead_of_collecting_429s():
    clock = FakeClock(1_700_000_010.0)
    api = ExactLimitedApi(clock, per_minute=5)
    with LocalServer(api) as server:
        client = exact_client(server, clock)
        for _ in range(12):
            client.journals()
    assert api.throttled == 0
    assert api.day_used == 12
    assert client.limiter.waited > 0
    # it slept until just after the reset, not a fixed minute
    assert all(s <= 61 for s in clock.slept)


def test_a_429_is_waited_out_and_retried():
    clock = FakeClock(1_700_000_010.0)
    api = ExactLimitedApi(clock, per_minute=2)
    api.used[int(clock.t // 60)] = 2  # budget spent by another process
    with LocalServer(api) as server:
        client = exact_client(server, clock)
        assert client.journals()[0]["n"] == 1
    assert api.throttled == 1  # one 429 told us the reset; then we waited
    assert clock.t >= (int(1_700_000_010 // 60) + 1) * 60


def test_daily_reserve_pauses_before_the_budget_is_gone():
    clock = FakeClock(1_700_000_010.0)
    api = ExactLimitedApi(clock, per_minute=1000, per_day=53)
    with LocalServer(api) as server:
        client = exact_client(server, clock, daily_reserve=50)
        client.journals()  # remaining 52
        client.journals()  # remaining 51
        client.journals()  # remaining 50 = reserve
        with pytest.raises(RateLimited) as info:
            client.journals()
        assert server.count() == 3  # refused before any call
    assert info.value.scope == "day" and info.value.retry_at > clock.t
    snap = client.rate_limit_snapshot()
    assert snap["day_remaining"] == 50 and snap["day_limit"] == 53
    assert snap["minute_limit"] == 1000


def test_in_flight_requests_count_against_the_budget():
    clock = FakeClock(1000.0)
    limiter = RateLimiter("k", now=clock.now, sleep=clock.sleep, max_wait=5)
    limiter.update(minute_remaining=2, minute_reset=1030.0)
    limiter.acquire()
    limiter.acquire()
    with pytest.raises(RateLimited) as info:  # a third would overshoot: wait 31 s > max_wait
        limiter.acquire()
    assert info.value.scope == "minute" and info.value.retry_at == pytest.approx(1031.0)
    limiter.release()
    limiter.release()
    assert limiter.snapshot()["in_flight"] == 0


def test_blocked_acquire_resumes_after_the_reset():
    clock = FakeClock(1000.0)
    limiter = RateLimiter("k", now=clock.now, sleep=clock.sleep)
    limiter.update(minute_remaining=0, minute_reset=1020.0)
    limiter.acquire()
    assert clock.t == pytest.approx(1021.0) and limiter.waited == pytest.approx(21.0)


def test_out_of_order_headers_keep_the_lowest_remaining():
    limiter = RateLimiter("k", now=lambda: 1000.0)
    limiter.update(minute_remaining=10, minute_reset=1060.0)
    limiter.update(minute_remaining=12, minute_reset=1060.0)  # an older response
    assert limiter.minute_remaining == 10
    limiter.update(minute_remaining=59, minute_reset=1120.0)  # a new window
    assert limiter.minute_remaining == 59


def test_exact_headers_in_milliseconds_and_minutely_only_429():
    limiter = RateLimiter("k", now=lambda: 1_700_000_000.0)
    limiter.update_from_headers(
        {
            "X-RateLimit-Minutely-Limit": "60",
            "X-RateLimit-Minutely-Remaining": "0",
            "X-RateLimit-Minutely-Reset": "1700000040000",
        },
        EXACT_RATE_POLICY,
    )
    snap = limiter.snapshot()
    assert snap["minute_reset"] == 1_700_000_040.0 and snap["minute_remaining"] == 0
    assert snap["day_remaining"] is None


def test_min_interval_paces_requests():
    clock = FakeClock(0.0)
    limiter = RateLimiter("k", min_interval=0.1, now=clock.now, sleep=clock.sleep)
    for _ in range(11):
        limiter.acquire()
        limiter.release()
    assert clock.t == pytest.approx(1.0)


def test_parse_retry_after():
    assert parse_retry_after("5", now=100.0) == 105.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:40 GMT") == 1_700_000_020.0
    assert parse_retry_after("garbage") is None and parse_retry_after(None) is None


def test_registry_is_process_wide():
    reset_registry()
    a = limiter_for(("exact", 1001), daily_reserve=10)
    assert limiter_for(("exact", 1001)) is a and a.daily_reserve == 10
    assert limiter_for(("exact", 1002)) is not a
    reset_registry()
