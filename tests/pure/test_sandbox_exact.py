"""Contract tests of the Exact Online simulator, one per fact of
/work/shared/api/exact-online.md (section numbers in the docstrings).

A real server runs in a thread; tests talk HTTP with requests and jump the sandbox clock
instead of sleeping.
"""

import base64
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox.exact.seed import seed_guid

REDIRECT = "http://localhost:8069/callback"
CLIENT = {"client_id": "sandbox-client", "client_secret": "sandbox-secret"}
GL_8000 = seed_guid(1001, "GLAccounts", "8000")
JSON = {"Accept": "application/json"}


class Sandbox:
    def __init__(self, server):
        self.url, self.server = server.url, server
        self.exact = server.url + "/exact"

    def control(self, path, body=None):
        return requests.post(f"{self.url}/_sandbox/{path}", json=body or {})

    def advance(self, seconds):
        self.control("clock", {"advance": seconds})

    def code(self, **extra):
        body = {"client_id": "sandbox-client", "redirect_uri": REDIRECT, "state": "s1", **extra}
        return self.control("exact/consent", body).json()["code"]

    def token(self, code=None):
        resp = requests.post(
            self.exact + "/api/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code or self.code(),
                "redirect_uri": REDIRECT,
                **CLIENT,
            },
        )
        assert resp.status_code == 200, resp.text
        return resp.json()

    def refresh(self, refresh_token):
        return requests.post(
            self.exact + "/api/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token, **CLIENT},
        )

    def session(self, access_token=None):
        session = requests.Session()
        session.headers.update(
            {
                "Authorization": "Bearer " + (access_token or self.token()["access_token"]),
                "Accept": "application/json",
                "Prefer": "return=representation",
            }
        )
        return session

    def api(self, path, division=1001):
        return f"{self.exact}/api/v1/{division}/{path}"


@pytest.fixture
def sb(server):
    requests.post(server.url + "/_sandbox/reset", json={"service": "exact"})
    # The app registration (App Center) holds the one redirect URL these tests use.
    requests.post(server.url + "/_sandbox/exact/clients", json={"redirect_uris": [REDIRECT]})
    return Sandbox(server)


@pytest.fixture
def api(sb):
    session = sb.session()
    yield session
    session.close()


def error_value(resp):
    return resp.json()["error"]["message"]["value"]


def account_id(api, sb, code="1"):
    rows = api.get(sb.api("crm/Accounts"), params={"$filter": f"trim(Code) eq '{code}'"}).json()
    return rows["d"]["results"][0]["ID"]


def item_id(api, sb, code="CONSULT"):
    rows = api.get(sb.api("logistics/Items"), params={"$filter": f"Code eq '{code}'"}).json()
    return rows["d"]["results"][0]["ID"]


def new_entry(api, sb, lines, **header):
    body = {"Journal": "70", "Customer": account_id(api, sb), "SalesEntryLines": lines, **header}
    return api.post(sb.api("salesentry/SalesEntries"), json=body)


def new_invoice(api, sb, quantity=2, **header):
    body = {
        "Journal": "70",
        "OrderedBy": account_id(api, sb),
        "SalesInvoiceLines": [{"Item": item_id(api, sb), "Quantity": quantity}],
        **header,
    }
    return api.post(sb.api("salesinvoice/SalesInvoices"), json=body)


# -- §1 OAuth ---------------------------------------------------------------------------
def test_oauth_auth_page_has_division_checklist_and_redirects_with_code_and_state(sb):
    params = {
        "client_id": "sandbox-client",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "state": "abc",
    }
    page = requests.get(sb.exact + "/api/oauth2/auth", params=params)
    assert page.status_code == 200 and 'name="division" value="1001"' in page.text
    resp = requests.post(
        sb.exact + "/api/oauth2/auth",
        params=params,
        data={"division": ["1002"], "action": "allow"},
        allow_redirects=False,
    )
    assert resp.status_code == 302
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert query["state"] == ["abc"] and "!" in query["code"][0]
    token = sb.token(query["code"][0])
    api = sb.session(token["access_token"])
    assert api.get(sb.api("vat/VATCodes", 1002)).status_code == 200
    assert api.get(sb.api("vat/VATCodes", 1001)).status_code == 403  # not ticked


def test_oauth_consent_control_gives_redirect_with_code_and_state(sb):
    body = {"client_id": "sandbox-client", "redirect_uri": REDIRECT, "state": "xyz"}
    data = sb.control("exact/consent", body).json()
    assert data["redirect"].startswith(REDIRECT + "?code=") and data["redirect"].endswith(
        "state=xyz"
    )


@pytest.mark.parametrize(
    "other",
    [
        "http://localhost:8069/callback/",  # a trailing slash
        "http://localhost:8069/callback/evil",  # a longer path
        "http://localhost:8070/callback",  # another port
        "http://127.0.0.1:8069/callback",  # the same host by another name
        "http://localhost:8069/callback?x=1",
    ],
)
def test_oauth_redirect_uri_must_equal_the_registered_one(sb, other):
    """§1: redirect_uri exactly as registered in the App Center: any other one gets an
    error page (never a redirect carrying a code), and the control consent refuses it."""
    params = {"client_id": "sandbox-client", "redirect_uri": other, "response_type": "code"}
    page = requests.get(sb.exact + "/api/oauth2/auth", params=params, allow_redirects=False)
    assert page.status_code == 400 and "redirect" in page.text
    post = requests.post(
        sb.exact + "/api/oauth2/auth",
        params=params,
        data={"division": ["1001"], "action": "allow"},
        allow_redirects=False,
    )
    assert post.status_code == 400 and "Location" not in post.headers
    consent = sb.control("exact/consent", {"client_id": "sandbox-client", "redirect_uri": other})
    assert consent.status_code == 400 and "registered" in consent.json()["error"]


def test_oauth_code_exchange_needs_the_same_redirect_uri(sb):
    other = "http://localhost:8069/other"
    assert sb.control("exact/clients", {"redirect_uri": other}).json()["redirect_uris"] == [
        REDIRECT,
        other,
    ]
    for redirect in (other, None):
        form = {"grant_type": "authorization_code", "code": sb.code(), **CLIENT}
        if redirect:
            form["redirect_uri"] = redirect
        resp = requests.post(sb.exact + "/api/oauth2/token", data=form)
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_oauth_app_registration_control_api(sb):
    """POST /_sandbox/exact/clients: redirect_uris replaces, redirect_uri adds; https only
    (plain http on loopback), no fragment; a new client needs its secret."""
    done = sb.control("exact/clients", {"redirect_uris": ["https://odoo.example/cb"]}).json()
    assert done == {"client_id": "sandbox-client", "redirect_uris": ["https://odoo.example/cb"]}
    for bad in ("http://odoo.example/cb", "https://odoo.example/cb#x", "/cb", "ftp://x/cb"):
        assert sb.control("exact/clients", {"redirect_uri": bad}).status_code == 400
    assert sb.control("exact/clients", {"client_id": "other-app"}).status_code == 400
    made = sb.control(
        "exact/clients",
        {"client_id": "other-app", "client_secret": "s3", "redirect_uris": [REDIRECT]},
    )
    assert made.status_code == 200
    code = sb.control("exact/consent", {"client_id": "other-app", "redirect_uri": REDIRECT}).json()[
        "code"
    ]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    wrong = requests.post(sb.exact + "/api/oauth2/token", data={**form, **CLIENT})
    assert wrong.status_code == 400  # the code belongs to the other app
    ok = requests.post(
        sb.exact + "/api/oauth2/token",
        data={
            **form,
            "code": sb.control(
                "exact/consent", {"client_id": "other-app", "redirect_uri": REDIRECT}
            ).json()["code"],
            "client_id": "other-app",
            "client_secret": "s3",
        },
    )
    assert ok.status_code == 200


def test_oauth_registration_outlives_a_reset_of_the_service(sb):
    sb.control("reset", {"service": "exact"})
    assert sb.token()["access_token"]


def test_oauth_token_endpoint_takes_client_credentials_in_basic_auth(sb):
    """RFC 6749 §2.3.1: HTTP Basic as well as the form body, never both in one request."""
    form = {"grant_type": "authorization_code", "redirect_uri": REDIRECT}
    basic = ("sandbox-client", "sandbox-secret")
    ok = requests.post(sb.exact + "/api/oauth2/token", data={**form, "code": sb.code()}, auth=basic)
    assert ok.status_code == 200, ok.text
    sb.advance(571)
    refresh = requests.post(
        sb.exact + "/api/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": ok.json()["refresh_token"]},
        auth=basic,
    )
    assert refresh.status_code == 200
    both = requests.post(
        sb.exact + "/api/oauth2/token", data={**form, "code": sb.code(), **CLIENT}, auth=basic
    )
    assert both.status_code == 400
    wrong = requests.post(
        sb.exact + "/api/oauth2/token",
        data={**form, "code": sb.code()},
        auth=("sandbox-client", "nope"),
    )
    assert wrong.status_code == 400 and wrong.json() == {"error": "invalid_request"}


def test_oauth_code_works_once_reuse_is_400(sb):
    code = sb.code()
    sb.token(code)
    again = requests.post(
        sb.exact + "/api/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **CLIENT},
    )
    assert again.status_code == 400


def test_oauth_code_lasts_3_minutes(sb):
    code = sb.code()
    sb.advance(181)
    resp = requests.post(
        sb.exact + "/api/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **CLIENT},
    )
    assert resp.status_code == 400


def test_oauth_token_response_expires_in_is_the_string_600(sb):
    token = sb.token()
    assert token["expires_in"] == "600" and token["token_type"] == "bearer"
    assert set(token) == {"access_token", "token_type", "expires_in", "refresh_token"}


def test_oauth_wrong_client_secret_is_400_invalid_request(sb):
    resp = requests.post(
        sb.exact + "/api/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": sb.code(),
            "redirect_uri": REDIRECT,
            "client_id": "sandbox-client",
            "client_secret": "wrong",
        },
    )
    assert resp.status_code == 400 and resp.json() == {"error": "invalid_request"}


def test_oauth_refresh_before_570s_is_400_too_early_and_current_tokens_stay_usable(sb):
    token = sb.token()
    sb.advance(500)
    resp = sb.refresh(token["refresh_token"])
    assert resp.status_code == 400
    assert resp.json() == {
        "error": "access_denied",
        "error_description": "Rate limit exceeded: access_token not expired",
    }
    assert resp.headers["Reason"] == (
        "TooEarlyToRefreshTokens: Rate limit exceeded: access_token not expired"
    )
    assert sb.session(token["access_token"]).get(sb.api("vat/VATCodes")).status_code == 200
    sb.advance(75)
    assert sb.refresh(token["refresh_token"]).status_code == 200  # still the valid one


def test_oauth_refresh_tokens_rotate_and_old_one_gives_401_old_refresh_token_used(sb):
    token = sb.token()
    sb.advance(571)
    new = sb.refresh(token["refresh_token"])
    assert new.status_code == 200 and new.json()["refresh_token"] != token["refresh_token"]
    old = sb.refresh(token["refresh_token"])
    assert old.status_code == 401
    assert old.json() == {
        "error": "unauthorized_client",
        "error_description": "Old refresh token used.",
    }


def test_oauth_refresh_token_unused_30_days_is_400_invalid_request_expired(sb):
    token = sb.token()
    sb.advance(30 * 86400 + 1)
    resp = sb.refresh(token["refresh_token"])
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
    assert re.match(
        r"The refresh token expired at .* and it is now .*\.", resp.json()["error_description"]
    )


def test_oauth_access_token_lasts_600s_then_401(sb):
    api = sb.session()
    assert api.get(sb.api("vat/VATCodes")).status_code == 200
    sb.advance(601)
    assert api.get(sb.api("vat/VATCodes")).status_code == 401


def test_oauth_revoked_fault_gives_invalid_grant_on_refresh_and_401_on_calls(sb):
    token = sb.token()
    sb.control("faults/exact", {"revoked": True})
    sb.advance(571)
    resp = sb.refresh(token["refresh_token"])
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"
    assert sb.session(token["access_token"]).get(sb.api("vat/VATCodes")).status_code == 401


def test_oauth_expire_tokens_after_fault_kills_tokens_before_their_expires_in(sb):
    """A server may expire a token earlier than the "600" it announced: the fault makes
    every access token die that many seconds after it was issued; the 570 s rule for a
    refresh still counts from the issue time."""
    token = sb.token()
    sb.control("faults/exact", {"expire_tokens_after": 300})
    assert token["expires_in"] == "600"
    api = sb.session(token["access_token"])
    sb.advance(299)
    assert api.get(sb.api("vat/VATCodes")).status_code == 200
    sb.advance(2)
    assert api.get(sb.api("vat/VATCodes")).status_code == 401
    too_early = sb.refresh(token["refresh_token"])
    assert too_early.status_code == 400 and "TooEarly" in too_early.headers["Reason"]
    sb.advance(270)
    fresh = sb.refresh(token["refresh_token"])
    assert fresh.status_code == 200
    assert sb.session(fresh.json()["access_token"]).get(sb.api("vat/VATCodes")).ok
    sb.control("faults/exact", {"expire_tokens_after": 0})


# -- §2 divisions -------------------------------------------------------------------------
def test_current_me_is_a_collection_with_current_division_and_not_rate_counted(sb, api):
    resp = api.get(sb.exact + "/api/v1/current/Me", params={"$select": "CurrentDivision"})
    assert resp.json()["d"]["results"][0]["CurrentDivision"] == 1001
    assert "X-RateLimit-Remaining" not in resp.headers
    first = api.get(sb.api("vat/VATCodes")).headers["X-RateLimit-Minutely-Remaining"]
    assert first == "59"


def test_system_divisions_lists_only_consented_divisions(sb, api):
    rows = api.get(sb.api("system/Divisions")).json()["d"]["results"]
    assert [r["Code"] for r in rows] == [1001, 1002]
    assert {"Description", "Country", "Currency", "Status", "Hid", "VATNumber"} <= set(rows[0])


def test_division_without_consent_is_403_reason_no_division_access(sb, api):
    resp = api.get(sb.api("vat/VATCodes", 1003))
    assert resp.status_code == 403 and resp.headers["Reason"] == "NoDivisionAccess"


def test_divisions_added_for_a_user_are_consentable_with_their_own_master_data(sb):
    """E11: one user may reach many divisions (bench workers adds them)."""
    added = sb.control("exact/divisions", {"codes": [2001, 2002]}).json()
    assert added["consentable"] == [1001, 1002, 2001, 2002]
    session = sb.session(sb.token(sb.code(divisions=[2001]))["access_token"])
    codes = session.get(sb.api("vat/VATCodes", 2001)).json()["d"]["results"]
    assert {c["Code"].strip() for c in codes} >= {"0", "1", "2"}
    assert session.get(sb.api("vat/VATCodes", 1001)).status_code == 403  # not consented
    refused = sb.control(
        "exact/consent",
        {"client_id": "sandbox-client", "redirect_uri": REDIRECT, "divisions": [1003]},
    )
    assert refused.status_code == 400
    # A reset forgets them: the user is back to the seeded divisions.
    requests.post(sb.url + "/_sandbox/reset", json={"service": "exact"})
    requests.post(sb.url + "/_sandbox/exact/clients", json={"redirect_uris": [REDIRECT]})
    again = sb.control(
        "exact/consent",
        {"client_id": "sandbox-client", "redirect_uri": REDIRECT, "divisions": [2001]},
    )
    assert again.status_code == 400


# -- §3 envelopes ---------------------------------------------------------------------------
def test_collections_page_60_rows_with_absolute_next_keeping_filter(sb, api):
    svc = sb.server.services["exact"]
    for n in range(70):
        svc.create_account(1001, {"Name": f"Klant {n}"})
    first = api.get(
        sb.api("crm/Accounts"), params={"$filter": "Status eq 'C'", "$select": "ID,Name"}
    )
    page = first.json()["d"]
    assert len(page["results"]) == 60
    assert page["__next"].startswith(sb.exact + "/api/v1/1001/crm/Accounts?")
    assert "$skiptoken=guid'" in page["__next"] and "$filter=" in page["__next"]
    rest = api.get(page["__next"]).json()["d"]
    assert len(rest["results"]) == 13 and "__next" not in rest


def test_top_lowers_the_page_size(sb, api):
    page = api.get(sb.api("vat/VATCodes"), params={"$top": 3}).json()["d"]
    assert len(page["results"]) == 3 and "__next" not in page


def test_bulk_endpoints_page_1000_rows(sb, api):
    svc = sb.server.services["exact"]
    for n in range(1000):
        svc.create_account(1001, {"Name": f"Bulk {n}"})
    page = api.get(sb.api("bulk/CRM/Accounts"), params={"$select": "ID,Code"}).json()["d"]
    assert len(page["results"]) == 1000 and "$skiptoken=" in page["__next"]
    assert len(api.get(page["__next"]).json()["d"]["results"]) == 3


def test_entity_by_key_is_d_without_results_with_metadata(sb, api):
    guid = seed_guid(1001, "GLAccounts", "8000")
    data = api.get(sb.api(f"financial/GLAccounts(guid'{guid}')")).json()["d"]
    assert data["Code"] == "8000" and data["Type"] == 110
    assert data["__metadata"] == {
        "uri": sb.api(f"financial/GLAccounts(guid'{guid}')"),
        "type": "Exact.Web.Api.Models.GLAccount",
    }


def test_post_is_201_with_full_entity_only_with_prefer_return_representation(sb, api):
    full = api.post(sb.api("crm/Accounts"), json={"Name": "Met Prefer"})
    assert full.status_code == 201 and full.json()["d"]["Name"] == "Met Prefer"
    bare = api.post(sb.api("crm/Accounts"), json={"Name": "Zonder"}, headers={"Prefer": ""})
    assert bare.status_code == 201
    assert bare.json()["d"]["ID"] and bare.json()["d"]["Name"] is None


def test_put_and_delete_answer_204_and_put_keeps_unsent_fields(sb, api):
    guid = api.post(sb.api("crm/Accounts"), json={"Name": "A", "City": "Delft"}).json()["d"]["ID"]
    put = api.put(sb.api(f"crm/Accounts(guid'{guid}')"), json={"Email": "a@example.com"})
    assert put.status_code == 204 and put.content == b""
    row = api.get(sb.api(f"crm/Accounts(guid'{guid}')")).json()["d"]
    assert (row["City"], row["Email"]) == ("Delft", "a@example.com")
    assert api.delete(sb.api(f"crm/Accounts(guid'{guid}')")).status_code == 204
    assert api.get(sb.api(f"crm/Accounts(guid'{guid}')")).status_code == 404


def test_count_is_plain_text_integer(sb, api):
    resp = api.get(sb.api("vat/VATCodes/$count"), params={"$filter": "Percentage eq 0"})
    assert resp.headers["Content-Type"].startswith("text/plain") and resp.text == "4"


def test_without_accept_json_the_answer_is_atom_xml(sb, api):
    resp = api.get(sb.api("vat/VATCodes"), headers={"Accept": "*/*"})
    assert resp.headers["Content-Type"].startswith("application/atom+xml")
    assert resp.text.count("<entry>") == 10 and "<d:Code>2  </d:Code>" in resp.text


def test_dates_come_as_slash_date_ms(sb, api):
    resp = new_entry(api, sb, [{"AmountFC": 10, "GLAccount": GL_8000}], EntryDate="2024-08-12")
    assert resp.json()["d"]["EntryDate"] == "/Date(1723420800000)/"


def test_lines_are_deferred_unless_expanded(sb, api):
    invoice = new_invoice(api, sb).json()["d"]
    key = f"salesinvoice/SalesInvoices(guid'{invoice['InvoiceID']}')"
    plain = api.get(sb.api(key)).json()["d"]
    assert plain["SalesInvoiceLines"]["__deferred"]["uri"].endswith(key + "/SalesInvoiceLines")
    expanded = api.get(sb.api(key), params={"$expand": "SalesInvoiceLines"}).json()["d"]
    assert len(expanded["SalesInvoiceLines"]["results"]) == 1
    assert len(api.get(sb.api(key + "/SalesInvoiceLines")).json()["d"]["results"]) == 1


# -- §3 queries -----------------------------------------------------------------------------
def test_select_is_mandatory_on_bulk_and_sync(sb, api):
    for path in (
        "bulk/CRM/Accounts",
        "sync/SalesInvoice/SalesInvoices",
        "bulk/Cashflow/Receivables",
    ):
        resp = api.get(sb.api(path))
        assert resp.status_code == 400
        assert (
            error_value(resp) == "Please add a $select or a $top=1 statement to the query string."
        )


def test_filter_grammar_literals_functions_and_logic(sb, api):
    api.post(sb.api("crm/Accounts"), json={"Name": "O'Brien & Zn", "Code": "255"})
    cases = {
        "Name eq 'O''Brien & Zn'": 1,
        "trim(Code) eq '255'": 1,
        "Code eq '               255'": 1,
        "substringof('brien',Name) eq true": 1,
        "startswith(Name,'Jansen') eq true": 1,
        "Status eq 'C' and (Country eq 'NL ' or Country eq 'BE ') and not (Blocked eq true)": 2,
        f"ID eq guid'{seed_guid(1001, 'Accounts', '1').upper()}'": 1,
        "Modified ge datetime'2020-01-01T00:00:00' and Timestamp gt 1L": 4,
        "Timestamp gt 5 and Status ne 'P'": 4,
    }
    for expr, expected in cases.items():
        resp = api.get(sb.api("crm/Accounts"), params={"$filter": expr, "$select": "ID"})
        assert resp.status_code == 200, (expr, resp.text)
        assert len(resp.json()["d"]["results"]) == expected, expr


@pytest.mark.parametrize(
    "path,expr,ok",
    [
        ("financial/Journals", "Type eq 20", True),
        ("financial/Journals", "Type eq 20L", True),  # Int64 literal, Int32 field
        ("financial/Journals", "Type eq '20'", False),  # Int32 vs String
        ("financial/Journals", "Code eq 70", False),  # String vs Int32
        ("vat/VATCodes", "Percentage gt 0", True),  # Double vs Int32: numbers compare
        ("vat/VATCodes", "Percentage ge 0.2", True),
        ("vat/VATCodes", "IsBlocked eq 'false'", False),  # Boolean vs String
        ("crm/Accounts", f"ID eq '{seed_guid(1001, 'Accounts', '1')}'", False),  # Guid vs String
        ("crm/Accounts", "Modified ge '2020-01-01'", False),  # DateTime vs String
        ("crm/Accounts", "Email eq null and trim(Code) eq '1'", True),
        ("crm/Accounts", "length(Name) gt '3'", False),
    ],
)
def test_filter_operands_of_different_types_are_a_400(sb, api, path, expr, ok):
    """OData v2: comparing an Int32 with a String (or any two incompatible types) is a
    400 "Operator 'eq' incompatible with operand types ...", never an empty list."""
    resp = api.get(sb.api(path), params={"$filter": expr, "$select": "ID"})
    if ok:
        assert resp.status_code == 200, (expr, resp.text)
    else:
        assert resp.status_code == 400, (expr, resp.text)
        assert re.match(
            r"Operator '\w+' incompatible with operand types '[^']+' and '[^']+' at position "
            r"\d+\.",
            error_value(resp),
        ), error_value(resp)


def test_documented_properties_are_accepted_read_only_ones_ignored(sb, api):
    """§6: an entity takes every property the Exact reference documents: writable ones
    are kept (InvoiceAttachmentType, BSN), read-only ones are ignored (IsPurchase,
    CountryName, Created); a name Exact does not have is refused."""
    body = {
        "Name": "Documented BV",
        "InvoiceAttachmentType": 2,
        "BSN": "123456782",
        "IsPurchase": True,
        "CountryName": "Nederland",
        "Created": "/Date(0)/",
    }
    created = api.post(sb.api("crm/Accounts"), json=body)
    assert created.status_code == 201, created.text
    guid = created.json()["d"]["ID"]
    key = sb.api(f"crm/Accounts(guid'{guid}')")
    select = "InvoiceAttachmentType,BSN,IsPurchase,CountryName,Created"
    row = api.get(key, params={"$select": select}).json()["d"]
    assert row["InvoiceAttachmentType"] == 2 and row["BSN"] == "123456782"
    assert row["IsPurchase"] is None and row["CountryName"] is None
    assert row["Created"] != "/Date(0)/"
    assert api.put(key, json={"InvoiceAttachmentType": 1, "IsSales": False}).status_code == 204
    row = api.get(key, params={"$select": "InvoiceAttachmentType,IsSales"}).json()["d"]
    assert row == {"__metadata": row["__metadata"], "InvoiceAttachmentType": 1, "IsSales": True}
    line = {"AmountFC": 10, "GLAccount": GL_8000, "StatisticalNumber": "84"}
    entry = new_entry(api, sb, [line], Banana="x")
    assert entry.status_code == 400 and "Banana" in error_value(entry)
    entry = new_entry(api, sb, [line])
    assert entry.status_code == 201, entry.text
    lines = api.get(
        sb.api("salesentry/SalesEntryLines"),
        params={"$filter": f"EntryID eq guid'{entry.json()['d']['EntryID']}'"},
    ).json()["d"]["results"]
    assert lines[0]["StatisticalNumber"] == "84"
    refused = api.post(sb.api("crm/Accounts"), json={"Name": "X", "IsCustomerOfTheYear": 1})
    assert refused.status_code == 400 and "IsCustomerOfTheYear" in error_value(refused)


@pytest.mark.parametrize(
    "path,body",
    [
        ("crm/Accounts", {"Name": "Nieuw BV"}),
        ("documents/Documents", {"Subject": "Factuur", "Type": 10}),
    ],
)
def test_new_records_have_created_and_modified(sb, api, path, body):
    created = api.post(sb.api(path), json=body)
    assert created.status_code == 201, created.text
    row = created.json()["d"]
    for stamp in ("Created", "Modified"):
        assert re.fullmatch(r"/Date\(\d+\)/", row[stamp] or ""), (stamp, row[stamp])


def test_new_entries_and_invoices_have_created(sb, api):
    entry = new_entry(api, sb, [{"AmountFC": 10, "GLAccount": GL_8000}]).json()["d"]
    invoice = new_invoice(api, sb).json()["d"]
    for row in (entry, invoice):
        assert row["Created"] and row["Modified"], row


def test_hrm_divisions_lists_the_consented_divisions_of_the_license(sb, api):
    resp = api.get(sb.api("hrm/Divisions"), params={"$select": "Code,Description,HID"})
    assert resp.status_code == 200, resp.text
    rows = resp.json()["d"]["results"]
    assert [(r["Code"], r["Description"]) for r in rows] == [
        (1001, "Sandbox BV"),
        (1002, "Sandbox Holding BV"),
    ]
    # Unlike system/Divisions, the division in the URI is an ordinary one: consent needed.
    assert api.get(sb.api("hrm/Divisions", 1003)).status_code == 403


def test_unknown_property_in_select_or_filter_is_400_type_has_no_property(sb, api):
    resp = api.get(sb.api("bulk/CRM/Accounts"), params={"$select": "ID,Nope"})
    assert resp.status_code == 400
    assert (
        error_value(resp)
        == "Type 'Exact.Web.Api.Models.Bulk.CRM.Account' does not have a property named 'Nope'."
    )
    resp = api.get(sb.api("vat/VATCodes"), params={"$filter": "Foo eq 1"})
    assert "does not have a property named 'Foo'" in error_value(resp)


def test_url_longer_than_6000_characters_is_400(sb, api):
    expr = " or ".join(f"YourRef eq 'INV/{n:06d}'" for n in range(300))
    resp = api.get(sb.api("salesentry/SalesEntries"), params={"$filter": expr})
    assert resp.status_code == 400


def test_mandatory_filtering_on_accounts_and_items(sb, api):
    for path in ("crm/Accounts", "logistics/Items"):
        resp = api.get(sb.api(path))
        assert resp.status_code == 400
        assert error_value(resp).startswith("This endpoint has mandatory filtering applied.")
    assert "Email" in error_value(api.get(sb.api("crm/Accounts")))
    assert (
        api.get(sb.api("logistics/Items"), params={"$filter": "Code eq 'BOOK'"}).status_code == 200
    )


# -- §6 entities ----------------------------------------------------------------------------
def test_account_code_is_padded_18_and_auto_max_plus_one_country_padded(sb, api):
    row = api.post(sb.api("crm/Accounts"), json={"Name": "Nieuw", "Country": "nl"}).json()["d"]
    assert row["Code"] == "4".rjust(18) and row["Country"] == "NL " and row["Status"] == "C"
    assert row["Blocked"] is False


def test_account_name_is_required(sb, api):
    resp = api.post(sb.api("crm/Accounts"), json={"Email": "x@example.com"})
    assert resp.status_code == 400 and error_value(resp) == "Verplicht: Naam"


def test_account_put_keeps_fields_not_sent_and_clears_fields_sent_as_null(sb, api):
    """§3: PUT answers 204 with an empty body; fields not sent are kept. A field sent as
    null is cleared: a client that must not blank data leaves the field out."""
    row = api.post(
        sb.api("crm/Accounts"),
        json={
            "Name": "Put BV",
            "VATNumber": "NL000099998B57",
            "ChamberOfCommerce": "12345678",
            "PaymentConditionSales": "30",
            "City": "Utrecht",
        },
    ).json()["d"]
    url = sb.api(f"crm/Accounts(guid'{row['ID']}')")
    resp = api.put(url, json={"Email": "put@example.nl"})
    assert resp.status_code == 204 and resp.content == b""
    after = api.get(sb.api("crm/Accounts"), params={"$filter": f"ID eq guid'{row['ID']}'"})
    after = after.json()["d"]["results"][0]
    assert after["Email"] == "put@example.nl" and after["Name"] == "Put BV"
    assert (after["VATNumber"], after["ChamberOfCommerce"], after["PaymentConditionSales"]) == (
        "NL000099998B57",
        "12345678",
        "30",
    )
    assert api.put(url, json={"City": None}).status_code == 204
    after = api.get(sb.api("crm/Accounts"), params={"$filter": f"ID eq guid'{row['ID']}'"})
    assert after.json()["d"]["results"][0]["City"] is None
    assert api.put(url, json={"Name": ""}).status_code == 400  # the name stays required


def test_vat_codes_padded_to_3_with_several_zero_percent_codes(sb, api):
    rows = api.get(sb.api("vat/VATCodes")).json()["d"]["results"]
    by_code = {r["Code"]: r for r in rows}
    assert by_code["2  "]["Percentage"] == 0.21 and by_code["1  "]["Percentage"] == 0.09
    zero_sales = [
        r["Code"] for r in rows if r["Percentage"] == 0 and r["VATTransactionType"] == "S"
    ]
    assert sorted(zero_sales) == ["0  ", "4  ", "5  ", "7  "]
    assert by_code["4  "]["Type"] == "B"
    assert any(r["VATTransactionType"] == "P" for r in rows) and any(r["IsBlocked"] for r in rows)


def test_journals_by_code_with_sales_type_20(sb, api):
    rows = api.get(sb.api("financial/Journals")).json()["d"]["results"]
    assert {r["Code"]: r["Type"] for r in rows} == {
        "70": 20,
        "71": 20,
        "90": 90,
        "10": 10,
        "60": 22,
    }


def test_salesinvoice_missing_fields_are_dutch_messages_joined_by_crlf(sb, api):
    resp = api.post(sb.api("salesinvoice/SalesInvoices"), json={"Journal": "70"})
    assert resp.status_code == 400
    assert error_value(resp) == "Verplicht: Factuur voor\r\nVerplicht: Besteld door"
    assert resp.json()["error"]["code"] == "" and resp.json()["error"]["message"]["lang"] == ""


def test_salesinvoice_unknown_orderedby_is_500_ongeldige_referentie(sb, api):
    resp = api.post(
        sb.api("salesinvoice/SalesInvoices"),
        json={
            "Journal": "70",
            "OrderedBy": "00000000-0000-0000-0000-000000000001",
            "SalesInvoiceLines": [{"Item": item_id(api, sb)}],
        },
    )
    assert resp.status_code == 500 and error_value(resp) == "Ongeldige referentie: Besteld door"


def test_salesinvoice_lines_must_be_an_array_with_item(sb, api):
    body = {"Journal": "70", "OrderedBy": account_id(api, sb), "SalesInvoiceLines": {"Item": "x"}}
    resp = api.post(sb.api("salesinvoice/SalesInvoices"), json=body)
    assert resp.status_code == 400 and error_value(resp).startswith(
        "Error processing request stream"
    )
    body["SalesInvoiceLines"] = [{"Quantity": 1}]
    assert (
        error_value(api.post(sb.api("salesinvoice/SalesInvoices"), json=body))
        == "Verplicht: Artikel"
    )


def test_salesinvoice_is_open_20_with_order_number_and_no_invoice_number(sb, api):
    first = new_invoice(api, sb, quantity=3).json()["d"]
    second = new_invoice(api, sb).json()["d"]
    assert first["Status"] == 20 and first["InvoiceNumber"] is None and first["Type"] == 8020
    assert second["OrderNumber"] == first["OrderNumber"] + 1
    assert (first["AmountFCExclVat"], first["VATAmountFC"], first["AmountFC"]) == (
        285.0,
        59.85,
        344.85,
    )


def test_salesinvoice_negative_total_is_credit_note_8021(sb, api):
    assert new_invoice(api, sb, quantity=-1).json()["d"]["Type"] == 8021


def test_printed_salesinvoice_processes_to_50_with_never_reused_number_and_entry(sb, api):
    invoice = new_invoice(api, sb, YourRef="ODOO/1").json()["d"]
    resp = api.post(
        sb.api("salesinvoice/PrintedSalesInvoices"), json={"InvoiceID": invoice["InvoiceID"]}
    )
    assert resp.status_code == 201
    key = sb.api(f"salesinvoice/SalesInvoices(guid'{invoice['InvoiceID']}')")
    done = api.get(key).json()["d"]
    number = done["InvoiceNumber"]
    assert done["Status"] == 50 and 70000000 < number < 71000000  # journal 70's numbering
    entries = api.get(sb.api("salesentry/SalesEntries"), params={"$filter": "YourRef eq 'ODOO/1'"})
    assert entries.json()["d"]["results"][0]["EntryNumber"] == number
    assert api.put(key, json={"Description": "late"}).status_code == 400
    sb.control("reset", {"service": "exact"})
    api2 = sb.session()
    invoice = new_invoice(api2, sb).json()["d"]
    printed = sb.control(f"exact/salesinvoices/{invoice['InvoiceID']}/print").json()
    assert printed["InvoiceNumber"] == number + 1  # never handed out twice, even after a reset


def test_salesentry_journal_must_be_a_sales_journal_else_500(sb, api):
    resp = new_entry(api, sb, [{"AmountFC": 1, "GLAccount": GL_8000}], Journal="90")
    assert resp.status_code == 500 and error_value(resp) == "Ongeldige referentie: Journals"


def test_salesentry_vat_per_line_rounded_unless_vatamountfc_given(sb, api):
    lines = [
        {"AmountFC": "10.05", "GLAccount": GL_8000, "VATCode": "2"},
        {"AmountFC": 10.05, "GLAccount": GL_8000, "VATCode": "2  ", "VATAmountFC": "2.10"},
    ]
    entry = new_entry(api, sb, lines, YourRef="INV/9").json()["d"]
    assert entry["AmountFC"] == 24.31  # read back incl. VAT: 10.05 + 2.11 + 10.05 + 2.10
    assert entry["VATAmountFC"] == 4.21 and entry["Type"] == 20 and entry["YourRef"] == "INV/9"
    assert entry["EntryNumber"] > 70000000 and entry["InvoiceNumber"] == entry["EntryNumber"]


def test_salesentry_negative_total_is_type_21(sb, api):
    entry = new_entry(api, sb, [{"AmountFC": -50, "GLAccount": GL_8000}]).json()["d"]
    assert entry["Type"] == 21 and entry["AmountFC"] == -60.5


def test_currencies_eur_usd_gbp_accepted_unknown_is_400(sb, api):
    entry = new_entry(
        api, sb, [{"AmountFC": 100, "GLAccount": GL_8000, "VATCode": "0"}], Currency="USD", Rate=0.9
    ).json()["d"]
    assert (entry["Currency"], entry["AmountFC"], entry["AmountDC"]) == ("USD", 100.0, 90.0)
    resp = new_entry(api, sb, [{"AmountFC": 1, "GLAccount": GL_8000}], Currency="XYZ")
    assert resp.status_code == 400


def test_documents_and_attachments_base64_with_10mb_limit(sb, api):
    doc = api.post(sb.api("documents/Documents"), json={"Subject": "Factuur", "Type": 10}).json()[
        "d"
    ]
    small = base64.b64encode(b"%PDF-1.4 test").decode()
    resp = api.post(
        sb.api("documents/DocumentAttachments"),
        json={"Document": doc["ID"], "FileName": "f.pdf", "Attachment": small},
    )
    assert resp.status_code == 201
    big = base64.b64encode(b"0" * (10 * 1024 * 1024 + 1)).decode()
    resp = api.post(
        sb.api("documents/DocumentAttachments"),
        json={"Document": doc["ID"], "FileName": "big.pdf", "Attachment": big},
    )
    assert resp.status_code == 400
    entry = new_entry(api, sb, [{"AmountFC": 1, "GLAccount": GL_8000}], Document=doc["ID"])
    assert entry.json()["d"]["Document"] == doc["ID"]


def test_receivables_follow_entries_and_paid_ones_drop_out_of_receivables_list(sb, api):
    entry = new_entry(api, sb, [{"AmountFC": 100, "GLAccount": GL_8000}], YourRef="R1").json()["d"]
    params = {
        "$filter": f"TransactionEntryID eq guid'{entry['EntryID']}'",
        "$select": "IsFullyPaid,Status,AmountDC,InvoiceNumber,YourRef",
    }
    rec = api.get(sb.api("cashflow/Receivables"), params=params).json()["d"]["results"][0]
    assert (rec["IsFullyPaid"], rec["Status"], rec["AmountDC"], rec["YourRef"]) == (
        False,
        20,
        121.0,
        "R1",
    )
    assert len(api.get(sb.api("read/financial/ReceivablesList")).json()["d"]["results"]) == 1
    part = sb.control(f"exact/receivables/{entry['EntryID']}/pay", {"amount": 21}).json()
    assert part["IsFullyPaid"] is False
    listed = api.get(sb.api("read/financial/ReceivablesList")).json()["d"]["results"]
    assert listed[0]["Amount"] == 100.0
    assert sb.control(f"exact/receivables/{entry['EntryID']}/pay").json()["IsFullyPaid"] is True
    assert api.get(sb.api("read/financial/ReceivablesList")).json()["d"]["results"] == []
    bulk = api.get(sb.api("bulk/Cashflow/Receivables"), params={"$select": "IsFullyPaid,Status"})
    assert bulk.json()["d"]["results"][0] == {
        "__metadata": bulk.json()["d"]["results"][0]["__metadata"],
        "IsFullyPaid": True,
        "Status": 50,
    }


def test_sync_salesinvoices_timestamp_rows_headers_and_lines(sb, api):
    new_invoice(api, sb)
    params = {"$select": "ID,InvoiceID,LineNumber,Timestamp", "$filter": "Timestamp gt 1L"}
    rows = api.get(sb.api("sync/SalesInvoice/SalesInvoices"), params=params).json()["d"]["results"]
    assert sorted(r["LineNumber"] for r in rows) == [0, 1]
    high = max(r["Timestamp"] for r in rows)
    params["$filter"] = f"Timestamp gt {high}L"
    assert (
        api.get(sb.api("sync/SalesInvoice/SalesInvoices"), params=params).json()["d"]["results"]
        == []
    )
    params["$filter"] = "YourRef eq 'x'"
    assert api.get(sb.api("sync/SalesInvoice/SalesInvoices"), params=params).status_code == 400


def test_unknown_key_is_404_and_wrong_method_405(sb, api):
    missing = sb.api("salesentry/SalesEntries(guid'00000000-0000-0000-0000-000000000000')")
    assert api.get(missing).status_code == 404
    assert (
        api.delete(sb.api(f"vat/VATCodes(guid'{seed_guid(1001, 'VATCodes', '2')}')")).status_code
        == 405
    )


# -- §4 rate limits -------------------------------------------------------------------------
def test_rate_limit_six_headers_in_epoch_ms_on_division_responses(sb, api):
    headers = api.get(sb.api("vat/VATCodes")).headers
    assert headers["X-RateLimit-Limit"] == "5000" and headers["X-RateLimit-Remaining"] == "4999"
    assert headers["X-RateLimit-Minutely-Limit"] == "60"
    assert int(headers["X-RateLimit-Reset"]) % 86400000 == 0  # next UTC midnight, in ms
    assert int(headers["X-RateLimit-Minutely-Reset"]) % 60000 == 0  # window aligned to the minute
    assert api.get(sb.api("nope/Nothing")).headers.get("X-RateLimit-Minutely-Limit") == "60"


def test_minutely_429_has_only_minutely_headers_and_empty_body(sb, api):
    sb.control("exact/config", {"minute_window": 2, "minutely_limit": 3})
    sb.advance(2 - (requests.get(sb.url + "/_sandbox/clock").json()["now"] % 2) + 0.01)
    codes = [api.get(sb.api("vat/VATCodes")).status_code for _ in range(3)]
    over = api.get(sb.api("vat/VATCodes"))
    assert codes == [200] * 3 and over.status_code == 429 and over.content == b""
    assert "X-RateLimit-Minutely-Reset" in over.headers and "X-RateLimit-Limit" not in over.headers
    assert api.get(sb.api("vat/VATCodes", 1002)).status_code == 200  # per division
    sb.advance(2)
    assert api.get(sb.api("vat/VATCodes")).status_code == 200


def test_daily_limit_gives_429_until_the_utc_day_ends(sb, api):
    sb.control("exact/config", {"daily_limit": 2})
    assert [api.get(sb.api("vat/VATCodes")).status_code for _ in range(3)] == [200, 200, 429]
    reset_ms = int(api.get(sb.api("vat/VATCodes")).headers["X-RateLimit-Reset"])
    now = requests.get(sb.url + "/_sandbox/clock").json()["now"]
    sb.advance(reset_ms / 1000 - now + 1)
    api = sb.session()
    assert api.get(sb.api("vat/VATCodes")).status_code == 200


def test_rate_limit_disabled_still_sends_generous_headers(sb, api):
    sb.control("exact/config", {"rate_limit_enabled": False, "minutely_limit": 1})
    codes = [api.get(sb.api("vat/VATCodes")).status_code for _ in range(3)]
    assert codes == [200] * 3
    assert int(api.get(sb.api("vat/VATCodes")).headers["X-RateLimit-Minutely-Remaining"]) > 1000


def test_error_cap_blocks_an_endpoint_after_10_errors_in_an_hour(sb, api):
    sb.control("exact/config", {"error_cap": True})
    for _ in range(11):
        assert api.post(sb.api("crm/Accounts"), json={}).status_code == 400
    blocked = api.post(sb.api("crm/Accounts"), json={"Name": "ok"})
    assert blocked.status_code == 403
    assert api.get(sb.api("vat/VATCodes")).status_code == 200  # other endpoints still work
    sb.advance(3600)
    assert sb.session().post(sb.api("crm/Accounts"), json={"Name": "ok"}).status_code == 201


# -- faults and stats -------------------------------------------------------------------------
def test_throttle_next_fault_is_429_with_minutely_headers(sb, api):
    sb.control("faults/exact", {"throttle_next": 1})
    resp = api.get(sb.api("vat/VATCodes"))
    assert resp.status_code == 429 and resp.headers["X-RateLimit-Minutely-Remaining"] == "0"
    assert api.get(sb.api("vat/VATCodes")).status_code == 200


def test_lose_next_creates_applies_the_post_but_drops_the_connection(sb, api):
    sb.control("faults/exact", {"lose_next_creates": 1})
    with pytest.raises(requests.ConnectionError):
        new_entry(api, sb, [{"AmountFC": 5, "GLAccount": GL_8000}], YourRef="LOST-1")
    found = api.get(sb.api("salesentry/SalesEntries"), params={"$filter": "YourRef eq 'LOST-1'"})
    assert len(found.json()["d"]["results"]) == 1


def test_stats_count_calls_per_pattern_and_429s(sb, api):
    sb.control("stats/exact/reset")
    sb.control("faults/exact", {"throttle_next": 1})
    api.get(sb.api("vat/VATCodes"))
    api.get(sb.api("vat/VATCodes"))
    stats = requests.get(sb.url + "/_sandbox/stats/exact").json()
    assert stats["requests"]["GET /api/v1/{n}/vat/VATCodes"] == 2 and stats["throttled"] == 1
