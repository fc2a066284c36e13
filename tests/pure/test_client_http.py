"""ApiClient against a real local HTTP server: safe retries, unknown outcomes, 429s, records."""

from __future__ import annotations

import json

import pytest
from test_client_support import FakeClock, LocalServer, drop_connection, json_response, slow
from werkzeug.wrappers import Response

from clients.errors import (
    AccessDenied,
    AuthExpired,
    NotFound,
    OutcomeUnknown,
    RetryableError,
    ValidationError,
)
from clients.http import ApiClient, excerpt, redact
from clients.oauth import MemoryTokenStore, OAuth2Client
from clients.ratelimit import RateLimiter


def make_client(server, clock=None, records=None, **kwargs):
    clock = clock or FakeClock()
    kwargs.setdefault("limiter", RateLimiter("t", now=clock.now, sleep=clock.sleep))
    return ApiClient(
        server.url,
        on_call=(records.append if records is not None else None),
        sleep=clock.sleep,
        timeout=kwargs.pop("timeout", (2, 5)),
        **kwargs,
    )


def failing_then_ok(failures, status=503, body=None, headers=None):
    state = {"n": 0}

    def handler(request):
        state["n"] += 1
        if state["n"] <= failures:
            if body is not None:
                return Response(
                    body, status=status, headers=headers or {}, content_type="text/html"
                )
            return json_response({"error": "busy"}, status, headers)
        return json_response({"ok": state["n"]})

    return handler


def test_get_is_retried_on_503_with_backoff():
    records = []
    clock = FakeClock()
    with LocalServer(failing_then_ok(2)) as server:
        client = make_client(server, clock, records)
        assert client.get_json("/things") == {"ok": 3}
        assert server.count("GET") == 3
    assert [r["outcome"] for r in records] == ["retry", "retry", "ok"]
    assert len(clock.slept) == 2 and all(0 < s <= client.backoff_cap for s in clock.slept)


def test_get_gives_up_after_bounded_retries():
    with LocalServer(failing_then_ok(99, status=502, body="<html>maintenance</html>")) as srv:
        client = make_client(srv, max_retries=2)
        with pytest.raises(RetryableError) as info:
            client.get_json("/x")
        assert srv.count() == 3
    assert info.value.retryable and info.value.status == 502


def test_post_503_is_outcome_unknown_and_not_repeated():
    with LocalServer(failing_then_ok(1)) as server:
        client = make_client(server)
        with pytest.raises(OutcomeUnknown) as info:
            client.request("POST", "/create", json={"a": 1})
        assert server.count("POST") == 1
    assert info.value.retryable and info.value.status == 503


def test_post_with_connection_lost_after_sending_is_not_repeated():
    def handler(request):
        return drop_connection(request)

    records = []
    with LocalServer(handler) as server:
        client = make_client(server, records=records)
        with pytest.raises(OutcomeUnknown):
            client.request("POST", "/create", json={"YourRef": "INV/1"})
        assert server.count("POST") == 1
    assert records[-1]["outcome"] == "error" and records[-1]["status"] is None


def test_post_read_timeout_is_outcome_unknown():
    with LocalServer(lambda r: slow(0.6, json_response({}))) as server:
        client = make_client(server, timeout=(1, 0.2))
        with pytest.raises(OutcomeUnknown):
            client.request("POST", "/create", json={})
        assert server.count("POST") == 1


def test_get_after_dropped_connection_is_retried():
    state = {"n": 0}

    def handler(request):
        state["n"] += 1
        if state["n"] == 1:
            return drop_connection(request)
        return json_response({"fine": True})

    with LocalServer(handler) as server:
        assert make_client(server).get_json("/x") == {"fine": True}
        assert server.count("GET") == 2


def test_connection_refused_post_is_plain_retryable():
    client = ApiClient("http://127.0.0.1:9", max_retries=0, sleep=lambda s: None)
    with pytest.raises(RetryableError) as info:
        client.request("POST", "/x", json={})
    assert not isinstance(info.value, OutcomeUnknown)


def test_429_retry_after_is_honoured_for_a_post():
    clock = FakeClock()
    with LocalServer(failing_then_ok(1, status=429, headers={"Retry-After": "7"})) as server:
        client = make_client(server, clock)
        assert client.request("POST", "/create", json={}).json() == {"ok": 2}
        assert server.count("POST") == 2
    assert sum(clock.slept) >= 7


def test_429_retry_after_http_date():
    clock = FakeClock(1_700_000_000.0)
    date = "Tue, 14 Nov 2023 22:13:40 GMT"  # 1_700_000_020
    with LocalServer(failing_then_ok(1, status=429, headers={"Retry-After": date})) as server:
        make_client(server, clock).get_json("/x")
    assert 19 <= sum(clock.slept) <= 21


def test_functional_4xx_is_never_retried():
    with LocalServer(lambda r: json_response({"error": "bad"}, 400)) as server:
        client = make_client(server)
        with pytest.raises(ValidationError) as info:
            client.get_json("/x")
        assert server.count() == 1
    assert not info.value.retryable


@pytest.mark.parametrize("status,error", [(403, AccessDenied), (404, NotFound)])
def test_status_mapping(status, error):
    with LocalServer(lambda r: json_response({"error": "no"}, status)) as server:
        with pytest.raises(error):
            make_client(server).get_json("/x")
        assert server.count() == 1


def _token_server_and_api(api_status_for_token):
    """One server: /token rotates tokens, /api answers by token."""
    state = {"issued": 0}

    def handler(request):
        if request.path == "/token":
            state["issued"] += 1
            n = state["issued"]
            return json_response(
                {
                    "access_token": f"A{n}",
                    "refresh_token": f"R{n}",
                    "expires_in": "600",
                    "token_type": "bearer",
                }
            )
        token = request.headers.get("Authorization", "").split()[-1]
        status = api_status_for_token(token)
        return json_response({"token": token}, status)

    return handler, state


def test_401_refreshes_once_and_retries():
    handler, state = _token_server_and_api(lambda tok: 401 if tok == "A0" else 200)
    clock = FakeClock()
    store = MemoryTokenStore(
        {
            "access_token": "A0",
            "refresh_token": "R0",
            "expires_at": clock.t + 500,
            "obtained_at": clock.t - 100,
        }
    )
    with LocalServer(handler) as server:
        oauth = OAuth2Client(
            server.url + "/token", server.url + "/auth", "cid", "sec", store, now=clock.now
        )
        client = make_client(server, clock, oauth=oauth)
        assert client.get_json("/api/x") == {"token": "A1"}
    assert state["issued"] == 1 and store.read()["refresh_token"] == "R1"


def test_401_twice_is_auth_expired():
    handler, state = _token_server_and_api(lambda tok: 401)
    clock = FakeClock()
    store = MemoryTokenStore(
        {
            "access_token": "A0",
            "refresh_token": "R0",
            "expires_at": clock.t + 500,
            "obtained_at": clock.t - 100,
        }
    )
    with LocalServer(handler) as server:
        oauth = OAuth2Client(
            server.url + "/token", server.url + "/auth", "cid", "sec", store, now=clock.now
        )
        with pytest.raises(AuthExpired):
            make_client(server, clock, oauth=oauth).get_json("/api/x")
    assert state["issued"] == 1


TOO_EARLY = "Rate limit exceeded: access_token not expired"


def _young_token_store(clock):
    """A token obtained 10 s ago: locally valid for 590 s and too young to refresh."""
    return MemoryTokenStore(
        {
            "access_token": "A0",
            "refresh_token": "R0",
            "expires_at": clock.t + 590,
            "obtained_at": clock.t - 10,
        }
    )


def _exact_like_oauth(server, store, clock):
    return OAuth2Client(
        server.url + "/token",
        server.url + "/auth",
        "cid",
        "sec",
        store,
        now=clock.now,
        min_token_age=570,
    )


def test_401_on_a_young_token_still_asks_the_token_endpoint():
    """The server expired the token before its expires_in: the local clock says it is too
    young to refresh, but only the server's answer counts, and it hands out a new pair."""
    handler, state = _token_server_and_api(lambda tok: 401 if tok == "A0" else 200)
    clock = FakeClock()
    store = _young_token_store(clock)
    with LocalServer(handler) as server:
        client = make_client(server, clock, oauth=_exact_like_oauth(server, store, clock))
        assert client.get_json("/api/x") == {"token": "A1"}
    assert state["issued"] == 1 and store.read()["refresh_token"] == "R1"


def test_401_then_too_early_keeps_the_token_and_is_retryable():
    def handler(request):
        if request.path == "/token":
            return json_response(
                {
                    "error": "access_denied",
                    "error_description": TOO_EARLY,
                },
                400,
                {"Reason": "TooEarlyToRefreshTokens: " + TOO_EARLY},
            )
        return json_response({}, 401)

    clock = FakeClock()
    store = _young_token_store(clock)
    before = store.read()
    with LocalServer(handler) as server:
        client = make_client(server, clock, oauth=_exact_like_oauth(server, store, clock))
        with pytest.raises(RetryableError) as info:
            client.get_json("/api/x")
        assert server.count("POST", "/token") == 1
    assert not isinstance(info.value, AuthExpired)
    assert "TooEarly" in (info.value.reason or "")
    assert store.read() == before and store.saves == 0


def test_401_then_revoked_grant_is_auth_expired_saying_so():
    def handler(request):
        if request.path == "/token":
            return json_response({"error": "invalid_grant"}, 400)
        return json_response({}, 401)

    clock = FakeClock()
    store = _young_token_store(clock)
    records = []
    with LocalServer(handler) as server:
        client = make_client(server, clock, records, oauth=_exact_like_oauth(server, store, clock))
        with pytest.raises(AuthExpired) as info:
            client.get_json("/api/x")
    assert "revoked" in str(info.value) and "freshly issued" not in str(info.value)
    assert info.value.remote_message == "invalid_grant"
    # The call log says what happened to the refused call: no retry, the reason.
    (record,) = [r for r in records if r.get("status") == 401]
    assert record["outcome"] == "error" and "revoked" in record["message"]


def test_on_call_record_is_complete_and_redacted():
    records = []

    def handler(request):
        return json_response(
            {"access_token": "SECRET-A", "refresh_token": "SECRET-R", "name": "ok"}
        )

    store = MemoryTokenStore(
        {
            "access_token": "BEARER-SECRET",
            "refresh_token": "R",
            "expires_at": 9e12,
            "obtained_at": 0,
        }
    )
    with LocalServer(handler) as server:
        oauth = OAuth2Client(server.url + "/token", server.url + "/auth", "c", "s", store)
        client = make_client(server, records=records, oauth=oauth)
        client.request(
            "POST",
            "/v1/login?x=" + "q" * 600,
            json={"password": "PW-SECRET", "client_secret": "CS", "name": "n"},
        )
        sent = server.calls[0]
    assert sent["headers"]["Authorization"] == "Bearer BEARER-SECRET"
    (record,) = records
    assert set(record) >= {
        "service",
        "method",
        "path",
        "status",
        "duration_ms",
        "outcome",
        "message",
        "request_excerpt",
        "response_excerpt",
    }
    assert record["method"] == "POST" and record["status"] == 200 and record["outcome"] == "ok"
    assert record["path"].startswith("/v1/login?x=qqq") and len(record["path"]) == 500
    text = json.dumps(record)
    for secret in ("BEARER-SECRET", "PW-SECRET", "SECRET-A", "SECRET-R", '"CS"'):
        assert secret not in text
    assert "n" in json.loads(record["request_excerpt"])["name"]


def test_redact_helper():
    assert redact({"Authorization": "Bearer x", "a": [{"token": "t", "b": 1}]}) == {
        "Authorization": "***",
        "a": [{"token": "***", "b": 1}],
    }
    assert redact('{"access_token": "abc\\"d", "keep": "v"}') == (
        '{"access_token": "***", "keep": "v"}'
    )
    assert redact("grant_type=refresh_token&refresh_token=R!1&client_secret=S&client_id=c") == (
        "grant_type=refresh_token&refresh_token=***&client_secret=***&client_id=c"
    )
    assert redact("<request><token>t</token><password><![CDATA[p]]></password></request>") == (
        "<request><token>***</token><password>***</password></request>"
    )
    assert redact("Authorization: Bearer AAEAA.x-y") == "Authorization: Bearer ***"
    assert redact(b'{"password":"p"}') == '{"password":"***"}'
    assert len(excerpt("x" * 5000)) < 2100


def test_iter_pages_follows_next_links():
    def handler(request):
        page = int(request.args.get("page", 1))
        nxt = f"/items?page={page + 1}" if page < 3 else None
        return json_response({"items": [page * 10, page * 10 + 1], "next": nxt})

    with LocalServer(handler) as server:
        client = make_client(server)
        items = list(
            client.iter_pages(
                "/items", {"page": 1}, next_of=lambda b: b["next"], items_of=lambda b: b["items"]
            )
        )
    assert items == [10, 11, 20, 21, 30, 31]
