"""TimewaxClient: lenient XML, token cache and renewal, errors, 10 requests per second."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from test_client_support import FakeClock, LocalServer
from werkzeug.wrappers import Response

from clients.errors import AuthExpired, RetryableError, ValidationError
from clients.oauth import MemoryTokenStore
from clients.ratelimit import RateLimiter
from clients.timewax import parse_decimal, parse_invoices, parse_valid_until, parse_xml

from clients.timewax import TimewaxClient  # isort: skip

QUIRKY = """<?xml version="1.0" encoding="utf-8"?>
<Response><Valid>TRUE</Valid><invoices>
<Invoice><id>7</id><number>2024-001</number><creditNote>Yes</creditNote>
<rawDate>2024-03-01</rawDate><amountInclVat>1.210,00</amountInclVat>
<invoiceReference1>PO 1</invoiceReference1><invoiceReference2></invoiceReference2>
<Lines><description>Work &amp; more</description><amountExclVat>1000.00</amountExclVat>
<vatCode>H</vatCode><items><item><hours>8</hours><rate>125</rate><km></km></item></items></line>
<line><description><![CDATA[Travel <car>]]></description><amountExclVat>0</amountExclVat></line>
</lines></Invoice>
<invoice><id>8</id><number>2024-002</number><creditNote>no</creditNote><lines>
<line><description>Plain</description><amountExclVat>10.5</amountExclVat></line></lines></invoice>
</invoices></Response>"""


def xml(body):
    return Response(body, content_type="text/xml")


def test_quirky_xml_is_parsed():
    invoices = parse_invoices(parse_xml(QUIRKY))
    first, second = invoices
    assert first["id"] == "7" and first["creditNote"] is True and first["rawDate"] == "2024-03-01"
    assert first["amountInclVat"] == Decimal("1210.00") and first["references"] == ["PO 1"]
    assert [line["description"] for line in first["lines"]] == ["Work & more", "Travel <car>"]
    assert first["lines"][0]["items"] == [
        {"hours": Decimal("8"), "rate": Decimal("125"), "km": None}
    ]
    assert second["creditNote"] is False and second["lines"][0]["amountExclVat"] == Decimal("10.5")


def test_number_and_date_helpers():
    assert parse_decimal("1.234,56") == Decimal("1234.56")
    assert parse_decimal("1,234.56") == Decimal("1234.56")
    assert parse_decimal("-12,5") == Decimal("-12.5") and parse_decimal(" ") is None
    assert (
        parse_valid_until("20240101T120000")
        == dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc).timestamp()
    )


class TimewaxServer:
    def __init__(self, clock):
        self.clock = clock
        self.tokens = 0
        self.valid_token = None
        self.fail_login = False

    def __call__(self, request):
        root = parse_xml(request.get_data())
        if request.path == "/authentication/token/get/":
            if self.fail_login or root.findtext("password") != "secret":
                return xml(
                    "<response><valid>no</valid><errors><![CDATA[invalid_password]]>"
                    "</errors></response>"
                )
            self.tokens += 1
            self.valid_token = f"T{self.tokens}"
            until = dt.datetime.fromtimestamp(self.clock.now() + 3600, dt.timezone.utc)
            return xml(
                f"<response><valid>yes</valid><token>{self.valid_token}</token>"
                f"<validUntil>{until:%Y%m%dT%H%M%S}</validUntil></response>"
            )
        if root.findtext("token") != self.valid_token:
            return xml("<response><valid>no</valid><errors>invalid_token</errors></response>")
        if root.findtext("datefrom") == "1999-01-01":
            return xml("<response><valid>No</valid><errors>dateFrom is invalid</errors></response>")
        return xml(QUIRKY)


def make(server, clock, password="secret"):
    limiter = RateLimiter("tw", min_interval=0.1, now=clock.now, sleep=clock.sleep)
    return TimewaxClient(
        server.url,
        "sandbox",
        "api-user",
        password,
        limiter=limiter,
        now=clock.now,
        sleep=clock.sleep,
    )


def test_token_is_cached_renewed_early_and_on_token_error():
    clock = FakeClock()
    tw = TimewaxServer(clock)
    with LocalServer(tw) as server:
        client = make(server, clock)
        assert len(client.invoices(dt.date(2024, 3, 1), "2024-03-31")) == 2
        client.invoices("2024-03-01", "2024-03-31", project="P1")
        assert tw.tokens == 1
        body = server.calls[1]["body"].decode()
        assert "<dateFrom>2024-03-01</dateFrom>" in body and "<token>T1</token>" in body
        clock.advance(3600 - 200)  # within 5 minutes of validUntil
        client.invoices("2024-03-01", "2024-03-31")
        assert tw.tokens == 2
        tw.valid_token = "revoked-elsewhere"
        client.invoices("2024-03-01", "2024-03-31")
        assert tw.tokens == 3
    # 10 requests per second: every request waited for its slot on the fake clock
    assert client.limiter.waited > 0


def test_bad_password_is_auth_expired_and_valid_no_is_validation():
    clock = FakeClock()
    tw = TimewaxServer(clock)
    with LocalServer(tw) as server:
        with pytest.raises(AuthExpired) as info:
            make(server, clock, password="wrong").invoices("2024-01-01", "2024-01-31")
        assert info.value.remote_message == "invalid_password"
        with pytest.raises(ValidationError) as info:
            make(server, clock).invoices("1999-01-01", "1999-01-31")
        assert "dateFrom is invalid" in str(info.value)


def test_password_never_reaches_the_call_log():
    clock = FakeClock()
    records = []
    with LocalServer(TimewaxServer(clock)) as server:
        client = make(server, clock)
        client.on_call = records.append
        client.invoices("2024-03-01", "2024-03-31")
    text = repr(records)
    assert "secret" not in text and "<token>T1</token>" not in text and len(records) == 2


def test_token_store_outlives_the_client_and_is_renewed_when_refused():
    clock = FakeClock()
    tw = TimewaxServer(clock)
    store = MemoryTokenStore()
    with LocalServer(tw) as server:
        first = make(server, clock)
        first.token_store = store
        first.invoices("2024-03-01", "2024-03-31")
        assert store.read()["access_token"] == "T1" and tw.tokens == 1
        second = make(server, clock)  # a new run: the stored token is reused
        second.token_store = store
        second.invoices("2024-03-01", "2024-03-31")
        assert tw.tokens == 1 and second.token_requests == 0
        tw.valid_token = "revoked-elsewhere"  # refused: renewed once, and stored
        second.invoices("2024-03-01", "2024-03-31")
        assert tw.tokens == 2 and store.read()["access_token"] == "T2"


CREDIT = """<response><valid>true</valid><invoices>
<invoice><id>1</id><creditNote>Yes</creditNote><amountInclVat>{total}</amountInclVat>
<lines><line><amountExclVat>{excl}</amountExclVat><vatAmount>{vat}</vatAmount>
<amountInclVat>{total}</amountInclVat><items><item><hours>-2</hours><amount>{excl}</amount>
</item></items></line></lines></invoice></invoices></response>"""


@pytest.mark.parametrize("sign", ["-", ""])
def test_credit_notes_come_out_positive_in_either_sign_reading(sign):
    text = CREDIT.format(total=f"{sign}121,00", excl=f"{sign}100,00", vat=f"{sign}21,00")
    (invoice,) = parse_invoices(parse_xml(text))
    line = invoice["lines"][0]
    assert invoice["amountInclVat"] == Decimal("121.00")
    assert (line["amountExclVat"], line["vatAmount"]) == (Decimal("100"), Decimal("21"))
    assert line["items"][0]["amount"] == Decimal("100")
    assert line["items"][0]["hours"] == Decimal("-2")  # not money: left as sent
    assert invoice["signReading"] == ("negative" if sign else "positive")


def test_seed_layout_with_several_lines_keeps_every_line():
    """Seed 003 verbatim: ``<Lines>`` .. ``</line></lines>`` once per line."""
    body = "".join(
        f"<Lines><description>L{n}</description><amountExclVat>{n}0,00</amountExclVat>"
        f"<vatCode>21</vatCode><items></items></line></lines>"
        for n in (1, 2, 3)
    )
    text = (
        "<response><valid>true</valid><invoices><invoice><id>5</id>"
        f"{body}</invoice></invoices></response>"
    )
    (invoice,) = parse_invoices(parse_xml(text))
    assert [line["description"] for line in invoice["lines"]] == ["L1", "L2", "L3"]
    assert invoice["lines"][2]["amountExclVat"] == Decimal("30.00")


def test_malformed_xml_is_refused_not_half_read():
    with pytest.raises(RetryableError, match="malformed XML"):
        parse_xml("<response><valid>true</valid><invoices><invoice><number>A & B</number>")
