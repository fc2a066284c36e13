"""AsperionClient: tenant headers, administration check, paging, ProblemDetails, files."""

from __future__ import annotations

import pytest
from test_client_support import FakeClock, LocalServer, json_response

from clients.asperion import FIELDS, AsperionClient, draft_invoice, draft_line
from clients.errors import AccessDenied, ValidationError
from clients.oauth import MemoryTokenStore
from clients.ratelimit import RateLimiter


def make_client(server, administration=101, clock=None):
    clock = clock or FakeClock()
    store = MemoryTokenStore(
        {
            "access_token": "A",
            "refresh_token": "R",
            "expires_at": clock.t + 10**6,
            "obtained_at": clock.t,
        }
    )
    oauth = AsperionClient.make_oauth(server.url + "/identity", "c", "s", store, now=clock.now)
    limiter = RateLimiter(("asperion", administration), now=clock.now, sleep=clock.sleep)
    return AsperionClient(
        server.url + "/api", administration, oauth, limiter=limiter, sleep=clock.sleep
    )


def envelope(items, admin=101, next_page=None):
    return {"_data": items, "_meta": {"administrationId": admin, "nextPage": next_page}}


def test_tenant_headers_and_language_on_every_call_but_administrations():
    def handler(request):
        if request.path.endswith("/administrations"):
            return json_response({"_data": [{"id": 101}, {"id": 102}], "_meta": {}})
        return json_response(envelope([]))

    with LocalServer(handler) as server:
        client = make_client(server)
        client.administrations()
        client.vat_codes()
        admin_call, vat_call = server.calls
    assert "X-Tenantid" not in admin_call["headers"] and "X-Tenant-Id" not in admin_call["headers"]
    assert vat_call["headers"]["X-Tenantid"] == "101"
    assert vat_call["headers"]["X-Tenant-Id"] == "101"
    assert vat_call["headers"]["Accept-Language"] == "nl-NL"
    assert vat_call["query"] == {"SalesCode": "true", "pageSize": "100", "page": "1"}


def test_answer_for_another_administration_is_refused():
    with LocalServer(lambda r: json_response(envelope([{"id": 1}], admin=999))) as server:
        with pytest.raises(AccessDenied):
            list(make_client(server).debtors())


def test_paging_via_next_page():
    def handler(request):
        page = int(request.args.get("page", 1))
        nxt = f"{request.host_url}api/v1/debtors?page={page + 1}&pageSize=100" if page < 3 else None
        return json_response(envelope([{"id": page}], next_page=nxt))

    with LocalServer(handler) as server:
        ids = [d["id"] for d in make_client(server).debtors(Name="Acme")]
        assert server.calls[0]["query"]["Name"] == "Acme"
    assert ids == [1, 2, 3]


def test_problem_details_become_field_errors():
    problem = {
        "type": "x",
        "title": "Validatie mislukt",
        "status": 400,
        "errors": {"DebtorKindId": ["Debiteursoort is verplicht."]},
    }
    with LocalServer(lambda r: json_response(problem, 400)) as server:
        with pytest.raises(ValidationError) as info:
            make_client(server).create_debtor({"name": "X"})
        assert server.count() == 1
    assert info.value.field_errors == {"DebtorKindId": ["Debiteursoort is verplicht."]}
    assert "Debiteursoort is verplicht." in str(info.value)


def test_503_retry_after_is_honoured_for_reads():
    clock = FakeClock()
    state = {"n": 0}

    def handler(request):
        state["n"] += 1
        if state["n"] == 1:
            return json_response({"title": "busy"}, 503, {"Retry-After": "12"})
        return json_response(envelope([{"id": "VH"}]))

    with LocalServer(handler) as server:
        assert make_client(server, clock=clock).journals() == [{"id": "VH"}]
    assert sum(clock.slept) >= 11.99


def test_file_upload_is_multipart_and_size_checked():
    with LocalServer(
        lambda r: json_response({"id": "f1", "name": r.files["File"].filename})
    ) as server:
        client = make_client(server)
        assert client.upload_sales_invoice_file(5, "INV_1.pdf", b"%PDF-1.4") == {
            "id": "f1",
            "name": "INV_1.pdf",
        }
        assert server.calls[0]["path"] == "/api/v1/salesinvoices/5/file"
        with pytest.raises(ValidationError):
            client.upload_sales_invoice_file(5, "big.pdf", b"0" * (5 * 1024 * 1024 + 1))
        assert server.count() == 1


def test_draft_builders_use_the_field_block():
    line = draft_line("V", "Consultancy", quantity=2, price=100.0, vat_code="VH", sales_type=1)
    body = draft_invoice(7, "2026-01-31", "INV/2026/0001", [line, draft_line("T", "Thanks")])
    assert body[FIELDS["draft_debtor"]] == 7
    assert body["lines"]["_data"][0] == {
        "bookingType": "V",
        "description": "Consultancy",
        "quantity": 2,
        "price": 100.0,
        "vatCode": "VH",
        "vatCodeId": "VH",
        "salesTypeId": 1,
    }
    assert body["lines"]["_data"][1] == {"bookingType": "T", "description": "Thanks"}
