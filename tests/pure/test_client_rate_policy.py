"""Rate budgets come from what each client declares (clients/ratelimit.RatePolicy): the
shared code applies a policy and never asks which service it talks to."""

from __future__ import annotations

import re

import pytest
from test_client_support import FakeClock, LocalServer, json_response

from clients.asperion import AsperionClient
from clients.errors import RateLimited
from clients.exact import RATE_POLICY as EXACT_POLICY
from clients.exact import ExactClient
from clients.http import ApiClient
from clients.ratelimit import BudgetHeaders, RateLimiter, RatePolicy, reset_registry
from clients.timewax import TimewaxClient


def _try_again_in(text):
    match = re.search(r"try again in (\d+) seconds?", text, re.I)
    return float(match.group(1)) if match else None


# A policy in the shape Visma's will have: the wait only in the body text, one budget per
# endpoint. No client of ours declares it yet, so the test declares it.
WORDS_PER_ENDPOINT = RatePolicy(
    retry_after_header=None, retry_after_text=_try_again_in, scope="endpoint"
)


def test_every_client_declares_its_policy():
    assert ExactClient.rate_policy.minute.remaining == "X-RateLimit-Minutely-Remaining"
    assert ExactClient.rate_policy.clock_minute_windows
    assert AsperionClient.rate_policy.retry_after_header == "Retry-After"
    assert not AsperionClient.rate_policy.tells_budget
    assert TimewaxClient.rate_policy.limiter_options["min_interval"] == pytest.approx(0.1)
    assert ApiClient.rate_policy.scope == "administration"


def test_exact_429_without_headers_waits_for_the_next_clock_minute():
    limiter = RateLimiter("k", now=lambda: 1_700_000_010.0)
    limiter.on_429({}, policy=EXACT_POLICY)
    assert limiter.blocked_until == pytest.approx(1_700_000_040.0 + limiter.margin)


def test_exact_minutely_429_waits_for_the_reset_it_tells():
    limiter = RateLimiter("k", now=lambda: 1_700_000_010.0)
    limiter.on_429(
        {"X-RateLimit-Minutely-Remaining": "0", "X-RateLimit-Minutely-Reset": "1700000040000"},
        policy=EXACT_POLICY,
    )
    assert limiter.blocked_until == 0.0  # acquire() waits for minute_reset instead
    assert limiter.minute_reset == pytest.approx(1_700_000_040.0)


def test_retry_after_only_policy_ignores_budget_headers():
    limiter = RateLimiter("k", now=lambda: 1000.0)
    limiter.on_429({"Retry-After": "7", "X-RateLimit-Minutely-Remaining": "0"})
    assert limiter.blocked_until == pytest.approx(1007.0)
    assert limiter.minute_remaining is None


def test_wait_told_in_words_without_a_header():
    limiter = RateLimiter("k", now=lambda: 1000.0, default_429_wait=60)
    limiter.on_429({}, policy=WORDS_PER_ENDPOINT, body='{"Message": "Try again in 12 seconds."}')
    assert limiter.blocked_until == pytest.approx(1012.0)
    limiter.on_429({}, policy=WORDS_PER_ENDPOINT, body="no hint")
    assert limiter.blocked_until == pytest.approx(1060.0)  # the default wait


def test_reset_as_a_delay_in_seconds():
    policy = RatePolicy(minute=BudgetHeaders("X-Left", "X-Reset-In", reset_in="seconds"))
    limiter = RateLimiter("k", now=lambda: 500.0)
    limiter.update_from_headers({"X-Left": "3", "X-Reset-In": "20"}, policy)
    assert (limiter.minute_remaining, limiter.minute_reset) == (3, 520.0)


class _PerEndpointClient(ApiClient):
    service = "per-endpoint test service"
    rate_policy = WORDS_PER_ENDPOINT


def test_endpoint_scope_throttles_only_the_endpoint_that_answered_429():
    reset_registry()
    clock = FakeClock(1000.0)

    def handler(request):
        if request.path.startswith("/v2/customers"):
            return json_response({"Message": "Try again in 30 seconds."}, 429)
        return json_response({"ok": True})

    with LocalServer(handler) as server:
        base = RateLimiter(("svc", "company-1"), now=clock.now, sleep=clock.sleep)
        client = _PerEndpointClient(server.url, limiter=base, sleep=clock.sleep, max_429_retries=0)
        with pytest.raises(RateLimited) as caught:
            client.request("GET", "/v2/customers/0d9a1f6e-8e1b-4bd6-9f59-0c7a0a8f1c11")
        assert caught.value.retry_at == pytest.approx(1030.0)
        started = clock.now()
        client.request("GET", "/v2/articles")  # its own budget: no wait
        assert clock.now() == started
        customers = client.limiter_for_url(f"{server.url}/v2/customers?$page=2")
        articles = client.limiter_for_url(f"{server.url}/v2/articles/12")
        assert customers is not articles and customers.key[-1] == "v2/customers"
        assert customers.blocked_until == pytest.approx(1030.0) and not articles.blocked_until
    reset_registry()
