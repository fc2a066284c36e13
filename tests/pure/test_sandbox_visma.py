"""The Visma eAccounting simulator refuses what the real service refuses (doc/api/visma.md).

Real HTTP to the sandbox on loopback; every test names the fact it checks.
"""

from __future__ import annotations

import base64
import datetime as dt

import pytest
import requests

from sandbox.visma import seed

REDIRECT = "http://127.0.0.1:9/visma/callback"
SCOPE = "ea:api offline_access ea:sales ea:accounting"
BASIC = ("sandbox-client", "sandbox-secret")
C1, C2, C3 = seed.COMPANY_IDS
TERMS30 = seed.sid("terms:30")
CUSTOMER = seed.sid("customer:1:10001")
ADVIES = seed.sid("article:1:ADVIES")
BROOD = seed.sid("article:1:BROOD")


@pytest.fixture
def sb(server):
    requests.post(server.url + "/_sandbox/reset", json={"service": "visma"}).raise_for_status()
    requests.post(
        server.url + "/_sandbox/visma/clients", json={"redirect_uris": [REDIRECT]}
    ).raise_for_status()
    return server


def control(sb, path, body=None):
    return requests.post(f"{sb.url}/_sandbox/{path}", json=body or {})


def code_for(sb, company=C1, scope=SCOPE):
    resp = control(
        sb,
        "visma/consent",
        {
            "client_id": "sandbox-client",
            "redirect_uri": REDIRECT,
            "state": "s",
            "scope": scope,
            "company": company,
        },
    )
    resp.raise_for_status()
    return resp.json()["code"]


def token(sb, company=C1, scope=SCOPE):
    resp = requests.post(
        sb.url + "/visma/identity/connect/token",
        data={
            "grant_type": "authorization_code",
            "code": code_for(sb, company, scope),
            "redirect_uri": REDIRECT,
        },
        auth=BASIC,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


class Api:
    def __init__(self, sb, tok):
        self.sb, self.tok = sb, tok

    def __call__(self, method, path, **kw):
        headers = {"Authorization": f"Bearer {self.tok['access_token']}"}
        return requests.request(method, f"{self.sb.url}/visma/api/v2/{path}", headers=headers, **kw)


@pytest.fixture
def api(sb):
    return Api(sb, token(sb))


def today():
    return dt.date.today().isoformat()


def draft_body(**extra):
    body = {
        "CustomerId": CUSTOMER,
        "EuThirdParty": False,
        "RotReducedInvoicingType": 0,
        "InvoiceDate": today(),
        "YourReference": "INV/2026/00001",
        "Rows": [
            {
                "IsTextRow": True,
                "ReversedConstructionServicesVatFree": False,
                "Text": "Odoo: INV/2026/00001",
            },
            {
                "IsTextRow": False,
                "ReversedConstructionServicesVatFree": False,
                "ArticleId": ADVIES,
                "Quantity": 3,
                "UnitPrice": 33.33,
            },
            {
                "IsTextRow": False,
                "ReversedConstructionServicesVatFree": False,
                "ArticleId": BROOD,
                "Quantity": 7,
                "UnitPrice": 1.15,
            },
        ],
    }
    body.update(extra)
    return body


def ledger_body(number=202600001, **extra):
    body = {
        "CustomerId": CUSTOMER,
        "InvoiceNumber": number,
        "IsCreditInvoice": False,
        "CurrencyCode": "EUR",
        "TotalAmountInvoiceCurrency": 121.0,
        "RemainingAmountInvoiceCurrency": 121.0,
        "InvoiceDate": today(),
        "Voucher": {
            "VoucherDate": today(),
            "VoucherText": "Odoo INV/2026/00001",
            "Rows": [
                {"AccountNumber": 1300, "DebitAmount": 121.0, "TransactionText": "INV/2026/00001"},
                {
                    "AccountNumber": 8000,
                    "CreditAmount": 100.0,
                    "VatCodeId": seed.sid("vat:21"),
                    "VatAmount": 21.0,
                },
                {"AccountNumber": 1500, "CreditAmount": 21.0},
            ],
        },
    }
    body.update(extra)
    return body


# -- identity server ----------------------------------------------------------------------
def test_authorize_shows_company_picker_and_redirects_with_code(sb):
    params = {
        "client_id": "sandbox-client",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": SCOPE,
        "state": "xyz",
    }
    page = requests.get(sb.url + "/visma/identity/connect/authorize", params=params)
    assert page.status_code == 200
    for company in seed.COMPANIES:  # V5: every company is offered
        assert company["Name"] in page.text
    resp = requests.post(
        sb.url + "/visma/identity/connect/authorize",
        data=dict(params, consent="yes", company=C2),
        allow_redirects=False,
    )
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith(REDIRECT + "?code=")
    assert "state=xyz" in resp.headers["Location"]


def test_authorize_refuses_unregistered_redirect_and_other_flows(sb):
    params = {
        "client_id": "sandbox-client",
        "redirect_uri": REDIRECT + "/other",
        "response_type": "code",
        "scope": SCOPE,
    }
    resp = requests.get(
        sb.url + "/visma/identity/connect/authorize", params=params, allow_redirects=False
    )
    assert resp.status_code == 400 and "Location" not in resp.headers
    params.update(redirect_uri=REDIRECT, response_type="token")  # V2
    resp = requests.get(
        sb.url + "/visma/identity/connect/authorize", params=params, allow_redirects=False
    )
    assert "error=unsupported_response_type" in resp.headers["Location"]
    params.update(response_type="code", scope="offline_access ea:sales")  # V4: ea:api missing
    resp = requests.get(
        sb.url + "/visma/identity/connect/authorize", params=params, allow_redirects=False
    )
    assert "error=invalid_scope" in resp.headers["Location"]


def test_token_needs_basic_auth_and_form_body(sb):
    data = {"grant_type": "authorization_code", "code": code_for(sb), "redirect_uri": REDIRECT}
    # V3: the client in the body instead of Basic is refused
    resp = requests.post(
        sb.url + "/visma/identity/connect/token",
        data=dict(data, client_id=BASIC[0], client_secret=BASIC[1]),
    )
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    resp = requests.post(sb.url + "/visma/identity/connect/token", json=data, auth=BASIC)
    assert resp.status_code == 400
    resp = requests.post(
        sb.url + "/visma/identity/connect/token", data=data, auth=(BASIC[0], "wrong")
    )
    assert resp.json()["error"] == "invalid_client"


def test_code_needs_the_same_redirect_uri_and_works_once(sb):
    code = code_for(sb)
    url = sb.url + "/visma/identity/connect/token"
    bad = requests.post(
        url,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT + "x"},
        auth=BASIC,
    )
    assert bad.json()["error"] == "invalid_grant"
    again = requests.post(
        url,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        auth=BASIC,
    )
    assert again.json()["error"] == "invalid_grant"  # the code was used up


def test_token_response_and_no_refresh_token_without_offline_access(sb):
    tok = token(sb)
    assert tok["expires_in"] == 3600 and tok["token_type"] == "Bearer"  # V7
    assert tok["refresh_token"]
    assert "refresh_token" not in token(sb, scope="ea:api ea:sales")  # V4


def test_refresh_rotates_and_old_refresh_token_is_refused(sb):
    tok = token(sb)
    url = sb.url + "/visma/identity/connect/token"
    first = requests.post(
        url, data={"grant_type": "refresh_token", "refresh_token": tok["refresh_token"]}, auth=BASIC
    )
    assert first.status_code == 200
    assert first.json()["refresh_token"] != tok["refresh_token"]  # V8
    reuse = requests.post(
        url, data={"grant_type": "refresh_token", "refresh_token": tok["refresh_token"]}, auth=BASIC
    )
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    assert Api(sb, first.json())("GET", "companysettings").status_code == 200


def test_revocation_ends_the_grant(sb):
    tok = token(sb)
    resp = requests.post(
        sb.url + "/visma/identity/connect/revocation",
        data={"token": tok["refresh_token"], "token_type_hint": "refresh_token"},
        auth=BASIC,
    )
    assert resp.status_code == 200
    assert Api(sb, tok)("GET", "companysettings").status_code == 401  # V10
    refresh = requests.post(
        sb.url + "/visma/identity/connect/token",
        data={"grant_type": "refresh_token", "refresh_token": tok["refresh_token"]},
        auth=BASIC,
    )
    assert refresh.json()["error"] == "invalid_grant"


def test_expired_revoked_and_early_expired_tokens_get_4005(sb, api):
    assert api("GET", "companysettings").status_code == 200
    control(sb, "faults/visma", {"expire_tokens_after": 10})
    control(sb, "clock", {"advance": 11})
    resp = api("GET", "companysettings")
    assert resp.status_code == 401 and resp.json()["ErrorCode"] == 4005  # V12
    control(sb, "faults/visma", {"expire_tokens_after": 0, "revoked": True})
    fresh = Api(sb, {"access_token": "nonsense"})
    assert fresh("GET", "companysettings").status_code == 401


# -- companies, scopes -------------------------------------------------------------------
def test_companysettings_names_the_company_chosen_at_login(sb):
    for company in (C1, C2):
        body = Api(sb, token(sb, company))("GET", "companysettings").json()
        assert body["CompanyIdentifier"] == company  # V6
        assert body["CurrencyCode"] == "EUR"


def test_company_without_api_module_is_refused_in_words(sb):
    resp = Api(sb, token(sb, C3))("GET", "customers")
    assert resp.status_code == 403  # V22
    assert "No access to module: api_standard" in resp.json()["DeveloperErrorMessage"]


def test_readonly_scope_refuses_writes_and_missing_scope_gets_4006(sb):
    ro = Api(sb, token(sb, scope="ea:api ea:sales_readonly"))
    assert ro("GET", "customers").status_code == 200
    resp = ro("POST", "customers", json={"Name": "X"})
    assert resp.status_code == 403 and resp.json()["ErrorCode"] == 4006  # V4
    assert ro("GET", "vatcodes").json()["ErrorCode"] == 4006  # accounting scope missing


# -- envelope, paging, filters, errors ---------------------------------------------------
def test_list_envelope_and_paging(api):
    for i in range(7):
        resp = api(
            "POST",
            "customers",
            json={
                "Name": f"Klant {i}",
                "InvoiceCity": "Utrecht",
                "InvoicePostalCode": "3511 AA",
                "IsActive": True,
                "IsPrivatePerson": False,
                "TermsOfPaymentId": TERMS30,
            },
        )
        assert resp.status_code == 201  # V13
    body = api("GET", "customers", params={"$page": 2, "$pagesize": 4}).json()
    assert set(body) == {"Meta", "Data"}
    meta = body["Meta"]
    assert (
        meta["CurrentPage"],
        meta["PageSize"],
        meta["TotalNumberOfPages"],
        meta["TotalNumberOfResults"],
    ) == (2, 4, 3, 9)
    assert meta["ServerTimeUtc"].endswith("Z") and len(body["Data"]) == 4
    big = api("GET", "customers", params={"$pagesize": 1000}).json()["Meta"]
    assert big["PageSize"] == 100  # V14: the safest maximum
    assert api("GET", "customers", params={"$page": 0}).status_code == 400


def test_filters_are_whitelisted(sb, api):
    resp = api("GET", "customers", params={"$filter": "CustomerNumber eq '10001'"})
    assert resp.status_code == 400 and resp.json()["ErrorCode"] == 2000  # V15: not confirmed
    control(sb, "visma/config", {"allow_inferred_filters": True})
    data = api("GET", "customers", params={"$filter": "CustomerNumber eq '10001'"}).json()["Data"]
    assert [c["Id"] for c in data] == [CUSTOMER]
    both = api(
        "GET",
        "customers",
        params={
            "$filter": "EmailAddress eq 'jdeboer@example.nl' or contains(Name,'zeezicht')",
            "$orderby": "CustomerNumber desc",
        },
    ).json()["Data"]
    assert [c["CustomerNumber"] for c in both] == ["10002", "10001"]
    assert api("GET", "customers", params={"$filter": "Telephone eq '1'"}).status_code == 400
    assert api("GET", "customers", params={"$filter": "Name eq"}).status_code == 400


def test_error_body_has_code_message_id_and_field_errors(api):
    resp = api("POST", "customers", json={"Name": "X" * 51, "IsActive": True})
    assert resp.status_code == 400
    body = resp.json()
    assert set(body) == {"ErrorCode", "DeveloperErrorMessage", "ErrorId", "Errors"}  # V19
    fields = {e["Field"] for e in body["Errors"]}
    assert {
        "Name",
        "InvoiceCity",
        "InvoicePostalCode",
        "IsPrivatePerson",
        "TermsOfPaymentId",
    } <= fields  # V24
    assert len(body["ErrorId"]) == 36


# -- customers and articles ---------------------------------------------------------------
def test_customer_numbering_unknown_fields_and_duplicates(api):
    base = {
        "Name": "Nieuw BV",
        "InvoiceCity": "Delft",
        "InvoicePostalCode": "2611 AA",
        "IsActive": True,
        "IsPrivatePerson": False,
        "TermsOfPaymentId": TERMS30,
    }
    made = api("POST", "customers", json=base).json()
    assert made["CustomerNumber"] == "10003"  # V25: the next number
    dup = api("POST", "customers", json=dict(base, CustomerNumber="10001"))
    assert dup.status_code == 400 and dup.json()["ErrorCode"] == 4000
    typo = api("POST", "customers", json=dict(base, EmailAdress="x@y.nl"))
    assert typo.status_code == 400 and typo.json()["Errors"][0]["Field"] == "EmailAdress"  # V23
    ro = api("POST", "customers", json=dict(base, Id="ignored", ChangedUtc="x"))
    assert ro.status_code == 201 and ro.json()["Id"] != "ignored"
    bad_terms = api("POST", "customers", json=dict(base, TermsOfPaymentId=seed.sid("nope")))
    assert bad_terms.json()["ErrorCode"] == 3000


def test_customer_put_replaces_and_delete_with_invoices_is_refused(api):
    current = api("GET", f"customers/{CUSTOMER}").json()
    assert current["TermsOfPayment"]["NumberOfDays"] == 30
    writable = {
        k: current[k]
        for k in (
            "Name",
            "InvoiceCity",
            "InvoicePostalCode",
            "IsActive",
            "IsPrivatePerson",
            "TermsOfPaymentId",
            "CustomerNumber",
        )
    }
    put = api("PUT", f"customers/{CUSTOMER}", json=writable).json()
    assert put["EmailAddress"] is None  # V26: left out means empty
    assert (
        api(
            "POST", "customerledgeritems/customerledgeritemswithvoucher", json=ledger_body()
        ).status_code
        == 201
    )
    resp = api("DELETE", f"customers/{CUSTOMER}")
    assert resp.status_code == 400 and resp.json()["ErrorCode"] == 4001


def test_article_rules(api):
    body = {
        "Number": "KM",
        "Name": "Kilometers",
        "IsActive": True,
        "CodingId": seed.sid("coding:21"),
        "UnitId": seed.sid("unit:km"),
        "NetPrice": 0.23,
    }
    assert api("POST", "articles", json=body).status_code == 201
    assert api("POST", "articles", json=body).json()["ErrorCode"] == 4000  # V27
    bad = api("POST", "articles", json=dict(body, Number="X", CodingId=seed.sid("nope")))
    assert bad.json()["ErrorCode"] == 3000
    cents = api("POST", "articles", json=dict(body, Number="Y", NetPrice=1.234))
    assert cents.status_code == 400
    assert api("DELETE", f"articles/{ADVIES}").status_code == 405


def test_lookups(api):
    rates = sorted(v["VatRate"] for v in api("GET", "vatcodes").json()["Data"])
    assert rates == [0.0, 0.0, 0.0, 9.0, 21.0]  # V29
    assert len(api("GET", "units").json()["Data"]) == 3
    assert len(api("GET", "termsofpayments").json()["Data"]) == 3
    codings = api("GET", "articleaccountcodings").json()["Data"]
    assert {c["VatRatePercent"] for c in codings} == {21.0, 9.0, 0.0}
    assert all(not k.startswith("_") for c in codings for k in c)
    years = api("GET", "fiscalyears").json()["Data"]
    assert len(years) == 4
    accounts = api("GET", f"accounts/{years[2]['Id']}").json()["Data"]
    assert "1300" in {a["Number"] for a in accounts}  # V30: a string
    assert api("GET", f"accounts/{years[2]['Id']}/9999").json()["ErrorCode"] == 3002
    assert {c["Code"] for c in api("GET", "currencies").json()["Data"]} >= {"EUR"}


# -- drafts, convert, invoices -------------------------------------------------------------
def test_draft_rules(api):
    assert (
        api("POST", "customerinvoicedrafts", json=draft_body(CustomerId=seed.sid("x"))).json()[
            "ErrorCode"
        ]
        == 3000
    )  # V31
    missing = api("POST", "customerinvoicedrafts", json={"CustomerId": CUSTOMER}).json()
    assert {"EuThirdParty", "RotReducedInvoicingType"} <= {e["Field"] for e in missing["Errors"]}
    rows = draft_body()["Rows"]
    rows[1] = dict(rows[1], UnitPrice=33.333)
    assert api("POST", "customerinvoicedrafts", json=draft_body(Rows=rows)).status_code == 400
    rows[1] = dict(rows[1], UnitPrice=33.33, ArticleId=None)
    assert api("POST", "customerinvoicedrafts", json=draft_body(Rows=rows)).status_code == 400
    rows = draft_body()["Rows"]
    rows[0] = dict(rows[0], Text="")
    assert api("POST", "customerinvoicedrafts", json=draft_body(Rows=rows)).status_code == 400
    rows = draft_body()["Rows"]
    rows[1] = dict(rows[1], DiscountPercentage=10)  # V31: a fraction, not a percent
    assert api("POST", "customerinvoicedrafts", json=draft_body(Rows=rows)).status_code == 400
    extra = api("POST", "customerinvoicedrafts", json=draft_body(CurrencyCode="USD"))
    assert extra.status_code == 400  # V32: no writable currency


def test_draft_totals_and_no_number(api):
    draft = api("POST", "customerinvoicedrafts", json=draft_body()).json()
    # 3 x 33.33 = 99.99 at 21% (21.00), 7 x 1.15 = 8.05 at 9% (0.72)
    assert draft["TotalVatAmount"] == 21.72 and draft["TotalAmount"] == 129.76  # V33
    assert "InvoiceNumber" not in draft  # V32
    assert draft["InvoiceCurrencyCode"] == "EUR"


def test_convert_checks_expected_totals_and_books_with_a_number(sb, api):
    draft = api("POST", "customerinvoicedrafts", json=draft_body()).json()
    wrong = api(
        "POST",
        f"customerinvoicedrafts/{draft['Id']}/convert",
        json={"TotalAmountInvoiceCurrency": 129.75, "TotalVatAmountInvoiceCurrency": 21.72},
    )
    assert wrong.status_code == 400  # V34
    assert wrong.json()["Errors"][0]["Field"] == "TotalAmountInvoiceCurrency"
    row = api(
        "POST",
        f"customerinvoicedrafts/{draft['Id']}/convert",
        json={"Rows": [{"LineNumber": 1, "TotalAmountNoVatInvoiceCurrency": 99.98}]},
    )
    assert row.status_code == 400
    before = api("GET", "companysettings").json()["NextCustomerInvoiceNumber"]
    inv = api(
        "POST",
        f"customerinvoicedrafts/{draft['Id']}/convert",
        json={
            "TotalAmountInvoiceCurrency": 129.76,
            "TotalVatAmountInvoiceCurrency": 21.72,
            "Rows": [
                {
                    "LineNumber": 1,
                    "TotalAmountNoVatInvoiceCurrency": 99.99,
                    "TotalAmountIncVatInvoiceCurrency": 120.99,
                }
            ],
        },
    )
    assert inv.status_code == 201, inv.text
    invoice = inv.json()
    assert invoice["InvoiceNumber"] == before  # V36
    assert invoice["CreatedFromDraftId"] == draft["Id"]  # V35
    assert invoice["RemainingAmount"] == 129.76 and invoice["PaymentStatus"] == 1
    assert invoice["Rows"][0]["Text"] == "Odoo: INV/2026/00001"
    assert api("GET", f"customerinvoicedrafts/{draft['Id']}").status_code == 404
    second = api("POST", "customerinvoicedrafts", json=draft_body()).json()
    inv2 = api("POST", f"customerinvoicedrafts/{second['Id']}/convert").json()
    assert inv2["InvoiceNumber"] == before + 1  # no gaps


def test_convert_date_flags(api):
    past = (dt.date.today() - dt.timedelta(days=40)).isoformat()
    a = api("POST", "customerinvoicedrafts", json=draft_body(InvoiceDate=past)).json()
    moved = api("POST", f"customerinvoicedrafts/{a['Id']}/convert").json()
    assert moved["InvoiceDate"][:10] == today()  # V34: a past date becomes today
    b = api("POST", "customerinvoicedrafts", json=draft_body(InvoiceDate=past)).json()
    kept = api(
        "POST",
        f"customerinvoicedrafts/{b['Id']}/convert",
        params={"keepOriginalDraftDate": "true", "overrideCompanyKeepOriginalDraftDate": "true"},
    ).json()
    assert kept["InvoiceDate"][:10] == past


def test_invoice_filters_and_modified_since(sb, api):
    draft = api("POST", "customerinvoicedrafts", json=draft_body()).json()
    inv = api("POST", f"customerinvoicedrafts/{draft['Id']}/convert").json()
    marker = "Rows/any(c: contains(c/Text,'INV/2026/00001'))"  # V15: confirmed
    found = api("GET", "customerinvoices", params={"$filter": marker}).json()["Data"]
    assert [i["Id"] for i in found] == [inv["Id"]]
    assert (
        api(
            "GET", "customerinvoices", params={"$filter": f"CreatedFromDraftId eq {draft['Id']}"}
        ).status_code
        == 400
    )
    control(sb, "clock", {"advance": 120})
    since = dt.datetime.fromtimestamp(
        requests.get(sb.url + "/_sandbox/clock").json()["now"], dt.timezone.utc
    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert api("GET", "customerinvoices", params={"modifiedSinceUtc": since}).json()["Data"] == []
    paid = control(sb, f"visma/invoices/{inv['Id']}/pay", {"amount": 29.76}).json()
    assert paid["RemainingAmount"] == 100.0 and paid["PaymentStatus"] == 1
    again = api("GET", "customerinvoices", params={"modifiedSinceUtc": since}).json()["Data"]
    assert [i["Id"] for i in again] == [inv["Id"]]  # V17
    control(sb, f"visma/invoices/{inv['Id']}/pay")
    assert api("GET", f"customerinvoices/{inv['Id']}").json()["PaymentStatus"] == 0


def test_accountant_converts_or_deletes_a_draft(sb, api):
    a = api("POST", "customerinvoicedrafts", json=draft_body()).json()
    b = api("POST", "customerinvoicedrafts", json=draft_body()).json()
    assert control(sb, f"visma/drafts/{a['Id']}/convert").status_code == 201
    assert control(sb, f"visma/drafts/{b['Id']}/delete").status_code == 200
    assert api("GET", "customerinvoicedrafts").json()["Data"] == []
    assert len(api("GET", "customerinvoices").json()["Data"]) == 1


# -- ledger items with voucher -----------------------------------------------------------
def test_ledger_item_with_voucher(api):
    resp = api("POST", "customerledgeritems/customerledgeritemswithvoucher", json=ledger_body())
    assert resp.status_code == 201, resp.text  # V38
    item = resp.json()
    assert item["InvoiceNumber"] == 202600001 and item["VoucherId"]
    dup = api("POST", "customerledgeritems/customerledgeritemswithvoucher", json=ledger_body())
    assert dup.status_code == 400 and dup.json()["ErrorCode"] == 4000  # V40
    assert (
        api("GET", f"customerledgeritems/{item['Id']}").json()["RemainingAmountInvoiceCurrency"]
        == 121.0
    )


def test_ledger_item_refusals(api):
    post = lambda body: api("POST", "customerledgeritems/customerledgeritemswithvoucher", json=body)  # noqa: E731
    assert post(ledger_body(number=2**31)).status_code == 400  # V38: int32
    body = ledger_body()
    body["Voucher"]["Rows"][2]["CreditAmount"] = 20.99
    assert "balance" in post(body).json()["DeveloperErrorMessage"]  # V39
    body = ledger_body()
    body["Voucher"]["Rows"][1]["AccountNumber"] = 8999
    assert post(body).json()["ErrorCode"] == 3002
    old = dt.date(dt.date.today().year - 5, 1, 1).isoformat()
    body = ledger_body()
    body["Voucher"]["VoucherDate"] = old
    assert post(body).json()["ErrorCode"] == 3001
    locked = dt.date(dt.date.today().year - 2, 6, 1).isoformat()
    body = ledger_body()
    body["Voucher"]["VoucherDate"] = locked
    assert post(body).json()["ErrorCode"] == 4026
    assert post(ledger_body(TotalAmountInvoiceCurrency=120.0)).status_code == 400  # V40
    assert post(ledger_body(IsCreditInvoice=True)).status_code == 400
    body = ledger_body()
    body["Voucher"]["Rows"][1]["VatCodeId"] = seed.sid("nope")
    assert post(body).json()["ErrorCode"] == 3000


# -- attachments ------------------------------------------------------------------------
def test_attachments(api):
    draft = api("POST", "customerinvoicedrafts", json=draft_body()).json()
    inv = api("POST", f"customerinvoicedrafts/{draft['Id']}/convert").json()
    pdf = base64.b64encode(b"%PDF-1.4 test").decode()
    ok = api(
        "POST",
        "salesdocumentattachments/customerinvoice",
        json={
            "ContentType": "application/pdf",
            "FileName": "INV_2026_00001.pdf",
            "DockumentId": inv["Id"],
            "Data": pdf,
        },
    )
    assert ok.status_code == 201 and ok.json()["DocumentType"] == 2  # V42
    bad = api(
        "POST",
        "salesdocumentattachments/customerinvoice",
        json={
            "ContentType": "text/plain",
            "FileName": "x.txt",
            "DockumentId": inv["Id"],
            "Data": pdf,
        },
    )
    assert bad.status_code == 400
    item = api(
        "POST", "customerledgeritems/customerledgeritemswithvoucher", json=ledger_body()
    ).json()
    att = api(
        "POST",
        "attachments",
        json={"ContentType": "application/pdf", "FileName": "INV_2026_00001.pdf", "Data": pdf},
    )
    assert att.status_code == 201
    slash = api(
        "POST",
        "attachments",
        json={"ContentType": "application/pdf", "FileName": "INV/2026/00001.pdf", "Data": pdf},
    )
    assert slash.status_code == 400  # V43
    link = api(
        "POST",
        "attachmentlinks",
        json={
            "DocumentId": item["VoucherId"],
            "DocumentType": 3,
            "AttachmentIds": [att.json()["Id"]],
        },
    )
    assert link.status_code == 200


# -- rate limit and faults -------------------------------------------------------------
def test_rate_limit_per_endpoint_with_wait_in_the_text(sb, api):
    control(sb, "visma/config", {"rate_limit": 5})
    for _ in range(5):
        assert api("GET", "units").status_code == 200
    resp = api("GET", f"units/{seed.sid('unit:st')}")  # V21: ids count with their resource
    assert resp.status_code == 429 and "Retry-After" not in resp.headers
    body = resp.json()
    assert body["ErrorCode"] == 4010
    assert "Try again in 60 seconds." in body["DeveloperErrorMessage"]
    assert api("GET", "vatcodes").status_code == 200  # another endpoint has its own budget
    control(sb, "clock", {"advance": 61})
    assert api("GET", "units").status_code == 200


def test_injected_faults_in_visma_shape(sb, api):
    control(sb, "faults/visma", {"throttle_next": 1})
    resp = api("GET", "customers")
    assert resp.status_code == 429 and resp.json()["ErrorCode"] == 4010
    assert "Retry-After" not in resp.headers
    control(sb, "faults/visma", {"fail_next": 1})
    assert api("GET", "customers").status_code == 503
    control(sb, "faults/visma", {"path_status": {"POST customerinvoicedrafts": 500}})
    assert api("POST", "customerinvoicedrafts", json=draft_body()).status_code == 500
    assert api("GET", "customerinvoicedrafts").status_code == 200


def test_lost_create_is_applied(sb, api):
    control(sb, "faults/visma", {"lose_next_creates": 1})
    with pytest.raises(requests.ConnectionError):
        api("POST", "customerinvoicedrafts", json=draft_body())
    assert len(api("GET", "customerinvoicedrafts").json()["Data"]) == 1
