"""ExactClient: OData literals and or-groups, envelopes, paging, error mapping."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from test_client_support import FakeClock, LocalServer, json_response

from clients.errors import OutcomeUnknown, RetryableError, ValidationError
from clients.exact import (
    ExactClient,
    Guid,
    Int64,
    and_,
    eq,
    literal,
    normalise,
    or_groups,
    parse_date,
)
from clients.oauth import MemoryTokenStore
from clients.ratelimit import RateLimiter

GUID = "5B3D0B0C-1111-2222-3333-444455556666"


def make_client(server, records=None):
    clock = FakeClock()
    store = MemoryTokenStore(
        {
            "access_token": "A",
            "refresh_token": "R",
            "expires_at": clock.t + 10**6,
            "obtained_at": clock.t,
        }
    )
    oauth = ExactClient.make_oauth(server.url, "c", "s", store, now=clock.now)
    limiter = RateLimiter(("exact", 7), now=clock.now, sleep=clock.sleep)
    return ExactClient(
        server.url,
        7,
        oauth,
        limiter=limiter,
        sleep=clock.sleep,
        on_call=records.append if records is not None else None,
    )


def test_literals_escape_and_type():
    assert literal("O'Brien") == "'O''Brien'"
    assert literal(Guid(GUID)) == "guid'5b3d0b0c-1111-2222-3333-444455556666'"
    assert literal(Int64(493115)) == "493115L"
    assert literal(12) == "12" and literal(True) == "true" and literal(None) == "null"
    assert literal(dt.date(2024, 1, 31)) == "datetime'2024-01-31T00:00:00'"
    assert literal(dt.datetime(2024, 1, 31, 8, 5, 1, 999)) == "datetime'2024-01-31T08:05:01'"
    assert eq("YourRef", "INV/2024/0001") == "YourRef eq 'INV/2024/0001'"
    assert and_("A eq 1", "", "B eq 2") == "(A eq 1) and (B eq 2)"
    assert and_("A eq 1") == "A eq 1"


def test_or_groups_chunk_by_count_and_length():
    groups = or_groups("YourRef", [f"INV/{i:04d}" for i in range(100)])
    assert [g.count(" or ") + 1 for g in groups] == [40, 40, 20]
    assert groups[0].startswith("YourRef eq 'INV/0000' or YourRef eq 'INV/0001'")
    long_values = ["x" * 200 + str(i) for i in range(30)]
    groups = or_groups("Name", long_values, max_chars=1000)
    assert len(groups) > 5 and sum(g.count(" or ") + 1 for g in groups) == 30
    # duplicates and blanks are dropped; GUID keys get the guid literal
    assert or_groups("InvoiceID", [GUID, GUID, "", None]) == [
        "InvoiceID eq guid'5b3d0b0c-1111-2222-3333-444455556666'"
    ]


def test_dates_and_padded_codes_are_normalised():
    assert parse_date("/Date(1723420800000)/") == dt.datetime(2024, 8, 12)
    row = normalise(
        {
            "Code": "               255",
            "Country": "NL ",
            "VATCode": "2  ",
            "Name": " keep ",
            "Modified": "/Date(0)/",
            "Lines": {"results": [{"VATCode": "1  "}]},
        }
    )
    assert row == {
        "Code": "255",
        "Country": "NL",
        "VATCode": "2",
        "Name": " keep ",
        "Modified": dt.datetime(1970, 1, 1),
        "Lines": {"results": [{"VATCode": "1"}]},
    }


def test_or_groups_keep_the_url_short_and_cover_every_value():
    seen = []

    def handler(request):
        assert len(request.full_path) < 6000
        seen.append(request.args["$filter"])
        return json_response({"d": {"results": []}})

    emails = [f"customer.number.{i}@a-rather-long-domain-name.example" for i in range(200)]
    with LocalServer(handler) as server:
        client = make_client(server)
        assert client.accounts_by_field("Email", emails) == []
        lengths = [len(c["full_path"]) for c in server.calls]
    assert all(n < 6000 for n in lengths) and len(seen) >= 5
    assert sum(f.count("Email eq") for f in seen) == 200


def test_paging_follows_next_and_parses_rows():
    def handler(request):
        if "$skiptoken" in request.args:
            return json_response({"d": {"results": [{"ID": "b", "Code": "  2"}]}})
        nxt = request.host_url.rstrip("/") + request.path + "?$select=ID,Code&$skiptoken=guid'x'"
        return json_response({"d": {"results": [{"ID": "a", "Code": "  1"}], "__next": nxt}})

    with LocalServer(handler) as server:
        rows = make_client(server).gl_accounts()
        assert server.calls[0]["path"] == "/api/v1/7/financial/GLAccounts"
        assert server.calls[0]["headers"]["Accept"] == "application/json"
    assert rows == [{"ID": "a", "Code": "1"}, {"ID": "b", "Code": "2"}]


def test_post_sends_prefer_and_returns_the_entity():
    with LocalServer(
        lambda r: json_response({"d": {"ID": GUID.lower(), "Code": "   9"}}, 201)
    ) as server:
        account = make_client(server).create_account({"Name": "O'Brien"})
        sent = server.calls[0]
    assert account == {"ID": GUID.lower(), "Code": "9"}
    assert sent["headers"]["Prefer"] == "return=representation"
    assert json.loads(sent["body"]) == {"Name": "O'Brien"}


def _exact_error(status, value, reason=None):
    headers = {"Reason": reason} if reason else {}
    return lambda r: json_response(
        {"error": {"code": "", "message": {"lang": "", "value": value}}}, status, headers
    )


def test_validation_500_is_not_retried_and_keeps_the_messages():
    handler = _exact_error(500, "Ongeldige referentie: Besteld door\r\nVerplicht: Dagboek")
    with LocalServer(handler) as server:
        with pytest.raises(ValidationError) as info:
            make_client(server).create_sales_entry({"Journal": "70"})
        assert server.count() == 1
    err = info.value
    assert not err.retryable and err.status == 500
    assert err.remote_message == "Ongeldige referentie: Besteld door\nVerplicht: Dagboek"
    assert "Verplicht: Dagboek" in str(err)


def test_other_500_on_post_is_outcome_unknown():
    with LocalServer(_exact_error(500, "Internal error")) as server:
        with pytest.raises(OutcomeUnknown):
            make_client(server).create_sales_entry({"Journal": "70"})
        assert server.count() == 1


def test_400_with_reason_header():
    handler = _exact_error(
        400, "Please add a $select or a $top=1 statement to the query string.", reason="BadRequest"
    )
    with LocalServer(handler) as server:
        with pytest.raises(ValidationError) as info:
            make_client(server).journals(type=20)
        assert server.count() == 1
        assert server.calls[0]["query"]["$filter"] == "Type eq 20"
    assert info.value.reason == "BadRequest" and "$select" in info.value.remote_message


def test_html_maintenance_page_is_retryable():
    from werkzeug.wrappers import Response

    with LocalServer(
        lambda r: Response("<html>Onderhoud</html>", 503, content_type="text/html")
    ) as server:
        client = make_client(server)
        client.max_retries = 1
        with pytest.raises(RetryableError) as info:
            client.vat_codes()
        assert server.count() == 2
    assert info.value.remote_message is None


def test_hosts_and_oauth_urls():
    assert ExactClient.HOSTS["be"] == "https://start.exactonline.be"
    assert set(ExactClient.HOSTS) == {"nl", "be", "de", "fr", "es", "co.uk", "com"}
    oauth = ExactClient.make_oauth(ExactClient.HOSTS["nl"], "c", "s", MemoryTokenStore())
    assert oauth.token_url == "https://start.exactonline.nl/api/oauth2/token"
    assert oauth.authorize_url == "https://start.exactonline.nl/api/oauth2/auth"
    assert oauth.min_token_age == 570 and oauth.refresh_margin == 60  # min(60, lifetime / 2)
