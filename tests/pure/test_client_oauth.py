"""OAuth2Client against a local token endpoint that behaves like Exact's."""

from __future__ import annotations

import contextlib
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from test_client_support import FakeClock, LocalServer, json_response

from clients.asperion import AsperionClient
from clients.errors import AuthExpired, RetryableError
from clients.exact import ExactClient
from clients.oauth import MemoryTokenStore, OAuth2Client, TokenStore


class ExactTokenEndpoint:
    """Rotating refresh tokens, expires_in as a string, the 570 s rule, old-token refusal."""

    def __init__(self, clock, delay=0.0):
        self.clock = clock
        self.delay = delay
        self.issued = 0
        self.valid_refresh = set()
        self.last_issue = None
        self.forms = []
        self.auth_headers = []
        self.fail_with = None  # (status, body, headers)
        self.expires_in = "600"
        self._lock = threading.Lock()

    def issue(self):
        self.issued += 1
        n = self.issued
        self.valid_refresh = {f"R{n}"}
        self.last_issue = self.clock.now()
        return json_response(
            {
                "access_token": f"A{n}",
                "refresh_token": f"R{n}",
                "expires_in": self.expires_in,
                "token_type": "bearer" if n % 2 else "Bearer",
            }
        )

    def __call__(self, request):
        if self.delay:
            time.sleep(self.delay)
        form = request.form.to_dict()
        with self._lock:
            self.forms.append(form)
            self.auth_headers.append(request.headers.get("Authorization"))
            if self.fail_with:
                status, body, headers = self.fail_with
                return json_response(body, status, headers)
            if form.get("grant_type") == "authorization_code":
                return self.issue()
            if form.get("refresh_token") not in self.valid_refresh:
                return json_response(
                    {
                        "error": "unauthorized_client",
                        "error_description": "Old refresh token used.",
                    },
                    401,
                )
            if self.last_issue is not None and self.clock.now() - self.last_issue < 570:
                return json_response(
                    {
                        "error": "access_denied",
                        "error_description": "Rate limit exceeded: access_token not expired",
                    },
                    400,
                    {
                        "Reason": "TooEarlyToRefreshTokens: Rate limit exceeded: access_token "
                        "not expired"
                    },
                )
            return self.issue()


@pytest.fixture
def exact_oauth():
    clock = FakeClock()
    endpoint = ExactTokenEndpoint(clock)
    server = LocalServer(endpoint)
    store = MemoryTokenStore()

    def make(store=store, **kwargs):
        return ExactClient.make_oauth(server.url, "cid", "csecret", store, now=clock.now, **kwargs)

    yield make, clock, endpoint, store
    server.stop()


def test_authorization_url():
    oauth = ExactClient.make_oauth("https://start.exactonline.be", "cid", "s", MemoryTokenStore())
    url = oauth.authorization_url("https://odoo.example/cb", "st4te", force_login=1)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.netloc == "start.exactonline.be" and parts.path == "/api/oauth2/auth"
    assert query["client_id"] == ["cid"] and query["state"] == ["st4te"]
    assert query["response_type"] == ["code"] and query["force_login"] == ["1"]
    assert query["redirect_uri"] == ["https://odoo.example/cb"]


def test_fetch_token_normalises_and_saves_at_once(exact_oauth):
    make, clock, endpoint, store = exact_oauth
    token = make().fetch_token("XTzM!IAAA", "http://127.0.0.1/cb")
    assert store.saves == 1 and store.read() == token
    assert token["expires_in"] == 600.0 and token["token_type"] == "Bearer"
    assert token["obtained_at"] == clock.t and token["expires_at"] == clock.t + 600
    form = endpoint.forms[0]
    # credentials in the body, not Basic auth
    assert form["client_id"] == "cid" and form["client_secret"] == "csecret"
    assert form["code"] == "XTzM!IAAA" and endpoint.auth_headers == [None]


def test_the_570_second_rule(exact_oauth):
    make, clock, endpoint, store = exact_oauth
    oauth = make()
    oauth.fetch_token("code", "http://127.0.0.1/cb")
    clock.advance(300)
    assert oauth.access_token() == "A1"
    clock.advance(269)  # 569 s: not yet in the last 30 s
    assert oauth.access_token() == "A1" and endpoint.issued == 1
    clock.advance(2)  # 571 s
    assert oauth.access_token() == "A2" and endpoint.issued == 2
    assert store.read()["refresh_token"] == "R2" and store.saves == 2


def test_min_token_age_wins_over_a_wide_margin(exact_oauth):
    make, clock, endpoint, store = exact_oauth
    oauth = make(refresh_margin=200)  # due at 400 s, but Exact refuses before 570 s
    oauth.fetch_token("code", "http://127.0.0.1/cb")
    clock.advance(450)
    assert oauth.access_token() == "A1" and endpoint.issued == 1
    clock.advance(125)
    assert oauth.access_token() == "A2"


def test_keep_alive_force_refresh_respects_min_age(exact_oauth):
    make, clock, endpoint, store = exact_oauth
    oauth = make()
    oauth.fetch_token("code", "http://127.0.0.1/cb")
    assert oauth.refresh(force=True)["access_token"] == "A1" and endpoint.issued == 1
    clock.advance(3000)  # long expired: a keep-alive refresh
    assert oauth.refresh(force=True)["access_token"] == "A2"


class RecordingStore(MemoryTokenStore):
    """Checks that every save happens while the lock is held."""

    def __init__(self, token=None):
        super().__init__(token)
        self.holding = 0
        self.saved_under_lock = []

    @contextlib.contextmanager
    def locked(self):
        with super().locked() as current:
            self.holding += 1
            try:
                yield current
            finally:
                self.holding -= 1

    def save(self, token):
        self.saved_under_lock.append(self.holding > 0)
        super().save(token)


def test_rotated_pair_is_saved_inside_the_lock(exact_oauth):
    make, clock, endpoint, _store = exact_oauth
    store = RecordingStore()
    assert isinstance(store, TokenStore)
    oauth = make(store=store)
    oauth.fetch_token("code", "http://127.0.0.1/cb")
    clock.advance(580)
    oauth.access_token()
    assert store.saved_under_lock == [True, True]


def test_two_workers_refreshing_at_once_make_one_call(exact_oauth):
    make, clock, endpoint, store = exact_oauth
    make().fetch_token("code", "http://127.0.0.1/cb")
    clock.advance(585)
    endpoint.delay = 0.15  # widen the race window
    workers = [make(), make()]  # two processes sharing the stored token
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run(oauth):
        barrier.wait()
        try:
            results.append(oauth.access_token())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert results == ["A2", "A2"]
    assert endpoint.issued == 2  # the code exchange + exactly one refresh
    assert [f["grant_type"] for f in endpoint.forms].count("refresh_token") == 1


def test_held_token_already_replaced_is_used_without_a_call(exact_oauth):
    make, clock, endpoint, store = exact_oauth
    a, b = make(), make()
    a.fetch_token("code", "http://127.0.0.1/cb")
    clock.advance(580)
    held = store.read()["access_token"]
    assert b.access_token() == "A2"  # the other worker refreshed
    assert a.refresh(held=held)["access_token"] == "A2" and endpoint.issued == 2


def test_too_early_answer_keeps_the_current_token(exact_oauth):
    make, clock, endpoint, store = exact_oauth
    oauth = make(min_token_age=None)  # let it try: the server says too early
    oauth.fetch_token("code", "http://127.0.0.1/cb")
    endpoint.last_issue = clock.now() + 100  # server-side clock ahead: still too early
    clock.advance(575)
    assert oauth.access_token() == "A1" and store.saves == 1
    clock.advance(30)  # now expired and still refused: retry later
    endpoint.last_issue = clock.now()
    with pytest.raises(RetryableError) as info:
        oauth.access_token()
    assert "TooEarly" in (info.value.reason or "")


@pytest.mark.parametrize(
    "status,body",
    [
        (401, {"error": "unauthorized_client", "error_description": "Old refresh token used."}),
        (
            400,
            {
                "error": "invalid_request",
                "error_description": "The refresh token expired at 10/11/2022 9:18:20 PM "
                "and it is now 10/28/2022.",
            },
        ),
        (400, {"error": "invalid_grant"}),
    ],
)
def test_dead_link_is_auth_expired(exact_oauth, status, body):
    make, clock, endpoint, store = exact_oauth
    oauth = make()
    oauth.fetch_token("code", "http://127.0.0.1/cb")
    clock.advance(590)
    endpoint.fail_with = (status, body, {})
    with pytest.raises(AuthExpired) as info:
        oauth.access_token()
    assert info.value.status == status and store.read()["refresh_token"] == "R1"


def test_old_refresh_token_reuse_is_auth_expired(exact_oauth):
    make, clock, endpoint, store = exact_oauth
    oauth = make()
    oauth.fetch_token("code", "http://127.0.0.1/cb")
    endpoint.valid_refresh = {"R-other"}  # someone else rotated it and lost the result
    clock.advance(590)
    with pytest.raises(AuthExpired) as info:
        oauth.access_token()
    assert "Old refresh token used." in str(info.value)


def test_token_endpoint_5xx_is_retryable(exact_oauth):
    make, clock, endpoint, store = exact_oauth
    oauth = make()
    oauth.fetch_token("code", "http://127.0.0.1/cb")
    clock.advance(590)
    endpoint.fail_with = (503, {"error": "down"}, {})
    with pytest.raises(RetryableError):
        oauth.access_token()


def test_no_token_is_auth_expired():
    oauth = OAuth2Client(
        "http://127.0.0.1:9/t", "http://127.0.0.1:9/a", "c", "s", MemoryTokenStore()
    )
    with pytest.raises(AuthExpired):
        oauth.access_token()


def test_token_calls_are_recorded_redacted(exact_oauth):
    make, clock, endpoint, store = exact_oauth
    records = []
    oauth = make(on_call=records.append)
    oauth.fetch_token("code", "http://127.0.0.1/cb")
    (record,) = records
    assert record["path"] == "/api/oauth2/token" and record["status"] == 200
    assert "A1" not in record["response_excerpt"] and "R1" not in record["response_excerpt"]


@pytest.mark.parametrize("make_oauth", [ExactClient.make_oauth, AsperionClient.make_oauth])
def test_a_short_token_is_not_refreshed_before_every_call(exact_oauth, make_oauth):
    """Margin = min(60 s, half the lifetime): a 30-second token is refreshed in its last
    15 s, not on every call (the server answering with 30 s tokens has no 570 s rule)."""
    _make, clock, endpoint, store = exact_oauth
    endpoint.expires_in = "30"
    url = f"http://127.0.0.1:{urlsplit(_make().token_url).port}"
    oauth = make_oauth(url, "cid", "csecret", store, now=clock.now, min_token_age=None)
    oauth.fetch_token("code", "http://127.0.0.1/cb")  # the fake endpoint answers any path
    endpoint.last_issue = None  # its 570 s rule is not under test here
    for _ in range(3):
        assert oauth.access_token() == "A1"
    clock.advance(14)
    assert oauth.access_token() == "A1" and endpoint.issued == 1
    clock.advance(2)  # 16 s old, 14 s left: inside the 15 s margin
    assert oauth.access_token() == "A2" and endpoint.issued == 2
    assert oauth.margin(store.read()) == 15


def test_a_long_token_keeps_the_60_second_margin(exact_oauth):
    make, clock, endpoint, store = exact_oauth
    oauth = make(min_token_age=None)
    oauth.fetch_token("code", "http://127.0.0.1/cb")
    assert oauth.margin(store.read()) == 60
    clock.advance(539)
    assert oauth.access_token() == "A1"
    endpoint.last_issue = None  # the fake endpoint's 570 s rule is not under test here
    clock.advance(2)
    assert oauth.access_token() == "A2"
