"""The clients end to end against the local sandbox (real HTTP, sandbox clock, faults)."""

from __future__ import annotations

import base64
import uuid

import pytest
import requests

from clients.asperion import AsperionClient, draft_invoice, draft_line
from clients.errors import AccessDenied, AuthExpired, OutcomeUnknown, ValidationError
from clients.exact import ExactClient
from clients.oauth import MemoryTokenStore
from clients.ratelimit import RateLimiter
from clients.timewax import TimewaxClient

try:
    from sandbox.core.server import start_in_thread
except Exception as exc:  # pragma: no cover - the sandbox is built in parallel
    pytest.skip(f"sandbox not importable: {exc}", allow_module_level=True)

REDIRECT = "http://127.0.0.1:8069/bookkeeping/oauth/callback"
CLIENT_ID, SECRET = "sandbox-client", "sandbox-secret"


@pytest.fixture(scope="module")
def sandbox():
    server = start_in_thread()
    yield server
    server.stop()


@pytest.fixture
def sb(sandbox):
    control(sandbox, "reset", {"service": None})
    for service in ("exact", "asperion"):
        control(sandbox, f"{service}/clients", {"redirect_uris": [REDIRECT]})
    control(sandbox, "exact/config", {"rate_limit_enabled": False})
    return sandbox


def control(server, path, body=None, method="POST"):
    response = requests.request(method, f"{server.url}/_sandbox/{path}", json=body, timeout=10)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def limiter(server, key):
    # sleeping advances the sandbox clock: waits for resets cost no wall time
    return RateLimiter(key, now=server.clock.now, sleep=server.clock.advance)


def exact_link(server, division=1001, store=None, records=None):
    store = store or MemoryTokenStore()
    oauth = ExactClient.make_oauth(
        f"{server.url}/exact", CLIENT_ID, SECRET, store, now=server.clock.now
    )
    if store.read() is None:
        code = control(
            server,
            "exact/consent",
            {"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "state": "s"},
        )["code"]
        oauth.fetch_token(code, REDIRECT)
    client = ExactClient(
        f"{server.url}/exact",
        division,
        oauth,
        limiter=limiter(server, ("exact", division, uuid.uuid4().hex)),
        on_call=records.append if records is not None else None,
        sleep=server.clock.advance,
    )
    return client, store


def _entry(client, account_id, ref, amount="100.00"):
    gl = next(a for a in client.gl_accounts() if a["Code"] == "8000")
    return {
        "Journal": "70",
        "Customer": account_id,
        "YourRef": ref,
        "SalesEntryLines": [
            {
                "GLAccount": gl["ID"],
                "AmountFC": amount,
                "VATCode": "2",
                "Description": "Consultancy",
            }
        ],
    }


def test_exact_full_flow(sb):
    records = []
    client, store = exact_link(sb, records=records)
    assert client.me()["CurrentDivision"] == 1001
    assert 1001 in {d["Code"] for d in client.divisions()}
    assert any(j["Code"] == "70" for j in client.journals(type=20))
    assert {v["Code"] for v in client.vat_codes()} >= {"2"}  # padding stripped
    account = client.create_account(
        {"Name": "O'Brien & Zn", "Email": "ob@example.com", "Status": "C", "Country": "NL"}
    )
    found = client.accounts_by_field("Email", ["ob@example.com", "none@example.com"])
    assert [a["ID"] for a in found] == [account["ID"]]
    assert client.accounts_by_field("Code", [account["Code"]])[0]["ID"] == account["ID"]
    entry = client.create_sales_entry(_entry(client, account["ID"], "INV/2026/0001"))
    assert entry["EntryID"] and entry["YourRef"] == "INV/2026/0001"
    rows = client.sales_entries_by_your_ref(["INV/2026/0001", "INV/2026/0002"])
    assert [r["EntryID"] for r in rows] == [entry["EntryID"]]
    doc = client.create_document("INV/2026/0001", account["ID"])
    att = client.create_document_attachment(doc["ID"], "INV_2026_0001.pdf", b"%PDF-1.4 test")
    assert att["ID"]
    receivable = client.receivables_by_entry_ids([entry["EntryID"]])
    assert receivable and receivable[0]["IsFullyPaid"] is False
    control(sb, f"exact/receivables/{entry['EntryID']}/pay", {})
    assert client.receivables_by_entry_ids([entry["EntryID"]])[0]["IsFullyPaid"] is True
    snap = client.rate_limit_snapshot()
    assert set(snap) >= {"minute_remaining", "day_remaining", "minute_reset", "day_reset"}
    assert all(r["outcome"] == "ok" for r in records)
    assert all(
        "Authorization" not in repr(r) and store.read()["access_token"] not in repr(r)
        for r in records
    )


def test_exact_sales_invoice_print_flow(sb):
    client, _ = exact_link(sb)
    account = client.accounts_where("Name ne ''")[0]
    item = client.items()[0]
    inv = client.create_sales_invoice(
        {
            "Journal": "70",
            "OrderedBy": account["ID"],
            "YourRef": "SO-1",
            "SalesInvoiceLines": [{"Item": item["ID"], "Quantity": 1, "UnitPrice": 50}],
        }
    )
    printed = client.print_sales_invoice(inv["InvoiceID"])
    assert printed is not None
    (row,) = client.sales_invoices_by_ids([inv["InvoiceID"]])
    assert row["Status"] == 50 and row["InvoiceNumber"]
    assert client.sales_invoices_by_your_ref(["SO-1"])[0]["InvoiceID"] == inv["InvoiceID"]


def test_exact_lost_create_is_outcome_unknown_and_applied_once(sb):
    client, _ = exact_link(sb)
    account = client.accounts_where("Name ne ''")[0]
    body = _entry(client, account["ID"], "INV/LOST/1")
    control(sb, "faults/exact", {"lose_next_creates": 1})
    with pytest.raises(OutcomeUnknown):
        client.create_sales_entry(body)
    # the engine looks up by its own key before trying again: exactly one remote record
    assert len(client.sales_entries_by_your_ref(["INV/LOST/1"])) == 1


def test_exact_validation_error_is_not_retried(sb):
    client, _ = exact_link(sb)
    before = control(sb, "stats/exact", method="GET")["total"]
    with pytest.raises(ValidationError) as info:
        client.create_sales_entry({"Journal": "70", "SalesEntryLines": []})
    after = control(sb, "stats/exact", method="GET")["total"]
    assert after - before == 1 and info.value.remote_message


def test_exact_token_rotation_and_stale_worker(sb):
    client, store = exact_link(sb)
    first = store.read()
    client.journals()
    sb.clock.advance(580)
    client.journals()  # refreshed in the last 30 s
    second = store.read()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    # a worker that kept the old pair in its own store cannot refresh any more
    sb.clock.advance(580)
    stale, _ = exact_link(sb, store=MemoryTokenStore(first))
    with pytest.raises(AuthExpired):
        stale.journals()


def test_exact_limiter_waits_instead_of_collecting_429s(sb):
    control(
        sb, "exact/config", {"rate_limit_enabled": True, "minutely_limit": 5, "minute_window": 60}
    )
    client, _ = exact_link(sb)
    before = control(sb, "stats/exact", method="GET")["status"].get("429", 0)
    for _ in range(12):
        client.journals()
    after = control(sb, "stats/exact", method="GET")["status"].get("429", 0)
    assert after - before == 0
    assert client.limiter.waited > 0


def test_exact_injected_429_is_waited_out(sb):
    client, _ = exact_link(sb)
    control(sb, "faults/exact", {"throttle_next": 1})
    assert client.journals()


def test_exact_division_without_consent_is_access_denied(sb):
    client, _ = exact_link(sb, division=1003)
    with pytest.raises(AccessDenied):
        client.journals()


def asperion_link(server, administration=101):
    store = MemoryTokenStore()
    oauth = AsperionClient.make_oauth(
        f"{server.url}/asperion/identity", CLIENT_ID, SECRET, store, now=server.clock.now
    )
    code = control(
        server, "asperion/consent", {"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "state": "s"}
    )["code"]
    oauth.fetch_token(code, REDIRECT)
    return AsperionClient(
        f"{server.url}/asperion/api",
        administration,
        oauth,
        limiter=limiter(server, ("asperion", uuid.uuid4().hex)),
        sleep=server.clock.advance,
    )


def test_asperion_draft_flow(sb):
    client = asperion_link(sb)
    assert {a["id"] for a in client.administrations()} >= {101, 102}
    kind = client.debtor_kinds()[0]["id"]
    debtor = client.create_debtor(
        {
            "name": "Zonneveld BV",
            "debtorKindId": kind,
            "emailAddress": "zv@example.com",
            "countryCode": "NL",
        }
    )
    assert debtor["id"] and debtor["customerNumber"]
    vat = next(v["id"] for v in client.vat_codes())
    sales_type = client.sales_types()[0]["id"]
    draft = client.create_draft_invoice(
        draft_invoice(
            debtor["id"],
            "2026-02-01T00:00:00",
            "INV/2026/0042",
            [
                draft_line(
                    "V", "Advies", quantity=2, price=95.0, vat_code=vat, sales_type=sales_type
                )
            ],
        )
    )
    assert draft["id"]
    control(sb, f"asperion/drafts/{draft['id']}/finalize", {})
    (invoice,) = list(
        client.sales_invoices(Description="INV/2026/0042", Description_comparison="Equals")
    )
    assert invoice["invoiceNumber"]
    result = client.upload_sales_invoice_file(invoice["id"], "INV_2026_0042.pdf", b"%PDF-1.4")
    assert result
    open_ids = [o.get("invoiceId") for o in client.outstanding_sales_invoices()]
    assert invoice["id"] in open_ids


def test_asperion_problem_details_and_unreachable_administration(sb):
    client = asperion_link(sb)
    with pytest.raises(ValidationError) as info:
        client.create_debtor({"name": "No kind"})
    assert info.value.field_errors
    with pytest.raises(AccessDenied):
        asperion_link(sb, administration=103).journals()


def test_asperion_throttle_is_waited_out(sb):
    client = asperion_link(sb)
    control(sb, "faults/asperion", {"throttle_next": 1})
    assert client.journals()


def test_timewax_invoices(sb):
    records = []
    client = TimewaxClient(
        f"{sb.url}/timewax",
        "sandbox",
        "api-user",
        "secret",
        limiter=limiter(sb, ("timewax", uuid.uuid4().hex)),
        on_call=records.append,
        now=sb.clock.now,
    )
    # seed 003 verbatim: <Lines> .. </line></lines>, <line> never opened; decimal commas
    control(sb, "timewax/config", {"lines_style": "doc", "decimal_comma": True})
    invoices = client.invoices("2026-01-01", "2026-03-31")
    assert invoices and all(inv["lines"] for inv in invoices)
    assert any(inv["creditNote"] for inv in invoices)
    assert "secret" not in repr(records)
    with pytest.raises(AuthExpired):
        TimewaxClient(
            f"{sb.url}/timewax", "sandbox", "api-user", "wrong", limiter=limiter(sb, "tw2")
        ).invoices("2026-01-01", "2026-03-31")


def test_attachment_is_stored_base64(sb):
    client, _ = exact_link(sb)
    doc = client.create_document("x", None)
    client.create_document_attachment(doc["ID"], "a.txt", b"hello")
    state = control(sb, "state/exact", method="GET")
    assert base64.b64encode(b"hello").decode() in repr(state)
