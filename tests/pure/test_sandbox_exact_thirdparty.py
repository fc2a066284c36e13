"""Exact Online clients that no one here wrote, against the Exact sandbox.

* ``exactonline`` (ossobv, PyPI; requirements-dev.txt), used against the real service for
  years: consent and code exchange, divisions listed at ``hrm/Divisions``, a customer
  created, found and updated with the properties it always sends, an entry booked and
  read back, the 401 refresh.
* The code exchange the way ``python-exact-online`` does it (requests-oauthlib's default:
  client credentials in an HTTP Basic header).

Where such a client and the sandbox disagree, the sandbox is wrong (or too lenient) until
the Exact documentation says otherwise.
"""

import html
import re
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from exactonline import http as eo_http
from exactonline.api import ExactApi
from exactonline.elements.relation import ExactCustomer
from exactonline.http import HTTPError
from exactonline.resource import GET
from exactonline.storage.base import ExactOnlineConfig, MissingSetting
from requests_oauthlib import OAuth2Session

from sandbox.exact.seed import seed_guid

REDIRECT = "http://localhost:8069/bookkeeping_link/oauth/callback"
CLIENT_ID, SECRET = "sandbox-client", "sandbox-secret"
GL_8000 = seed_guid(1001, "GLAccounts", "8000")


class DictStorage(ExactOnlineConfig):
    """The library's configuration interface on a dict (its own is an INI file)."""

    def __init__(self, values):
        self.values = dict(values)

    def get(self, section, option):
        try:
            return self.values[(section, option)]
        except KeyError:
            raise MissingSetting(option)

    def set(self, section, option, value):
        self.values[(section, option)] = value


def consent(auth_url):
    """What the user does in the browser: the consent page, Allow, the redirect's code."""
    page = requests.get(auth_url, timeout=10)
    assert page.status_code == 200, page.text
    action = html.unescape(re.search(r'<form[^>]*action="([^"]*)"', page.text).group(1))
    answer = requests.post(
        urljoin(auth_url, action),
        data={"division": ["1001", "1002"], "action": "allow"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


@pytest.fixture
def exact(server):
    requests.post(f"{server.url}/_sandbox/reset", json={"service": "exact"}, timeout=10)
    requests.post(
        f"{server.url}/_sandbox/exact/clients", json={"redirect_uris": [REDIRECT]}, timeout=10
    ).raise_for_status()
    return f"{server.url}/exact"


@pytest.fixture
def api(exact, monkeypatch):
    # The library only speaks https to Exact; the sandbox serves http on loopback.
    monkeypatch.setattr(eo_http.opt_secure, "protocols", ("https", "http"))
    storage = DictStorage(
        {
            ("server", "auth_url"): f"{exact}/api/oauth2/auth",
            ("server", "rest_url"): f"{exact}/api",
            ("server", "token_url"): f"{exact}/api/oauth2/token",
            ("application", "base_url"): REDIRECT,
            ("application", "client_id"): CLIENT_ID,
            ("application", "client_secret"): SECRET,
        }
    )
    client = ExactApi(storage=storage)
    location = consent(client.create_auth_request_url())
    client.request_token(parse_qs(urlsplit(location).query)["code"][0])
    return client


class Customer(ExactCustomer):
    def __init__(self, code, name, **kwargs):
        super().__init__(**kwargs)
        self.code, self.name = code, name

    def get_code(self):
        return self.code

    def get_name(self):
        return self.name

    def get_address(self):
        return {"AddressLine1": "Kerkstraat 1", "Postcode": "1234 AB", "City": "Utrecht"}


def test_divisions_are_listed_at_hrm_divisions(api):
    choices, current = api.get_divisions()  # current/Me, then hrm/Divisions
    assert current == 1001
    assert choices == {1001: "Sandbox BV", 1002: "Sandbox Holding BV"}
    api.set_division(1001)  # a filtered crm/Accounts read that finds nothing
    assert api.storage.get_division() == 1001


def test_a_customer_is_created_found_and_updated_as_the_library_sends_it(api):
    """The library always sends IsPurchase and IsSales (read-only: ignored),
    PaymentConditionSalesDescription (read-only) and InvoiceAttachmentType (writable)."""
    api.set_division(1001)
    customer = Customer("4711", "Klant Van Buiten BV", api=api)
    created = customer.commit()  # not found by its code: POST
    guid = created["ID"]
    assert customer.get_guid() == guid  # found by its padded code
    customer.name = "Klant Van Buiten Holding BV"
    assert customer.commit() is None  # found: PUT, 204
    (row,) = api.restv1(
        GET(
            f"crm/Accounts?$filter=ID+eq+guid'{guid}'&$select=Code,Name,Created,Modified,"
            "InvoiceAttachmentType,IsPurchase,IsSales,Status,PaymentConditionSalesDescription"
        )
    )
    assert row["Code"] == "4711".rjust(18) and row["Name"] == "Klant Van Buiten Holding BV"
    for stamp in ("Created", "Modified"):
        assert re.fullmatch(r"/Date\(\d+\)/", row[stamp] or ""), row
    assert row["InvoiceAttachmentType"] == 0 and row["Status"] == "C" and row["IsSales"]
    assert not row["IsPurchase"] and row["PaymentConditionSalesDescription"] is None


def test_a_name_exact_does_not_have_is_still_refused(api):
    api.set_division(1001)
    with pytest.raises(HTTPError) as info:
        api.relations.create({"Name": "X", "IsCustomerOfTheYear": True})
    assert info.value.code == 400 and "IsCustomerOfTheYear" in str(info.value)


def test_an_entry_is_booked_and_read_back_with_its_lines(api):
    api.set_division(1001)
    account = api.relations.create({"Name": "Boekhouding BV"})
    api.invoices.create(
        {
            "Journal": "70",
            "Customer": account["ID"],
            "YourRef": "ODOO/2026/0001",
            "SalesEntryLines": [
                {"GLAccount": GL_8000, "AmountFC": "100.00", "VATCode": "2", "Description": "X"}
            ],
        }
    )
    entry = api.invoices.get(invoice_number="ODOO/2026/0001")
    assert entry["AmountFC"] == 121.0 and len(entry["SalesEntryLines"]) == 1
    assert entry["SalesEntryLines"][0]["VATAmountFC"] == 21.0
    mapping = api.invoices.map_exact2foreign_invoice_numbers([entry["EntryNumber"]])
    assert mapping == {entry["EntryNumber"]: "ODOO/2026/0001"}


def test_an_expired_token_is_refreshed_once_on_the_401(api, server):
    api.set_division(1001)
    old = api.storage.get_access_token()
    server.clock.advance(601)  # the library's own clock still says 600 s are left
    assert api.vatcodes.all()
    assert api.storage.get_access_token() != old


def test_comparing_an_int32_with_a_string_is_a_400(api):
    """python-exact-online quotes every $filter value; Exact answers 400, not []."""
    api.set_division(1001)
    assert api.restv1(GET("financial/Journals?$filter=Type+eq+20&$select=Code"))
    with pytest.raises(HTTPError) as info:
        api.restv1(GET("financial/Journals?$filter=Type+eq+'20'&$select=Code"))
    assert info.value.code == 400 and "incompatible" in str(info.value)


def test_code_exchange_with_http_basic_as_python_exact_online_does(exact, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    session = OAuth2Session(CLIENT_ID, redirect_uri=REDIRECT)
    auth_url, state = session.authorization_url(f"{exact}/api/oauth2/auth")
    location = consent(auth_url)
    # requests-oauthlib's default: client_id and client_secret in an HTTP Basic header
    token = session.fetch_token(
        f"{exact}/api/oauth2/token", client_secret=SECRET, authorization_response=location
    )
    assert token["access_token"] and token["expires_in"] == 600
    me = session.get(
        f"{exact}/api/v1/current/Me", headers={"Accept": "application/json"}, timeout=10
    )
    assert me.json()["d"]["results"][0]["CurrentDivision"] == 1001
