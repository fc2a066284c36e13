"""Sandbox core: store, faults, clock, app mounting, control API, keep-alive server, CLI."""

import os
import socket
import subprocess
import sys

import pytest
import requests

from sandbox.core.app import make_app
from sandbox.core.clock import Clock
from sandbox.core.faults import Faults
from sandbox.core.server import start_in_thread
from sandbox.core.store import Store

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_store_documents_keep_insertion_order_and_copies(tmp_path):
    store = Store(str(tmp_path / "s.sqlite3"))
    a = store.insert("svc", "things", {"n": 1})
    store.insert("svc", "things", {"n": 2}, id="b")
    store.update("svc", "things", a, {"n": 10})
    got = store.get("svc", "things", a)
    got["n"] = 99  # a copy: the store is not changed behind its back
    assert [d["n"] for d in store.all("svc", "things")] == [10, 2]
    store.delete("svc", "things", "b")
    assert store.get("svc", "things", "b") is None
    assert store.all("svc", "other") == []


def test_store_sequences_survive_reset_and_restart(tmp_path):
    path = str(tmp_path / "s.sqlite3")
    store = Store(path)
    assert store.is_new
    assert [store.next_seq("x"), store.next_seq("x")] == [1, 2]
    store.insert("svc", "k", {"v": 1}, id="1")
    store.kv_set("svc:flag", {"on": True})
    store.reset("svc")
    assert store.next_seq("x") == 3  # numbers handed out never come back
    assert store.kv_get("svc:flag") is None
    store.insert("svc", "k", {"v": 2}, id="2")
    store.close()
    again = Store(path)
    assert not again.is_new
    assert again.next_seq("x") == 4
    assert again.get("svc", "k", "2") == {"v": 2}


def test_store_reset_of_one_service_keeps_the_others():
    store = Store()
    store.insert("a", "k", {"v": 1}, id="1")
    store.insert("b", "k", {"v": 2}, id="1")
    store.kv_set("b:x", 1)
    store.reset("a")
    assert store.get("a", "k", "1") is None
    assert store.get("b", "k", "1") == {"v": 2}
    assert store.kv_get("b:x") == 1
    store.close()


def test_faults_counters_fire_the_given_number_of_times():
    faults = Faults()
    faults.set(fail_next=2, revoked=True)
    assert [faults.take("fail_next") for _ in range(3)] == [True, True, False]
    assert faults.revoked is True
    with pytest.raises(KeyError):
        faults.set(nonsense=1)
    faults.clear()
    assert faults.to_dict()["revoked"] is False


def test_clock_advance_moves_now_forward():
    clock = Clock()
    before = clock.now()
    clock.advance(600)
    assert clock.now() - before >= 600


def test_unknown_or_missing_service_prefix_answers_404():
    app = make_app(Store())
    assert app.service("nosuch") is None
    from werkzeug.test import Client

    assert Client(app).get("/nosuch/x").status_code == 404


def test_server_keeps_connections_alive(server):
    with requests.Session() as session:
        first = session.get(server.url + "/_sandbox/stats/exact")
        assert first.headers.get("Connection", "").lower() != "close"
        session.get(server.url + "/_sandbox/stats/exact")
        pool = session.get_adapter(server.url).poolmanager
        assert [p.num_connections for p in pool.pools._container.values()] == [1]


def test_control_faults_fail_next_gives_503_then_recovers(server):
    requests.post(server.url + "/_sandbox/faults/exact", json={"fail_next": 1})
    assert requests.get(server.url + "/exact/api/v1/current/Me").status_code == 503
    assert requests.get(server.url + "/exact/api/v1/current/Me").status_code == 401
    assert requests.get(server.url + "/_sandbox/faults/exact").json()["fail_next"] == 0


def test_control_faults_error_rate_and_latency_apply_to_the_service_only(server):
    requests.post(server.url + "/_sandbox/faults/exact", json={"error_rate": 1, "latency_ms": 50})
    try:
        # No timing is asserted (noisy machines): the settings apply and read back.
        resp = requests.get(server.url + "/exact/api/v1/current/Me")
        assert resp.status_code in (500, 502, 503)
        assert requests.get(server.url + "/_sandbox/faults/exact").json()["latency_ms"] == 50
        assert requests.get(server.url + "/_sandbox/clock").status_code == 200
    finally:
        requests.post(
            server.url + "/_sandbox/faults/exact", json={"error_rate": 0, "latency_ms": 0}
        )


def test_control_bad_fault_name_is_400(server):
    resp = requests.post(server.url + "/_sandbox/faults/exact", json={"nope": 1})
    assert resp.status_code == 400


def test_control_clock_advance(server):
    before = requests.get(server.url + "/_sandbox/clock").json()["now"]
    after = requests.post(server.url + "/_sandbox/clock", json={"advance": 100}).json()["now"]
    assert after - before >= 100


def test_control_stats_count_requests_and_statuses(server):
    requests.post(server.url + "/_sandbox/stats/exact/reset")
    requests.get(server.url + "/exact/api/v1/current/Me")
    stats = requests.get(server.url + "/_sandbox/stats/exact").json()
    assert stats["requests"] == {"GET /api/v1/current/Me": 1}
    assert stats["status"] == {"401": 1}


def test_cli_port_taken_exits_2():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "sandbox", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert proc.returncode == 2
    assert proc.stdout.strip() == f"port {port} is taken: stop the other process or pass --port"


def test_state_survives_a_restart_with_the_same_db(tmp_path):
    db = str(tmp_path / "sandbox.sqlite3")
    first = start_in_thread(db_path=db)
    first.store.insert("exact", "marker", {"kept": True}, id="m")
    first.stop()
    second = start_in_thread(db_path=db)
    try:
        assert second.store.get("exact", "marker", "m") == {"kept": True}  # not re-seeded
    finally:
        second.stop()


# -- consent pages in a browser: the form posts back to the page, wherever it is mounted --
REDIRECT = "http://localhost:8069/bookkeeping_link/oauth/callback"


def _form(page_html):
    """(action, fields) of the page's form, as a browser would submit it."""
    import html  # noqa: PLC0415
    import re  # noqa: PLC0415

    action = html.unescape(re.search(r'<form[^>]*action="([^"]*)"', page_html).group(1))
    fields = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]*)" value="([^"]*)"', page_html
        )
    }
    return action, fields


@pytest.mark.parametrize("mount", ["", "/tools/sandbox"])
@pytest.mark.parametrize(
    "service,path,submit",
    [
        ("exact", "/exact/api/oauth2/auth", {"division": "1001", "action": "allow"}),
        (
            "asperion",
            "/asperion/identity/connect/authorize",
            {"username": "demo@sandbox.test", "password": "sandbox", "consent": "yes"},
        ),
    ],
)
def test_consent_page_form_posts_back_under_its_prefix(mount, service, path, submit):
    """The Exact page posted to /api/oauth2/auth without its /exact prefix and a browser
    got {"error": "not found"}; the form must post back to the page itself under any
    mount prefix (the app mounted below another path as well)."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware  # noqa: PLC0415
    from werkzeug.test import Client  # noqa: PLC0415

    app = make_app(Store())
    outer = DispatcherMiddleware(lambda env, start: [], {mount: app}) if mount else app
    client = Client(outer)
    client.post(f"{mount}/_sandbox/{service}/clients", json={"redirect_uri": REDIRECT})
    query = {
        "client_id": "sandbox-client",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "state": "st",
    }
    page = client.get(mount + path, query_string=query)
    assert page.status_code == 200
    action, hidden = _form(page.get_data(as_text=True))
    assert action.startswith(mount + path)
    answer = client.post(action, data={**hidden, **submit})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert answer.headers["Location"].startswith(REDIRECT + "?code=")
    assert answer.headers["Location"].endswith("state=st")


def test_fixed_windows_count_per_key_and_reset_on_the_window_boundary():
    from sandbox.core.ratewindow import FixedWindows  # noqa: PLC0415

    windows = FixedWindows()
    assert FixedWindows.bounds(125.0, 60) == (120.0, 180.0)
    assert [windows.add("a", 121.0, 60) for _ in range(3)] == [1, 2, 3]
    assert windows.used("a", 179.9, 60) == 3 and windows.used("b", 150.0, 60) == 0
    assert windows.used("a", 180.0, 60) == 0  # a new window, not a sliding one
    assert windows.add("a", 180.0, 60) == 1
    assert windows.add("a", 180.0, 86400) == 1  # another length is another budget
