"""Every client's token calls reach the call log through the same ``on_call`` hook as its
API calls, redacted, however the OAuth client was built (issue 8: Asperion's did not)."""

from __future__ import annotations

import uuid

import pytest
import requests

from clients.asperion import AsperionClient
from clients.exact import ExactClient
from clients.oauth import MemoryTokenStore
from clients.ratelimit import RateLimiter
from clients.timewax import TimewaxClient

REDIRECT = "http://127.0.0.1:8069/bookkeeping/oauth/callback"
CLIENT_ID, SECRET = "sandbox-client", "sandbox-secret"


@pytest.fixture
def sb(server):
    _control(server, "reset", {"service": None})
    for service in ("exact", "asperion"):
        _control(server, f"{service}/clients", {"redirect_uris": [REDIRECT]})
    _control(server, "exact/config", {"rate_limit_enabled": False})
    return server


def _control(server, path, body=None):
    response = requests.post(f"{server.url}/_sandbox/{path}", json=body or {}, timeout=10)
    assert response.status_code < 300, response.text
    return response.json()


def _limiter(server):
    return RateLimiter(uuid.uuid4().hex, now=server.clock.now, sleep=server.clock.advance)


def _consented(server, service, oauth):
    code = _control(
        server, f"{service}/consent", {"client_id": CLIENT_ID, "redirect_uri": REDIRECT}
    )["code"]
    return oauth.fetch_token(code, REDIRECT)


def _token_records(records, path_end):
    return [r for r in records if r["path"].endswith(path_end)]


def _assert_redacted(records, *secrets):
    text = repr(records)
    for secret in secrets:
        assert secret and secret not in text


def test_exact_token_calls_are_logged_through_the_client_hook(sb):
    store = MemoryTokenStore()
    # Built without on_call, as a caller may: the client's hook must still see token calls.
    oauth = ExactClient.make_oauth(f"{sb.url}/exact", CLIENT_ID, SECRET, store, now=sb.clock.now)
    first = _consented(sb, "exact", oauth)
    records = []
    client = ExactClient(
        f"{sb.url}/exact", 1001, oauth, limiter=_limiter(sb), on_call=records.append
    )
    sb.clock.advance(600)  # past Exact's 570 s rule and the token's 600 s life
    client.vat_codes()
    token_calls = _token_records(records, "/api/oauth2/token")
    assert [r["status"] for r in token_calls] == [200]
    assert token_calls[0]["outcome"] == "ok" and token_calls[0]["service"] == "exact"
    latest = store.read()
    _assert_redacted(
        records,
        first["access_token"],
        first["refresh_token"],
        latest["access_token"],
        latest["refresh_token"],
        SECRET,
    )


def test_asperion_token_calls_are_logged_through_the_client_hook(sb):
    store = MemoryTokenStore()
    oauth = AsperionClient.make_oauth(
        f"{sb.url}/asperion/identity", CLIENT_ID, SECRET, store, now=sb.clock.now
    )
    first = _consented(sb, "asperion", oauth)
    records = []
    client = AsperionClient(
        f"{sb.url}/asperion/api", 101, oauth, limiter=_limiter(sb), on_call=records.append
    )
    client.oauth.refresh(force=True)  # the keep-alive cron's refresh
    client.journals()
    token_calls = _token_records(records, "/connect/token")
    assert [r["status"] for r in token_calls] == [200]
    assert token_calls[0]["service"] == "asperion"
    assert any("/journals" in r["path"] for r in records)
    latest = store.read()
    _assert_redacted(
        records,
        first["access_token"],
        first["refresh_token"],
        latest["access_token"],
        latest["refresh_token"],
        SECRET,
    )


def test_a_hook_set_later_also_reaches_the_token_calls(sb):
    store = MemoryTokenStore()
    oauth = AsperionClient.make_oauth(
        f"{sb.url}/asperion/identity", CLIENT_ID, SECRET, store, now=sb.clock.now
    )
    _consented(sb, "asperion", oauth)
    client = AsperionClient(f"{sb.url}/asperion/api", 101, oauth, limiter=_limiter(sb))
    records = []
    client.on_call = records.append
    client.oauth.refresh(force=True)
    assert _token_records(records, "/connect/token")


def test_timewax_token_call_is_logged_without_password_or_token(sb):
    records = []
    client = TimewaxClient(
        f"{sb.url}/timewax",
        "sandbox",
        "api-user",
        "secret",
        limiter=_limiter(sb),
        on_call=records.append,
        now=sb.clock.now,
    )
    client.invoices("2026-01-01", "2026-03-31")
    token_calls = _token_records(records, "/authentication/token/get/")
    assert len(token_calls) == 1 and token_calls[0]["status"] == 200
    assert token_calls[0]["service"] == "timewax"
    _assert_redacted(records, "secret", client._token)
