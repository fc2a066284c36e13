"""Contract tests of the Asperion simulator: one test per fact of /work/shared/api/asperion.md.

Each docstring cites the section of asperion.md it checks ([I] = our proposed contract).
Real HTTP against ``start_in_thread()``; the shared clock replaces sleeping.
"""

import pytest
import requests

REDIRECT = "http://localhost:8069/asperion/oauth/callback"
CLIENT = {"client_id": "sandbox-client", "client_secret": "sandbox-secret"}


@pytest.fixture(autouse=True)
def fresh(server):
    requests.post(f"{server.url}/_sandbox/reset", json={"service": "asperion"}).raise_for_status()
    requests.post(
        f"{server.url}/_sandbox/asperion/clients", json={"redirect_uris": [REDIRECT]}
    ).raise_for_status()


@pytest.fixture()
def http():
    with requests.Session() as session:
        yield session


def control(server, path, body=None):
    resp = requests.post(f"{server.url}/_sandbox/{path}", json=body or {})
    return resp


def get_code(server, state="s1", **extra):
    body = {"client_id": "sandbox-client", "redirect_uri": REDIRECT, "state": state, **extra}
    resp = control(server, "asperion/consent", body)
    assert resp.status_code == 200, resp.text
    return resp.json()


def token_call(server, **form):
    return requests.post(f"{server.url}/asperion/identity/connect/token", data={**CLIENT, **form})


def tokens(server):
    code = get_code(server)["code"]
    resp = token_call(server, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert resp.status_code == 200, resp.text
    return resp.json()


class Api:
    def __init__(self, server, session, token):
        self.base = f"{server.url}/asperion/api"
        self.session, self.token = session, token

    def __call__(self, method, path, tenant=None, lang=None, **kw):
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        if tenant is not None:
            headers["X-Tenant-Id"] = str(tenant)
        if lang:
            headers["Accept-Language"] = lang
        url = path if path.startswith("http") else self.base + path
        return self.session.request(method, url, headers=headers, timeout=10, **kw)


@pytest.fixture()
def api(server, http):
    return Api(server, http, tokens(server)["access_token"])


def assert_problem(resp, status):
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    body = resp.json()
    for key in ("type", "title", "status", "detail", "traceId"):
        assert key in body
    assert body["status"] == status
    return body


def draft_body(debtor_id=1, **extra):
    lines = [
        {"bookingType": "A", "articleSku": "ADVIES", "quantity": 2, "vatCode": "VH"},
        {
            "bookingType": "G",
            "ledgerAccountId": 8020,
            "quantity": 3,
            "price": 10.01,
            "vatCode": "VL",
            "description": "Boeken",
        },
        {"bookingType": "T", "description": "Bedankt voor uw opdracht"},
    ]
    return {
        "debtorId": debtor_id,
        "date": "2026-02-01",
        "description": "INV/2026/00001",
        "lines": {"_data": lines},
        **extra,
    }


def final_body(number="INV/2026/00001", debtor_id=1, amount=100.0, **line):
    return {
        "invoiceNumber": number,
        "debtorId": debtor_id,
        "date": "2026-02-01",
        "description": number,
        "lines": {
            "_data": [
                {
                    "ledgerAccountId": 8000,
                    "amount": amount,
                    "vatCode": "VH",
                    "description": "Omzet",
                    **line,
                }
            ]
        },
    }


# -- §2 OAuth2 ------------------------------------------------------------------------------
def test_authorize_shows_login_and_yes_allow_consent_then_redirects_with_code(server):
    """§2: login, consent screen ("Yes, Allow"), redirect back with a code (and state)."""
    url = f"{server.url}/asperion/identity/connect/authorize"
    params = {
        "client_id": "sandbox-client",
        "redirect_uri": REDIRECT,
        "state": "abc",
        "response_type": "code",
        "scope": "openid offline_access",
    }
    page = requests.get(url, params=params)
    assert page.status_code == 200 and "Yes, Allow" in page.text and "password" in page.text
    resp = requests.post(url, data={**params, "consent": "yes"}, allow_redirects=False)
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith(REDIRECT + "?code=") and location.endswith("state=abc")


def test_redirect_uri_must_equal_the_registered_one(server):
    """§2: IdentityServer only redirects to a registered redirect URI, compared exactly;
    any other one gets its error page (no redirect, no code)."""
    url = f"{server.url}/asperion/identity/connect/authorize"
    for other in (REDIRECT + "/", REDIRECT.replace("8069", "8070"), REDIRECT + "?x=1"):
        params = {"client_id": "sandbox-client", "redirect_uri": other, "response_type": "code"}
        page = requests.get(url, params=params, allow_redirects=False)
        assert page.status_code == 400 and "Invalid redirect_uri" in page.text
        post = requests.post(url, data={**params, "consent": "yes"}, allow_redirects=False)
        assert post.status_code == 400 and "Location" not in post.headers
        consent = control(server, "asperion/consent", {**params, "state": "s"})
        assert consent.status_code == 400
    code = get_code(server)["code"]
    other = token_call(
        server, grant_type="authorization_code", code=code, redirect_uri=REDIRECT + "/"
    )
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"


def test_consent_control_is_the_non_interactive_yes_allow(server):
    """contracts.md: POST /_sandbox/asperion/consent -> {"redirect": uri?code&state}."""
    body = get_code(server, state="xyz")
    assert body["redirect"].startswith(REDIRECT + "?code=")
    assert body["redirect"].endswith("&state=xyz")


def test_token_client_credentials_go_in_the_form_body(server):
    """§2: client_id/client_secret in the form body; a wrong one -> 400 invalid_client."""
    code = get_code(server)["code"]
    bad = requests.post(
        f"{server.url}/asperion/identity/connect/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": "sandbox-client",
            "client_secret": "wrong",
        },
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_client"
    good = token_call(server, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    body = good.json()
    assert good.status_code == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["access_token"] and body["refresh_token"] and "scope" in body


def test_authorization_code_is_single_use(server):
    """§2 [I] IdentityServer: a code is used once; errors are 400 {error, error_description}."""
    code = get_code(server)["code"]
    first = token_call(server, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    again = token_call(server, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert first.status_code == 200
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant" and again.json()["error_description"]


def test_authorization_code_expires_after_300_seconds(server):
    """§2 [I]: code lifetime 300 s (IdentityServer default)."""
    code = get_code(server)["code"]
    server.app.clock.advance(301)
    resp = token_call(server, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_access_token_expires_after_its_configurable_lifetime(server, http):
    """§2 [I]: access token 3600 s, configurable; an expired token -> 401 ProblemDetails."""
    control(server, "asperion/config", {"access_token_lifetime": 120})
    body = tokens(server)
    assert body["expires_in"] == 120
    api = Api(server, http, body["access_token"])
    assert api("GET", "/v1/administrations").status_code == 200
    server.app.clock.advance(121)
    assert_problem(api("GET", "/v1/administrations"), 401)


def test_refresh_tokens_rotate_and_the_old_one_dies(server):
    """§2 [I]: refresh tokens are issued and (possibly) rotate: the old one -> invalid_grant."""
    first = tokens(server)
    second = token_call(server, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    reuse = token_call(server, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    third = token_call(
        server, grant_type="refresh_token", refresh_token=second.json()["refresh_token"]
    )
    assert third.status_code == 200


def test_revoked_fault_refuses_refresh_and_api_calls(server, http):
    """contracts.md faults.revoked: invalid_grant on the token endpoint, 401 on the API."""
    body = tokens(server)
    control(server, "faults/asperion", {"revoked": True})
    refresh = token_call(server, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    assert_problem(Api(server, http, body["access_token"])("GET", "/v1/debtors"), 401)


def test_expire_tokens_after_fault_kills_tokens_before_their_expires_in(server, http):
    """A server may expire a token before its expires_in (fault ``expire_tokens_after``);
    the refresh token still works and gives a new pair."""
    body = tokens(server)
    control(server, "faults/asperion", {"expire_tokens_after": 60})
    api = Api(server, http, body["access_token"])
    server.app.clock.advance(59)
    assert api("GET", "/v1/administrations").status_code == 200
    server.app.clock.advance(2)
    assert_problem(api("GET", "/v1/administrations"), 401)
    fresh = token_call(server, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert fresh.status_code == 200 and fresh.json()["expires_in"] == 3600
    assert Api(server, http, fresh.json()["access_token"])("GET", "/v1/administrations").ok


# -- §3 tenants -------------------------------------------------------------------------------
def test_tenant_header_accepts_both_spellings(api):
    """§3: X-TenantId (S1) and X-Tenant-Id (S2, S3) both select the administration."""
    one = api("GET", "/v1/debtors", headers={"X-TenantId": "102"}).json()
    two = api("GET", "/v1/debtors", headers={"X-Tenant-Id": "102"}).json()
    assert one["_meta"]["administrationId"] == two["_meta"]["administrationId"] == 102
    assert one["_meta"]["administrationName"] == "Tweede BV"


def test_without_tenant_header_the_default_administration_answers(api):
    """§3: after login the default administration is active; no header -> 101."""
    meta = api("GET", "/v1/debtors").json()["_meta"]
    assert meta["administrationId"] == 101 and meta["administrationName"] == "Demo BV"


def test_unreachable_administration_is_403_problem_details(api):
    """§3 [I]: 403 for an administration the user cannot reach (103 exists, not reachable)."""
    assert_problem(api("GET", "/v1/debtors", tenant=103), 403)
    ids = [a["id"] for a in api("GET", "/v1/administrations").json()["_data"]]
    assert ids == [101, 102]


def test_config_revoke_administration_simulates_lost_access(server, api):
    """contracts.md: {"revoke_administration": 101} -> 403 for 101, 102 still works."""
    control(server, "asperion/config", {"revoke_administration": 101})
    assert_problem(api("GET", "/v1/debtors", tenant=101), 403)
    assert api("GET", "/v1/debtors", tenant=102).status_code == 200
    control(server, "asperion/config", {"restore_administration": 101})
    assert api("GET", "/v1/debtors", tenant=101).status_code == 200


# -- §4 lists, paging, filters, errors --------------------------------------------------------
def test_list_envelope_has_data_meta_and_item_self(api):
    """§4: {"_data":[..], "_meta":{administrationId, ..., self}}; each item has _meta.self."""
    body = api("GET", "/v1/debtors").json()
    assert set(body) == {"_data", "_meta"}
    assert set(body["_meta"]) == {
        "administrationId",
        "administrationName",
        "profileName",
        "previousPage",
        "nextPage",
        "totalCount",
        "pageCount",
        "self",
    }
    item = body["_data"][0]
    assert item["_meta"]["self"].endswith(f"/asperion/api/v1/debtors/{item['id']}")


def test_paging_is_one_based_and_next_page_is_absolute_until_null(api):
    """§4: nextPage is a URL with page=N; follow it until null. Pages are 1-based [I]."""
    url, seen, pages = "/v1/vatcodes?pageSize=3", [], 0
    while url:
        body = api("GET", url).json()
        seen += [v["id"] for v in body["_data"]]
        pages += 1
        url = body["_meta"]["nextPage"]
        assert url is None or url.startswith("http://")
    assert pages == body["_meta"]["pageCount"] == 4
    assert len(seen) == len(set(seen)) == body["_meta"]["totalCount"] == 10
    first = api("GET", "/v1/vatcodes?pageSize=3&page=1").json()
    assert first["_meta"]["previousPage"] is None and first["_data"][0]["id"] == "VH"


def test_page_size_defaults_to_25_and_is_capped_at_100(api):
    """§4 [I]: default pageSize 25 (the real default is unknown), max 100."""
    for i in range(27):
        assert (
            api(
                "POST",
                "/v1/debtors",
                tenant=102,
                json={"name": f"Klant {i}", "debtorKindId": "DEB"},
            ).status_code
            == 201
        )
    default = api("GET", "/v1/debtors", tenant=102).json()
    assert len(default["_data"]) == 25 and default["_meta"]["totalCount"] == 28
    big = api("GET", "/v1/debtors?pageSize=1000", tenant=102).json()
    assert len(big["_data"]) == 28 and big["_meta"]["pageCount"] == 1


def test_get_by_id_returns_the_bare_object(api):
    """§4: GET /v1/<res>/{id} returns the bare object, no envelope."""
    body = api("GET", "/v1/debtors/1").json()
    assert "_data" not in body and body["id"] == 1 and body["customerNumber"] == "1001"
    assert api("GET", "/v1/vatcodes/VH").json()["percentage"] == 21.0


def test_paths_and_query_keys_are_case_insensitive(api):
    """§3 [I]: mixed path casing (/v1/SalesTypes) and query keys match case-insensitively."""
    body = api("GET", "/V1/VatCodes?SALESCODE=false&PAGESIZE=2").json()
    assert len(body["_data"]) == 2 and not body["_data"][0]["salesCode"]
    assert api("GET", "/v1/SalesTypes").status_code == 200


def test_filter_comparison_operators(api):
    """§4: <Field>_comparison = Contains|Equals|NotEquals|StartsWith|EndsWith (default
    Contains for text; Equals for numbers and ids [I])."""

    def names(query):
        return [d["name"] for d in api("GET", "/v1/debtors?" + query).json()["_data"]]

    assert names("Name=bv") == ["Acme BV"]
    assert names("Name=Acme&Name_comparison=Equals") == []
    assert names("Name=acme bv&Name_comparison=Equals") == ["Acme BV"]
    assert names("Name=Bakkerij&Name_comparison=StartsWith") == ["Bakkerij De Vries"]
    assert names("Name=NV&Name_comparison=EndsWith") == ["Brussels Trading NV"]
    assert len(names("Name=Acme BV&Name_comparison=NotEquals")) == 2
    assert names("Id=1") == ["Acme BV"]
    assert names("CustomerNumber=1002") == ["Bakkerij De Vries"]
    assert names("VatNumber=BE0123456789") == ["Brussels Trading NV"]
    assert names("CocNumber=12345678") == ["Acme BV"]
    assert names("EmailAddress=devries@") == ["Bakkerij De Vries"]


def test_date_from_and_to_filters(api):
    """§4: <Field>_from/_to for dates (seen on DateAdded; on every date field [I])."""
    api("POST", "/v1/salesinvoiceswithlines", json=final_body())
    body = api("GET", "/v1/salesinvoices?Date_from=2026-01-01&Date_to=2026-12-31").json()
    assert [i["invoiceNumber"] for i in body["_data"]] == ["INV/2026/00001"]
    old = api("GET", "/v1/salesinvoices?Date_to=2025-12-31").json()["_data"]
    assert {i["invoiceNumber"] for i in old} == {"20250001", "20250002"}


def test_errors_are_problem_details_with_field_errors(api):
    """§4: ProblemDetails {type,title,status,detail,traceId,errors:{Field:[msg]}}."""
    body = assert_problem(api("POST", "/v1/debtors", json={}), 400)
    assert set(body["errors"]) == {"Name", "DebtorKindId"}
    assert all(isinstance(msgs, list) and msgs for msgs in body["errors"].values())


def test_error_texts_are_dutch_by_default_and_english_on_request(api):
    """§3: Accept-Language nl-NL|en-US sets the language of error messages (default nl)."""
    nl = assert_problem(api("POST", "/v1/debtors", json={"debtorKindId": "DEB"}), 400)
    en = assert_problem(api("POST", "/v1/debtors", lang="en-US", json={"debtorKindId": "DEB"}), 400)
    assert nl["errors"]["Name"] == ["Het veld Name is verplicht."]
    assert en["errors"]["Name"] == ["The Name field is required."]
    assert "validatiefouten" in nl["title"] and "validation" in en["title"]


def test_missing_token_is_401_and_unknown_id_is_404(server, http):
    """§4 [I]: codes 401 (missing/expired token) and 404."""
    assert_problem(http.get(f"{server.url}/asperion/api/v1/debtors"), 401)
    api = Api(server, http, tokens(server)["access_token"])
    assert_problem(api("GET", "/v1/debtors/999999"), 404)
    assert_problem(api("GET", "/v1/nosuchthing"), 404)


# -- §5 master data ---------------------------------------------------------------------------
def test_vatcodes_have_sales_and_purchase_codes(api):
    """§5 vatcodes: id string, description, salesCode, percentage, isDefault, validFrom,
    validUntil, countryCode; filter SalesCode=true for sales codes."""
    sales = api("GET", "/v1/vatcodes?SalesCode=true&pageSize=100").json()["_data"]
    by_id = {v["id"]: v for v in sales}
    assert {"VH", "VL", "V0", "VEU", "VEX"} <= set(by_id)
    assert (by_id["VH"]["percentage"], by_id["VL"]["percentage"]) == (21.0, 9.0)
    purchase = api("GET", "/v1/vatcodes?SalesCode=false").json()["_data"]
    assert purchase and not any(v["salesCode"] for v in purchase)
    keys = {
        "id",
        "description",
        "salesCode",
        "percentage",
        "isDefault",
        "validFrom",
        "validUntil",
        "countryCode",
        "_meta",
    }
    assert set(sales[0]) == keys


@pytest.mark.parametrize(
    "resource, key, value",
    [
        ("salestypes", "id", 1),
        ("debtorkinds", "id", "DEB"),
        ("debtorkinds", "id", "BUI"),
        ("paymentconditions", "days", 30),
        ("paymentmethod", "id", "FAC"),
        ("journals", "id", "70"),
        ("journals", "type", "M"),
        ("journals", "type", "K"),
        ("ledgeraccounts", "id", 8000),
        ("ledgeraccounts", "id", 8100),
        ("articles", "sku", "ADVIES"),
        ("countries", "id", "BE"),
        ("costcenters", "id", 1),
    ],
)
def test_master_data_is_seeded(api, resource, key, value):
    """§5 / §7 fixtures: salestypes, debtorkinds, paymentconditions, paymentmethod, journals,
    ledgeraccounts, articles, countries, costcenters."""
    rows = api("GET", f"/v1/{resource}?pageSize=100").json()["_data"]
    assert any(row[key] == value for row in rows)


# -- §5 debtors -------------------------------------------------------------------------------
def test_debtor_needs_a_valid_debtor_kind_and_country(api):
    """§5: a debtor kind is required [C:S1]; country codes must appear in /v1/countries."""
    body = assert_problem(
        api("POST", "/v1/debtors", json={"name": "X", "debtorKindId": "NOPE", "countryCode": "ZZ"}),
        400,
    )
    assert set(body["errors"]) == {"DebtorKindId", "CountryCode"}


def test_customer_number_is_assigned_increasing_and_never_reused(server, api):
    """§5 [I]: customerNumber auto-assigned (string), increasing; a number handed out never
    comes back, not even after a reset."""
    first = api("POST", "/v1/debtors", json={"name": "Een", "debtorKindId": "DEB"}).json()
    second = api("POST", "/v1/debtors", json={"name": "Twee", "debtorKindId": "DEB"}).json()
    assert isinstance(first["customerNumber"], str)
    assert int(second["customerNumber"]) > int(first["customerNumber"]) > 1003
    control(server, "reset", {"service": "asperion"})
    api.token = tokens(server)["access_token"]
    third = api("POST", "/v1/debtors", json={"name": "Drie", "debtorKindId": "DEB"}).json()
    assert int(third["customerNumber"]) > int(second["customerNumber"])


def test_debtor_put_replaces_the_whole_record(api):
    """§5 [I], strict reading: PUT /v1/debtors/{id} replaces the debtor; a field left out
    becomes empty (issue 7 point 1: a partial PUT blanked VAT, KvK and payment condition).
    The full record read back and sent again changes nothing."""
    acme = api("GET", "/v1/debtors/1").json()
    assert acme["vatNumber"] and acme["cocNumber"] and acme["paymentConditionId"] == 2
    resp = api(
        "PUT",
        "/v1/debtors/1",
        json={
            "name": "Acme BV",
            "debtorKindId": "DEB",
            "customerNumber": "1001",
            "emailAddress": "nieuw@acme.example",
        },
    )
    assert resp.status_code == 200
    body = api("GET", "/v1/debtors/1").json()
    assert body["emailAddress"] == "nieuw@acme.example" and body["name"] == "Acme BV"
    assert (body["vatNumber"], body["cocNumber"], body["paymentConditionId"]) == (None, None, None)
    assert (body["address"], body["city"], body["countryCode"]) == (None, None, None)
    assert body["id"] == 1 and body["dateAdded"] == acme["dateAdded"]

    # read, merge, write: everything else stays
    devries = api("GET", "/v1/debtors/2").json()
    merged = {k: v for k, v in devries.items() if k not in ("_meta", "id", "dateLastChange")}
    merged["emailAddress"] = "nieuw@bakkerij.example"
    assert api("PUT", "/v1/debtors/2", json=merged).status_code == 200
    after = api("GET", "/v1/debtors/2").json()
    assert after["emailAddress"] == "nieuw@bakkerij.example"
    same = (
        "name",
        "customerNumber",
        "address",
        "postCode",
        "city",
        "countryCode",
        "paymentConditionId",
        "paymentMethodId",
        "debtorKindId",
        "dateAdded",
    )
    assert {k: after[k] for k in same} == {k: devries[k] for k in same}


def test_debtor_put_checks_the_replaced_record(api):
    """A replacing PUT still needs the required fields: name, debtor kind and the debtor's
    customer number (left out, the debtor would lose it)."""
    body = assert_problem(api("PUT", "/v1/debtors/2", json={"emailAddress": "x@y.example"}), 400)
    assert {"Name", "DebtorKindId", "CustomerNumber"} <= set(body["errors"])
    assert_problem(
        api(
            "PUT",
            "/v1/debtors/2",
            json={"name": "B", "customerNumber": "1002", "debtorKindId": "XX"},
        ),
        400,
    )
    assert api("GET", "/v1/debtors/2").json()["emailAddress"] == "devries@bakkerij.example"


def test_validate_only_checks_without_creating(api):
    """§4: ?validateOnly=true exists [C:S3]; a dry run [I]."""
    total = api("GET", "/v1/debtors").json()["_meta"]["totalCount"]
    ok = api("POST", "/v1/debtors?validateOnly=true", json={"name": "Dry", "debtorKindId": "DEB"})
    assert ok.status_code == 200 and ok.json()["name"] == "Dry"
    assert_problem(api("POST", "/v1/debtors?validateOnly=true", json={"name": "Dry"}), 400)
    assert api("GET", "/v1/debtors").json()["_meta"]["totalCount"] == total


# -- §5 draft sales invoices ------------------------------------------------------------------
def test_draft_with_lines_returns_only_an_id_and_no_number(api):
    """§5: creating a draft returns an id; no number exists until Asperion processes it."""
    resp = api("POST", "/v1/draftsalesinvoiceswithlines", json=draft_body())
    assert resp.status_code == 201
    body = resp.json()
    # The strict reading: the answer is the id and nothing else (no totals, no lines).
    assert list(body) == ["id"] and body["id"]
    draft = api("GET", f"/v1/draftsalesinvoiceswithlines/{body['id']}").json()
    assert "invoiceNumber" not in draft
    assert draft["lines"]["_meta"]["totalCount"] == 3
    assert (draft["amountExclVat"], draft["vatAmount"], draft["amountInclVat"]) == (
        220.03,
        42.6,
        262.63,
    )  # 190 + 30.03; VAT 39.90 + 2.70, rounded per line


def test_draft_lines_accept_a_plain_array_and_the_vat_code_id_alias(api):
    """§5: the simulator also accepts lines as a plain array and vatCodeId as an alias."""
    body = draft_body()
    body["lines"] = [{"bookingType": "V", "salesTypeId": 1, "price": 50, "vatCodeId": "VH"}]
    resp = api("POST", "/v1/draftsalesinvoiceswithlines", json=body)
    assert resp.status_code == 201, resp.text
    draft = api("GET", f"/v1/draftsalesinvoiceswithlines/{resp.json()['id']}").json()
    assert draft["lines"]["_data"][0]["vatCode"] == "VH"


@pytest.mark.parametrize(
    "line, field",
    [
        ({"bookingType": "A", "articleSku": "NOPE", "vatCode": "VH"}, "Lines[0].ArticleSku"),
        (
            {"bookingType": "V", "salesTypeId": 99, "price": 1, "vatCode": "VH"},
            "Lines[0].SalesTypeId",
        ),
        (
            {"bookingType": "G", "ledgerAccountId": 1, "price": 1, "vatCode": "VH"},
            "Lines[0].LedgerAccountId",
        ),
        ({"bookingType": "T"}, "Lines[0].Description"),
        ({"bookingType": "G", "ledgerAccountId": 8000, "price": 1}, "Lines[0].VatCode"),
        (
            {"bookingType": "G", "ledgerAccountId": 8000, "price": 1, "vatCode": "IH"},
            "Lines[0].VatCode",
        ),
        ({"bookingType": "X"}, "Lines[0].BookingType"),
    ],
)
def test_draft_line_booking_types_are_validated(api, line, field):
    """§5: bookingType A (articleSku) / V (salesTypeId) / G (ledgerAccountId) / T (text);
    every non-T line needs a vatCode with salesCode=true."""
    body = draft_body()
    body["lines"] = {"_data": [line]}
    problem = assert_problem(api("POST", "/v1/draftsalesinvoiceswithlines", json=body), 400)
    assert field in problem["errors"]


def test_draft_debtor_must_exist(api):
    """§5 [I]: debtorId (int, required) must be a debtor of the administration."""
    problem = assert_problem(
        api("POST", "/v1/draftsalesinvoiceswithlines", json=draft_body(debtor_id=4)), 400
    )  # 4 lives in 102
    assert "DebtorId" in problem["errors"]


def test_draft_can_be_read_listed_and_its_lines_fetched(api):
    """§5: header via /v1/draftsalesinvoices, lines via /{invoiceId}/lines."""
    draft_id = api("POST", "/v1/draftsalesinvoiceswithlines", json=draft_body()).json()["id"]
    assert (
        api("GET", f"/v1/draftsalesinvoices/{draft_id}").json()["description"] == "INV/2026/00001"
    )
    lines = api("GET", f"/v1/draftsalesinvoices/{draft_id}/lines").json()
    assert lines["_meta"]["totalCount"] == 3
    listed = api("GET", "/v1/draftsalesinvoiceswithlines?Description=INV/2026/00001").json()
    assert [d["id"] for d in listed["_data"]] == [draft_id]


def test_finalize_turns_a_draft_into_a_payable_invoice_with_a_new_number(server, api):
    """§6.4/§7: the user finalises in Asperion: the draft is gone (404), a status-6 invoice
    with the next number keeps description, debtor, lines and totals; draft id != invoice id."""
    draft_id = api("POST", "/v1/draftsalesinvoiceswithlines", json=draft_body()).json()["id"]
    draft = api("GET", f"/v1/draftsalesinvoices/{draft_id}").json()
    resp = control(server, f"asperion/drafts/{draft['id']}/finalize")
    assert resp.status_code == 200
    inv = resp.json()
    assert inv["status"] == 6 and inv["invoiceNumber"] and inv["id"] != draft["id"]
    assert inv["description"] == draft["description"] and inv["debtorId"] == 1
    assert inv["amountInclVat"] == draft["amountInclVat"]
    assert [ln["amount"] for ln in inv["lines"]["_data"]] == [190.0, 30.03, 0.0]
    assert_problem(api("GET", f"/v1/draftsalesinvoices/{draft['id']}"), 404)
    found = api(
        "GET",
        "/v1/salesinvoiceswithlines?DebtorId=1&Description=INV/2026/00001"
        "&Description_comparison=Equals",
    ).json()["_data"]
    assert [f["invoiceNumber"] for f in found] == [inv["invoiceNumber"]]


def test_invoice_numbers_are_never_reused(server, api):
    """§6.5: deleted numbers are never reused (sequence survives deletes and resets)."""
    numbers = []
    for _ in range(2):
        draft_id = api("POST", "/v1/draftsalesinvoiceswithlines", json=draft_body()).json()["id"]
        numbers.append(
            control(server, f"asperion/drafts/{draft_id}/finalize").json()["invoiceNumber"]
        )
    control(server, "reset", {"service": "asperion"})
    api.token = tokens(server)["access_token"]
    draft_id = api("POST", "/v1/draftsalesinvoiceswithlines", json=draft_body()).json()["id"]
    numbers.append(control(server, f"asperion/drafts/{draft_id}/finalize").json()["invoiceNumber"])
    assert numbers == sorted(set(numbers), key=int) and len(set(numbers)) == 3


# -- §5 sales invoices ------------------------------------------------------------------------
def test_sales_invoice_with_odoo_number_is_booked_and_number_must_be_unique(api):
    """§5 salesinvoices: for invoices numbered elsewhere; invoiceNumber unique per
    administration (-> ProblemDetails InvoiceNumber)."""
    resp = api("POST", "/v1/salesinvoiceswithlines", json=final_body())
    assert resp.status_code == 201
    body = resp.json()
    assert body["invoiceNumber"] == "INV/2026/00001" and body["amountInclVat"] == 121.0
    dup = assert_problem(api("POST", "/v1/salesinvoiceswithlines", json=final_body()), 400)
    assert "InvoiceNumber" in dup["errors"]
    assert (
        api(
            "POST", "/v1/salesinvoiceswithlines", tenant=102, json=final_body(debtor_id=4)
        ).status_code
        == 201
    )


def test_given_vat_amount_overrides_the_computed_one(api):
    """§5 lines {amount, vatAmount, vatCode}: Odoo's VAT to the cent wins over ours."""
    body = api(
        "POST", "/v1/salesinvoiceswithlines", json=final_body(amount=10.05, vatAmount=2.12)
    ).json()
    assert body["lines"]["_data"][0]["vatAmount"] == 2.12 and body["vatAmount"] == 2.12
    computed = api(
        "POST", "/v1/salesinvoiceswithlines", json=final_body("INV/2", amount=10.05)
    ).json()
    assert computed["vatAmount"] == 2.11  # 2.1105 rounded per line


def test_negative_amounts_are_a_credit_note(api):
    """§5 [I]: negative amounts = credit note; totals negative, still outstanding."""
    body = api(
        "POST", "/v1/salesinvoiceswithlines", json=final_body("CRED/2026/0001", amount=-100)
    ).json()
    assert body["amountInclVat"] == -121.0
    rows = api("GET", "/v1/outstandingsalesinvoices?InvoiceNumber=CRED").json()["_data"]
    assert rows[0]["outstandingAmount"] == -121.0


def test_sales_invoice_filters_and_paging(api):
    """§5 filters: InvoiceNumber (+_comparison), DebtorId, Description, Status; paging."""
    for i in range(3):
        api("POST", "/v1/salesinvoiceswithlines", json=final_body(f"INV/2026/0000{i + 1}"))

    def numbers(query):
        return [
            i["invoiceNumber"] for i in api("GET", "/v1/salesinvoices?" + query).json()["_data"]
        ]

    assert numbers("InvoiceNumber=INV/2026") == [
        "INV/2026/00001",
        "INV/2026/00002",
        "INV/2026/00003",
    ]
    assert numbers("InvoiceNumber=INV/2026/00002&InvoiceNumber_comparison=Equals") == [
        "INV/2026/00002"
    ]
    assert numbers("Status=7") == ["20250002"]
    assert numbers("DebtorId=2") == ["20250002"]
    page = api("GET", "/v1/salesinvoices?pageSize=2&page=2").json()
    assert page["_meta"]["totalCount"] == 5 and len(page["_data"]) == 2
    one = api("GET", "/v1/salesinvoices/1").json()
    assert "lines" not in one and one["invoiceNumber"] == "20250001"
    assert api("GET", "/v1/salesinvoiceswithlines/1").json()["lines"]["_data"]


def test_pdf_is_attached_as_multipart_part_file(api):
    """§5: POST /v1/salesinvoices/{id}/file (and ...withlines/{id}/file), part `File`;
    returns {id, name, type, extension, size, createdOn, fileUrl, ...}."""
    pdf = b"%PDF-1.4\n% sandbox\n"
    for res in ("salesinvoices", "salesinvoiceswithlines"):
        resp = api(
            "POST", f"/v1/{res}/1/file", files={"File": ("INV1.pdf", pdf, "application/pdf")}
        )
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert isinstance(body["id"], str) and body["size"] == len(pdf)
        assert (body["name"], body["extension"], body["type"]) == (
            "INV1.pdf",
            "pdf",
            "application/pdf",
        )
        assert body["createdOn"] and api("GET", body["fileUrl"]).content == pdf
    assert (
        "File"
        in assert_problem(
            api("POST", "/v1/salesinvoices/1/file", files={"Other": ("a.pdf", pdf)}), 400
        )["errors"]
    )


def test_files_over_5_mb_are_refused(api):
    """§5 inboxfiles/files: at most 5 MB."""
    big = b"0" * (5 * 1024 * 1024 + 1)
    assert_problem(api("POST", "/v1/salesinvoices/1/file", files={"File": ("big.pdf", big)}), 413)


# -- §5 outstanding and payments --------------------------------------------------------------
def test_outstanding_sales_invoices_are_derived_from_unpaid_finals(api):
    """§5 outstandingsalesinvoices [I] fields: invoiceId, invoiceNumber, date, dueDate,
    amount, outstandingAmount, age, daysOverdue, debtorId, debtorName, debtorCustomerNumber."""
    body = api("GET", "/v1/outstandingsalesinvoices").json()
    assert [r["invoiceNumber"] for r in body["_data"]] == ["20250001"]  # 20250002 is paid
    row = body["_data"][0]
    assert set(row) == {
        "invoiceId",
        "invoiceNumber",
        "date",
        "dueDate",
        "amount",
        "outstandingAmount",
        "age",
        "daysOverdue",
        "debtorId",
        "debtorName",
        "debtorCustomerNumber",
        "_meta",
    }
    assert (row["amount"], row["outstandingAmount"], row["debtorCustomerNumber"]) == (
        1210.0,
        1210.0,
        "1001",
    )
    assert row["daysOverdue"] > 0 and row["age"] > row["daysOverdue"]
    assert api("GET", "/v1/outstandingsalesinvoices?DebtorId=2").json()["_data"] == []


def test_payments_reduce_outstanding_and_full_payment_means_paid(server, api):
    """§5 [I]: paid when gone from the list; status 7 Paid (status list [C:S3])."""
    assert control(server, "asperion/salesinvoices/1/pay", {"amount": 210}).status_code == 200
    row = api("GET", "/v1/outstandingsalesinvoices").json()["_data"][0]
    assert row["outstandingAmount"] == 1000.0
    assert control(server, "asperion/salesinvoices/1/pay").json()["status"] == 7
    assert api("GET", "/v1/outstandingsalesinvoices").json()["_data"] == []
    assert api("GET", "/v1/salesinvoices/1").json()["status"] == 7


# -- §4 rate limits and injected faults -------------------------------------------------------
def test_injected_429_carries_retry_after(server, api):
    """§4 [I]: no public rate limit; the simulator injects 429 with Retry-After."""
    control(server, "faults/asperion", {"throttle_next": 1})
    resp = api("GET", "/v1/debtors")
    assert_problem(resp, 429)
    assert int(resp.headers["Retry-After"]) >= 1
    assert api("GET", "/v1/debtors").status_code == 200


def test_injected_503_then_recovery(server, api):
    """contracts.md faults.fail_next: the next N requests get 503."""
    control(server, "faults/asperion", {"fail_next": 2})
    assert [api("GET", "/v1/debtors").status_code for _ in range(3)] == [503, 503, 200]


def test_injected_503_is_shaped_as_problem_details_with_retry_after(server):
    """§4 [I]: clients back off on 429/503: the service shapes an injected 503 with
    Retry-After (fault_response("fail"), used once the core asks for it)."""
    from werkzeug.test import EnvironBuilder

    svc = server.app.service("asperion")
    environ = EnvironBuilder(path="/api/v1/debtors", headers={"Accept-Language": "en"})
    resp = svc.fault_response("fail", environ.get_environ())
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
    assert resp.mimetype == "application/problem+json"


def test_lost_create_is_applied_but_never_answered(server, api):
    """contracts.md faults.lose_next_creates: the POST happens, the answer never comes."""
    control(server, "faults/asperion", {"lose_next_creates": 1})
    with pytest.raises(requests.ConnectionError):
        api("POST", "/v1/debtors", json={"name": "Verloren BV", "debtorKindId": "DEB"})
    api.session.close()
    found = api("GET", "/v1/debtors?Name=Verloren").json()["_data"]
    assert [d["name"] for d in found] == ["Verloren BV"]
