"""How the simulators compute amounts: Exact's company-currency side (exact-online.md §6:
AmountDC is read-only, each line is AmountFC x Rate, the header the sum of the lines), VAT per
line unless a VAT amount is given, and the ``ignore_vat_amounts`` fault that makes a
read-back total check trip."""

import pytest
import requests

from sandbox.exact.seed import seed_guid

REDIRECT = "http://localhost:8069/callback"
GL_8000 = seed_guid(1001, "GLAccounts", "8000")


def _token(server, service, token_path):
    """A token pair through the OAuth code flow, for a redirect URI registered first (the
    sandbox checks it exactly, as the real services do)."""
    requests.post(f"{server.url}/_sandbox/{service}/clients", json={"redirect_uris": [REDIRECT]})
    code = requests.post(
        f"{server.url}/_sandbox/{service}/consent",
        json={"client_id": "sandbox-client", "redirect_uri": REDIRECT, "state": "s"},
    ).json()["code"]
    return requests.post(
        f"{server.url}{token_path}",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
        },
    ).json()


@pytest.fixture
def exact(server):
    requests.post(f"{server.url}/_sandbox/reset", json={"service": "exact"}).raise_for_status()
    requests.post(f"{server.url}/_sandbox/faults/exact", json={"ignore_vat_amounts": False})
    token = _token(server, "exact", "/exact/api/oauth2/token")
    session = requests.Session()
    session.headers.update(
        {
            "Authorization": f"Bearer {token['access_token']}",
            "Accept": "application/json",
            "Prefer": "return=representation",
        }
    )
    base = f"{server.url}/exact/api/v1/1001/"
    customer = session.get(base + "crm/Accounts", params={"$filter": "trim(Code) eq '1'"}).json()[
        "d"
    ]["results"][0]["ID"]

    def post(path, body):
        resp = session.post(base + path, json=body)
        assert resp.status_code == 201, resp.text
        return resp.json()["d"]

    def rows(path, **filters):
        flt = " and ".join(f"{k} eq guid'{v}'" for k, v in filters.items())
        return session.get(base + path, params={"$filter": flt}).json()["d"]["results"]

    yield {"post": post, "rows": rows, "customer": customer, "url": server.url}
    requests.post(f"{server.url}/_sandbox/faults/exact", json={"ignore_vat_amounts": False})
    session.close()


def entry(exact, lines, **header):
    return exact["post"](
        "salesentry/SalesEntries",
        {"Journal": "70", "Customer": exact["customer"], "SalesEntryLines": lines, **header},
    )


def test_entry_company_amounts_are_per_line_and_the_header_is_their_sum(exact):
    """3 x 0.35 USD at 0.9: each line 0.315 -> 0.32 EUR, the header 0.96 (not 1.05 x 0.9 =
    0.945 -> 0.95); an AmountDC sent is read-only and ignored."""
    line = {"AmountFC": 0.35, "GLAccount": GL_8000, "VATCode": "0", "AmountDC": 9.99}
    booked = entry(exact, [line, line, line], Currency="USD", Rate=0.9)
    lines = exact["rows"]("salesentry/SalesEntryLines", EntryID=booked["EntryID"])
    assert [row["AmountDC"] for row in lines] == [0.32, 0.32, 0.32]
    assert (booked["AmountFC"], booked["AmountDC"]) == (1.05, 0.96)


def test_entry_vat_in_company_currency_per_line(exact):
    lines = [{"AmountFC": 10.0, "GLAccount": GL_8000, "VATCode": "2", "VATAmountFC": 2.05}] * 2
    booked = entry(exact, lines, Currency="USD", Rate=0.9)
    # 2.05 x 0.9 = 1.845 -> 1.85 per line; the header sums them.
    assert (booked["VATAmountFC"], booked["VATAmountDC"]) == (4.1, 3.7)
    assert booked["AmountDC"] == 9.0 + 9.0 + 3.7


def test_vat_per_line_unless_given(exact):
    lines = [
        {"AmountFC": 100.65, "GLAccount": GL_8000, "VATCode": "2"},
        {"AmountFC": 122.79, "GLAccount": GL_8000, "VATCode": "2", "VATAmountFC": 25.78},
    ]
    booked = entry(exact, lines)
    rows = exact["rows"]("salesentry/SalesEntryLines", EntryID=booked["EntryID"])
    assert sorted(row["VATAmountFC"] for row in rows) == [21.14, 25.78]


def test_fault_ignore_vat_amounts_rounds_per_line(exact):
    requests.post(f"{exact['url']}/_sandbox/faults/exact", json={"ignore_vat_amounts": True})
    lines = [{"AmountFC": 122.79, "GLAccount": GL_8000, "VATCode": "2", "VATAmountFC": 25.78}]
    assert entry(exact, lines)["VATAmountFC"] == 25.79
    item = seed_guid(1001, "Items", "CONSULT")
    invoice = exact["post"](
        "salesinvoice/SalesInvoices",
        {
            "Journal": "70",
            "OrderedBy": exact["customer"],
            "SalesInvoiceLines": [
                {
                    "Item": item,
                    "Quantity": 1,
                    "UnitPrice": 122.79,
                    "VATCode": "2",
                    "VATAmountFC": 25.78,
                }
            ],
        },
    )
    assert invoice["VATAmountFC"] == 25.79


def test_asperion_fault_ignore_vat_amounts(server):
    from sandbox.asperion.seed import REACHABLE  # noqa: PLC0415

    requests.post(f"{server.url}/_sandbox/reset", json={"service": "asperion"})
    token = _token(server, "asperion", "/asperion/identity/connect/token")
    headers = {"Authorization": f"Bearer {token['access_token']}", "X-Tenant-Id": str(REACHABLE[0])}
    body = {
        "invoiceNumber": "F1",
        "date": "2026-01-05T00:00:00",
        "debtorId": 1,
        "lines": {
            "_data": [
                {"amount": 122.79, "vatAmount": 25.78, "vatCode": "VH", "ledgerAccountId": 8000}
            ]
        },
    }
    url = f"{server.url}/asperion/api/v1/salesinvoiceswithlines"
    assert requests.post(url, json=body, headers=headers).json()["vatAmount"] == 25.78
    requests.post(f"{server.url}/_sandbox/faults/asperion", json={"ignore_vat_amounts": True})
    try:
        body["invoiceNumber"] = "F2"
        assert requests.post(url, json=body, headers=headers).json()["vatAmount"] == 25.79
    finally:
        requests.post(f"{server.url}/_sandbox/faults/asperion", json={"ignore_vat_amounts": False})
