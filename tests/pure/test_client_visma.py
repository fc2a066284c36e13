"""VismaClient against the Visma eAccounting simulator over real HTTP on loopback."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from clients.errors import AccessDenied, AuthExpired, OutcomeUnknown, RateLimited, ValidationError
from clients.oauth import MemoryTokenStore
from clients.ratelimit import RateLimiter
from clients.visma import (
    SCOPE,
    VismaClient,
    article_row,
    ledger_invoice_number,
    marker,
    split_ledger_invoice_number,
    text_row,
)
from sandbox.visma import seed

REDIRECT = "http://127.0.0.1:9/odoo/bookkeeping/callback"
C1, C2, C3 = seed.COMPANY_IDS
CUSTOMER = seed.sid("customer:1:10001")
ADVIES = seed.sid("article:1:ADVIES")


@pytest.fixture
def sb(server):
    requests.post(server.url + "/_sandbox/reset", json={"service": "visma"}).raise_for_status()
    requests.post(
        server.url + "/_sandbox/visma/clients", json={"redirect_uris": [REDIRECT]}
    ).raise_for_status()
    return server


def control(sb, path, body=None):
    resp = requests.post(f"{sb.url}/_sandbox/{path}", json=body or {})
    resp.raise_for_status()
    return resp.json()


class SandboxClock:
    """Sleeping moves the sandbox's clock and ours: waits are real to both, and instant."""

    def __init__(self, sb):
        self.sb, self.slept = sb, []

    def now(self):
        return requests.get(self.sb.url + "/_sandbox/clock").json()["now"]

    def sleep(self, seconds):
        self.slept.append(seconds)
        control(self.sb, "clock", {"advance": max(0.0, seconds)})


def link(sb, company=C1, clock=None):
    """Connect as a manager would: the consent URL, the company chosen, the code exchanged."""
    clock = clock or SandboxClock(sb)
    store = MemoryTokenStore()
    oauth = VismaClient.make_oauth(
        sb.url + "/visma/identity", "sandbox-client", "sandbox-secret", store, now=clock.now
    )
    url = oauth.authorization_url(REDIRECT, "st8")
    query = parse_qs(urlsplit(url).query)
    assert query["response_type"] == ["code"] and query["scope"] == [SCOPE]
    consent = control(
        sb,
        "visma/consent",
        {
            "client_id": "sandbox-client",
            "redirect_uri": REDIRECT,
            "state": "st8",
            "company": company,
        },
    )
    oauth.fetch_token(consent["code"], REDIRECT)  # Basic auth: the sandbox refuses the body
    client = VismaClient(
        sb.url + "/visma/api",
        oauth,
        company_id=company,
        sleep=clock.sleep,
        limiter_factory=lambda ep: RateLimiter(("t", ep), now=clock.now, sleep=clock.sleep),
    )
    return client, store, clock


def draft_vals(ref="INV/2026/00007"):
    return {
        "CustomerId": CUSTOMER,
        "EuThirdParty": False,
        "RotReducedInvoicingType": 0,
        "InvoiceDate": dt.date.today().isoformat(),
        "YourReference": ref,
        "Rows": [text_row(marker(ref)), article_row(ADVIES, 2, 50.0)],
    }


def test_code_flow_and_company_check(sb):
    client, store, _clock = link(sb, C2)
    assert store.saves == 1 and store.read()["refresh_token"]
    assert client.check_company()["CompanyIdentifier"] == C2
    with pytest.raises(AccessDenied, match="not the one this link belongs to"):
        client.check_company(C1)  # a reconnect that landed in another company


def test_rotation_saves_each_pair_and_old_refresh_token_is_dead(sb):
    client, store, _clock = link(sb)
    old = store.read()["refresh_token"]
    client.oauth.refresh(force=True)
    assert store.saves == 2 and store.read()["refresh_token"] != old
    reuse = requests.post(
        sb.url + "/visma/identity/connect/token",
        data={"grant_type": "refresh_token", "refresh_token": old},
        auth=("sandbox-client", "sandbox-secret"),
    )
    assert reuse.json()["error"] == "invalid_grant"
    assert client.company_settings()["CompanyIdentifier"] == C1


def test_early_expiry_refreshes_once_and_revoked_grant_is_auth_expired(sb):
    client, store, clock = link(sb)
    control(sb, "faults/visma", {"expire_tokens_after": 5})
    clock.sleep(6)
    before = client.oauth.token_calls
    assert client.company_settings()["Name"]
    assert client.oauth.token_calls == before + 1 and store.saves == 2
    control(sb, "faults/visma", {"expire_tokens_after": 0, "revoked": True})
    with pytest.raises(AuthExpired):
        client.company_settings()


def test_company_without_api_module_is_explained(sb):
    client, _store, _clock = link(sb, C3)
    with pytest.raises(AccessDenied, match="Apps and extensions") as info:
        client.company_settings()
    assert "api_standard" in info.value.remote_message


def test_error_body_maps_to_field_errors_with_error_id(sb):
    client, _store, _clock = link(sb)
    with pytest.raises(ValidationError) as info:
        client.create_customer({"Name": "Zonder adres", "IsActive": True})
    err = info.value
    assert {"InvoiceCity", "InvoicePostalCode", "TermsOfPaymentId"} <= set(err.field_errors)
    assert err.error_code == 2000 and len(err.error_id) == 36
    assert err.error_id in err.remote_message  # shown to the user for Visma support


def test_throttle_text_is_parsed_and_waited_out(sb):
    client, _store, clock = link(sb)
    control(sb, "visma/config", {"throttle_seconds": 7})
    control(sb, "faults/visma", {"throttle_next": 1})
    assert len(client.units()) == 3
    assert any(6.9 <= s <= 8.5 for s in clock.slept), clock.slept  # from the text, not 60 s


def test_real_limit_per_endpoint_is_waited_out(sb):
    client, _store, clock = link(sb)
    control(sb, "visma/config", {"rate_limit": 3})
    for _ in range(4):
        client.units()
    assert client.vat_codes()  # another endpoint, its own budget
    assert any(s >= 50 for s in clock.slept)
    stats = requests.get(sb.url + "/_sandbox/stats/visma").json()
    assert stats["throttled"] == 1


def test_rate_limited_when_429s_persist(sb):
    client, _store, _clock = link(sb)
    client.max_429_retries = 1
    control(sb, "faults/visma", {"throttle_next": 5})
    with pytest.raises(RateLimited) as info:
        client.units()
    assert info.value.retry_at


def test_paging_follows_meta(sb):
    client, _store, _clock = link(sb)
    for i in range(101):
        client.create_customer(
            {
                "Name": f"K{i}",
                "InvoiceCity": "Ede",
                "InvoicePostalCode": "6711 AA",
                "IsActive": True,
                "IsPrivatePerson": False,
                "TermsOfPaymentId": seed.sid("terms:30"),
            }
        )
    assert len(list(client.customers())) == 103
    stats = requests.get(sb.url + "/_sandbox/stats/visma").json()["requests"]
    assert stats["GET /api/v2/customers"] == 2


def test_lookups_fall_back_when_a_filter_is_refused(sb):
    client, _store, _clock = link(sb)
    found = client.find_customers(email="ADMIN@zeezicht.example")
    assert [c["Id"] for c in found] == [CUSTOMER] and client.inferred_filters is False
    control(sb, "visma/config", {"allow_inferred_filters": True})
    other, _s, _c = link(sb)
    assert other.find_article("ADVIES")["Id"] == ADVIES and other.inferred_filters is True
    assert other.find_article("NOPE") is None


def test_lost_draft_create_is_found_by_marker_then_converted_once(sb):
    client, _store, _clock = link(sb)
    control(sb, "faults/visma", {"lose_next_creates": 1})
    with pytest.raises(OutcomeUnknown):
        client.create_draft(draft_vals())
    draft = client.find_draft("INV/2026/00007")
    assert draft and draft["TotalAmount"] == 121.0
    control(sb, "faults/visma", {"lose_next_creates": 1})
    with pytest.raises(OutcomeUnknown):
        client.convert_draft(draft["Id"], {"TotalAmountInvoiceCurrency": 121.0})
    assert client.draft(draft["Id"]) is None  # gone: it was converted
    invoice = client.find_invoice_for_draft(draft["Id"], "INV/2026/00007")
    assert invoice["InvoiceNumber"] and invoice["YourReference"] == "INV/2026/00007"
    assert len(list(client.invoices())) == 1


def test_convert_refuses_other_totals_and_keeps_the_date(sb):
    client, _store, _clock = link(sb)
    past = (dt.date.today() - dt.timedelta(days=20)).isoformat()
    draft = client.create_draft(dict(draft_vals(), InvoiceDate=past))
    with pytest.raises(ValidationError) as info:
        client.convert_draft(draft["Id"], {"TotalAmountInvoiceCurrency": 121.01})
    assert "TotalAmountInvoiceCurrency" in info.value.field_errors
    invoice = client.convert_draft(
        draft["Id"], {"TotalAmountInvoiceCurrency": 121.0, "TotalVatAmountInvoiceCurrency": 21.0}
    )
    assert invoice["InvoiceDate"][:10] == past
    assert client.attach_invoice_pdf(invoice["Id"], "INV_2026_00007.pdf", b"%PDF-1.4")["Id"]


def test_payments_come_back_through_modified_since(sb):
    client, _store, clock = link(sb)
    draft = client.create_draft(draft_vals())
    invoice = client.convert_draft(draft["Id"])
    clock.sleep(5)
    since = dt.datetime.fromtimestamp(clock.now(), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert list(client.invoices(modified_since=since)) == []
    control(sb, f"visma/invoices/{invoice['Id']}/pay", {"amount": 21.0})
    (changed,) = client.invoices(modified_since=since)
    assert changed["RemainingAmountInvoiceCurrency"] == 100.0 and changed["PaymentStatus"] == 1


def test_ledger_item_numbers_and_look_up(sb):
    client, _store, _clock = link(sb)
    number = ledger_invoice_number("INV/2026/00042")
    assert number == 126000042 and split_ledger_invoice_number(number) == (1, 26, 42)
    assert ledger_invoice_number("RINV/2026/00042", series=2) != number
    with pytest.raises(ValidationError):
        ledger_invoice_number("INV-42")
    with pytest.raises(ValidationError):
        ledger_invoice_number("INV/2026/1234567")
    today = dt.date.today().isoformat()
    vals = {
        "CustomerId": CUSTOMER,
        "InvoiceNumber": number,
        "IsCreditInvoice": False,
        "CurrencyCode": "EUR",
        "TotalAmountInvoiceCurrency": 121.0,
        "RemainingAmountInvoiceCurrency": 121.0,
        "InvoiceDate": today,
        "Voucher": {
            "VoucherDate": today,
            "VoucherText": "Odoo INV/2026/00042",
            "Rows": [
                {"AccountNumber": 1300, "DebitAmount": 121.0},
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
    control(sb, "faults/visma", {"lose_next_creates": 1})
    with pytest.raises(OutcomeUnknown):
        client.create_ledger_item(vals)
    found = client.find_ledger_items([number])
    assert list(found) == [number]
    with pytest.raises(ValidationError):
        client.create_ledger_item(vals)  # never twice
    attachment = client.attach_voucher_pdf(
        found[number]["VoucherId"], "INV/2026/00042.pdf", b"%PDF-1.4"
    )
    assert attachment["FileName"] == "INV_2026_00042.pdf"


def test_revoke_ends_the_link(sb):
    client, store, _clock = link(sb)
    VismaClient.revoke(
        sb.url + "/visma/identity",
        "sandbox-client",
        "sandbox-secret",
        store.read()["refresh_token"],
    )
    with pytest.raises(AuthExpired):
        client.company_settings()  # 401, then the refresh is refused: reconnect needed
