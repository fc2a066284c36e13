"""Contract tests of the Timewax simulator: one test per fact of /work/shared/api/timewax.md
(and seed 003, the invoicing/list page). Real HTTP against ``start_in_thread()``.
"""

import re

import pytest
import requests
from lxml import etree

CREDS = "<client>sandbox</client><username>api-user</username><password>secret</password>"
ALL = "<dateFrom>2026-01-01</dateFrom><dateTo>2026-12-31</dateTo>"


@pytest.fixture(autouse=True)
def fresh(server):
    requests.post(f"{server.url}/_sandbox/reset", json={"service": "timewax"}).raise_for_status()


def call(server, service, body):
    return requests.post(
        f"{server.url}/timewax/{service}/",
        data=f"<request>{body}</request>".encode(),
        headers={"Content-Type": "text/xml"},
    )


def xml(resp):
    assert resp.status_code == 200, resp.text
    return etree.fromstring(resp.content)


def token(server):
    return xml(call(server, "authentication/token/get", CREDS)).findtext("token")


def invoices(server, extra=ALL):
    root = xml(call(server, "invoicing/list", f"<token>{token(server)}</token>{extra}"))
    assert root.findtext("valid") == "true"
    return {inv.findtext("number"): inv for inv in root.iter("invoice")}


def config(server, **values):
    resp = requests.post(f"{server.url}/_sandbox/timewax/config", json=values)
    assert resp.status_code == 200
    return resp.json()


# -- Auth -------------------------------------------------------------------------------------
def test_token_get_returns_valid_yes_token_and_valid_until_60_minutes(server):
    """Auth: reply valid,token,validUntil; token lasts 60 min; validUntil yyyyMMddTHHmmss."""
    root = xml(call(server, "authentication/token/get", CREDS))
    assert root.findtext("valid") == "yes" and root.findtext("token")
    until = root.findtext("validUntil")
    assert len(until) == 15 and until[8] == "T" and until.replace("T", "").isdigit()


def test_wrong_password_is_http_200_valid_no_with_cdata_reason(server):
    """Transport: failure = HTTP 200 + <valid>no</valid><errors> (CDATA; invalid_password)."""
    resp = call(server, "authentication/token/get", CREDS.replace("secret", "wrong"))
    assert b"<errors><![CDATA[invalid_password]]></errors>" in resp.content
    root = xml(resp)
    assert root.findtext("valid") == "no" and root.findtext("token") is None


def test_expired_token_is_refused_with_valid_no(server):
    """Auth: the token lasts 60 min, then the service answers valid=no (renew on token error)."""
    tok = token(server)
    server.app.clock.advance(3601)
    root = xml(call(server, "invoicing/list", f"<token>{tok}</token>{ALL}"))
    assert root.findtext("valid") == "no" and root.findtext("errors")


def test_unknown_token_is_refused_with_valid_no(server):
    """Auth: the token goes in each body as <token>; an unknown one -> valid=no."""
    root = xml(call(server, "invoicing/list", f"<token>nope</token>{ALL}"))
    assert root.findtext("valid") == "no" and root.findtext("errors") == "invalid_token"


# -- Transport --------------------------------------------------------------------------------
def test_bad_xml_is_valid_no(server):
    """Simulator: bad XML -> valid=no."""
    resp = requests.post(f"{server.url}/timewax/invoicing/list/", data=b"<request><token>")
    root = xml(resp)
    assert root.findtext("valid") == "no" and root.findtext("errors") == "invalid_xml"


def test_services_are_post_only(server):
    """Transport: always HTTP POST, one URL per service with a trailing slash."""
    assert requests.get(f"{server.url}/timewax/invoicing/list/").status_code == 405


def test_more_than_10_requests_in_one_second_get_http_429(server):
    """Rate limit: max 10 requests/s per client environment; extra ones get HTTP 429."""
    tok = token(server)
    with requests.Session() as session:
        codes = [
            session.post(
                f"{server.url}/timewax/project/list/",
                data=f"<request><token>{tok}</token></request>",
            ).status_code
            for _ in range(25)  # < 1 s in all: at least one second sees more than 10
        ]
    assert 429 in codes and codes[0] == 200
    config(server, rate_limit_enabled=False)
    assert call(server, "project/list", f"<token>{tok}</token>").status_code == 200


# -- invoicing/list -----------------------------------------------------------------------------
def test_invoicing_list_answers_valid_true_with_the_seed_003_header_fields(server):
    """invoicing/list: valid=true; header id, period, date (dd-mm-yyyy), rawDate, number,
    creditNote, amountInclVat, client/project, currencyCode, invoiceReference1..5, debtor*."""
    inv = invoices(server)["TW2026-0001"]
    fields = [
        "id", "period", "date", "rawDate", "number", "creditNote", "amountInclVat",
        "clientCode", "clientName", "projectCode", "projectName", "currencyCode",
        "invoiceReference1", "invoiceReference5", "debtorName", "debtorAttn", "debtorPostcode",
        "debtorCity", "debtorCountry", "debtorNumber", "debtorEmail",
    ]  # fmt: skip
    assert all(inv.find(f) is not None for f in fields)
    assert (inv.findtext("date"), inv.findtext("rawDate")) == ("05-01-2026", "2026-01-05")
    assert inv.findtext("creditNote") == "No" and inv.findtext("currencyCode") == "EUR"
    assert inv.findtext("amountInclVat") == "1779.43"
    assert inv.findtext("invoiceReference1") == "PO-4711"


def test_invoice_lines_carry_amounts_vat_and_items(server):
    """invoicing/list lines/line: description, amountExclVat, vatCode, vatAmount,
    amountInclVat; items/item: date, rawDate, resource*, breakdown*, hours, rate, amount,
    description, km."""
    lines = invoices(server)["TW2026-0001"].findall("lines/line")
    first = lines[0]
    assert [
        first.findtext(f) for f in ("amountExclVat", "vatCode", "vatAmount", "amountInclVat")
    ] == ["1425.00", "21", "299.25", "1724.25"]
    item = first.find("items/item")
    assert [
        item.findtext(f)
        for f in ("rawDate", "resourceName", "breakdownCode", "hours", "rate", "amount")
    ] == ["2026-01-02", "Jan Jansen", "B10", "10.00", "95.00", "950.00"]
    assert lines[1].find("items/item").findtext("km") == "120"


def test_dates_are_required_in_yyyy_mm_dd(server):
    """invoicing/list: dateFrom/dateTo (yyyy-mm-dd) are required."""
    tok = token(server)
    for body in (
        "<dateTo>2026-12-31</dateTo>",
        "<dateFrom>20260101</dateFrom><dateTo>2026-12-31</dateTo>",
    ):
        root = xml(call(server, "invoicing/list", f"<token>{tok}</token>{body}"))
        assert root.findtext("valid") == "no"


def test_date_range_selects_invoices_by_invoice_date(server):
    """invoicing/list: invoices between dateFrom and dateTo (inclusive)."""
    found = invoices(server, "<dateFrom>2026-01-05</dateFrom><dateTo>2026-02-02</dateTo>")
    assert sorted(found) == ["TW2026-0001", "TW2026-0002", "TW2026-0003"]
    assert invoices(server, "<dateFrom>2025-01-01</dateFrom><dateTo>2025-12-31</dateTo>") == {}


def test_project_and_client_filter_by_code_or_name(server):
    """invoicing/list: project/client = code or name, optional."""
    by_code = invoices(server, ALL + "<project>P300</project>")
    by_name = invoices(server, ALL + "<project>Support contract</project>")
    assert sorted(by_code) == sorted(by_name) == ["TW2026-0004", "TW2026-0005"]
    assert sorted(invoices(server, ALL + "<client>Globex Inc</client>")) == ["TW2026-0003"]


def test_credit_note_is_flagged_yes_with_configurable_sign(server):
    """Importer 1 + doc flaw: creditNote Yes; the credit-note sign is undocumented
    (simulate both: positive by default, negative by config)."""
    credit = invoices(server)["TW2026-0002"]
    assert credit.findtext("creditNote") == "Yes" and credit.findtext("amountInclVat") == "229.90"
    config(server, credit_note_sign="negative")
    credit = invoices(server)["TW2026-0002"]
    assert credit.findtext("amountInclVat") == "-229.90"
    assert credit.findtext("lines/line/amountExclVat") == "-190.00"


def test_foreign_currency_invoice(server):
    """Importer 4: currencyCode -> res.currency; fixture in USD."""
    assert invoices(server)["TW2026-0003"].findtext("currencyCode") == "USD"


def test_unknown_vat_code_fixture(server):
    """Importer 5: vatCode mapped per company; unknown = error. Fixture vatCode VRIJ99."""
    assert invoices(server)["TW2026-0004"].findtext("lines/line/vatCode") == "VRIJ99"


def test_hours_rate_and_km_can_be_blank(server):
    """Seed 003: hours/rate/km 'can be empty depending on line type'; resource blank per
    lay-out."""
    item = invoices(server)["TW2026-0005"].find("lines/line/items/item")
    assert [item.findtext(f) for f in ("hours", "rate", "km", "resourceCode")] == ["", "", "", ""]
    assert item.findtext("amount") == "500.00"


def test_lines_casing_quirk_of_the_doc_is_switchable(server):
    """Doc flaw: <Lines> closed by </lines>, <line> never opened -> clients must parse
    case-insensitively and leniently. Styles: clean (default), case, doc (verbatim)."""
    tok = token(server)
    config(server, lines_style="case")
    case = xml(call(server, "invoicing/list", f"<token>{tok}</token>{ALL}"))
    assert case.find("invoices/invoice/Lines/Line/vatCode") is not None
    config(server, lines_style="doc")
    raw = call(server, "invoicing/list", f"<token>{tok}</token>{ALL}").content
    assert b"<Lines><description>" in raw and b"</line></lines>" in raw
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(raw)
    # case-insensitive tags and dropping the orphan </line> (what a lenient client does)
    # give back every invoice and line
    fixed = re.sub(rb"<(/?)Lines>", rb"<\1lines>", raw).replace(b"</line></lines>", b"</lines>")
    lenient = etree.fromstring(fixed)
    assert len(list(lenient.iter("invoice"))) == 6
    assert len(list(lenient.iter("vatCode"))) == 9


def test_decimal_comma_format_is_switchable(server):
    """Doc flaw: the decimal format is undocumented; simulate both."""
    config(server, decimal_comma=True)
    inv = invoices(server)["TW2026-0001"]
    assert inv.findtext("amountInclVat") == "1779,43"
    assert inv.findtext("lines/line/items/item/hours") == "10,00"


def test_fixture_can_be_added_through_control(server):
    """Sandbox control: POST /_sandbox/timewax/invoices adds a fixture invoice."""
    body = {
        "id": 9100, "number": "TW2026-0100", "rawDate": "2026-04-01", "period": "2026-04",
        "creditNote": "No", "amountInclVat": 12.1, "clientCode": "C001",
        "clientName": "Acme BV", "projectCode": "P100", "projectName": "Website redesign",
        "currencyCode": "EUR",
        "lines": [{"description": "x", "amountExclVat": 10.0, "vatCode": "21",
                   "vatAmount": 2.1, "amountInclVat": 12.1, "items": []}],
    }  # fmt: skip
    assert requests.post(f"{server.url}/_sandbox/timewax/invoices", json=body).status_code == 200
    assert invoices(server)["TW2026-0100"].findtext("amountInclVat") == "12.10"


# -- related services -------------------------------------------------------------------------
def test_company_list_returns_companies_with_debtors(server):
    """Clients: a company has code, name, isDebtor, VATNumber, debtors/debtor{...}."""
    root = xml(call(server, "company/list", f"<token>{token(server)}</token>"))
    assert root.findtext("valid") == "yes"
    acme = root.find("companies/company")
    assert (acme.findtext("code"), acme.findtext("isDebtor")) == ("C001", "Yes")
    assert acme.findtext("debtors/debtor/debtorNumber") == "D1001"


def test_project_list_returns_projects_with_is_active(server):
    """Projects: project/list (isActive Yes/No, isParent, portfolio) -> projects/project."""
    root = xml(call(server, "project/list", f"<token>{token(server)}</token>"))
    codes = [p.findtext("code") for p in root.iter("project")]
    assert codes == ["P100", "P200", "P300", "P900"]
    active = xml(
        call(server, "project/list", f"<token>{token(server)}</token><isActive>Yes</isActive>")
    )
    assert "P900" not in [p.findtext("code") for p in active.iter("project")]


def test_invoicing_fault_answers_malformed_xml_or_valid_no(server):
    """Test-only fault: a cut-off reply, or valid=no with a given Timewax error text."""
    config(server, invoicing_fault="malformed")
    body = f"<token>{token(server)}</token>{ALL}"
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(call(server, "invoicing/list", body).content)
    config(server, invoicing_fault="invoicing_module_not_active")
    root = xml(call(server, "invoicing/list", body))
    assert root.findtext("valid") == "no"
    assert root.findtext("errors") == "invoicing_module_not_active"
