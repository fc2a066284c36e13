"""Seed data of the Visma eAccounting simulator: companies, master data, a few records.

Ids are stable (uuid5 of a name) so tests and the demo can name them. The NL VAT codes are
not public (V29): these are ours, one per rate plus the three 0 % kinds.
"""

import uuid

_NS = uuid.UUID("6f1c8f3e-4b1a-4a53-9a55-7a2b3c4d5e6f")


def sid(name):
    """The stable id of a seeded record."""
    return str(uuid.uuid5(_NS, name))


COMPANIES = [
    {
        "Id": sid("company:1"),
        "Name": "Bakkerij De Visser BV",
        "api_module": True,
        "CountryCode": "NL",
        "CurrencyCode": "EUR",
        "VatCode": "NL001234567B01",
        "CorporateIdentityNumber": "12345678",
    },
    {
        "Id": sid("company:2"),
        "Name": "Studio Noord VOF",
        "api_module": True,
        "CountryCode": "NL",
        "CurrencyCode": "EUR",
        "VatCode": "NL002345678B01",
        "CorporateIdentityNumber": "23456789",
    },
    {
        # V22: can be picked at login, but has no API module
        "Id": sid("company:3"),
        "Name": "Zonder API BV",
        "api_module": False,
        "CountryCode": "NL",
        "CurrencyCode": "EUR",
        "VatCode": "NL003456789B01",
        "CorporateIdentityNumber": "34567890",
    },
]
COMPANY_IDS = [c["Id"] for c in COMPANIES]

VAT_CODES = [
    {"Id": sid("vat:21"), "Code": "VH", "Description": "BTW hoog 21%", "VatRate": 21.0},
    {"Id": sid("vat:9"), "Code": "VL", "Description": "BTW laag 9%", "VatRate": 9.0},
    {"Id": sid("vat:0"), "Code": "V0", "Description": "BTW 0% binnenland", "VatRate": 0.0},
    {"Id": sid("vat:0eu"), "Code": "VEU", "Description": "Intracommunautair 0%", "VatRate": 0.0},
    {"Id": sid("vat:0ex"), "Code": "VEX", "Description": "Export buiten EU 0%", "VatRate": 0.0},
]
for _code, _acc in zip(VAT_CODES, (1500, 1510, None, None, None), strict=True):
    _code.update(
        OssCodeType=0,
        RelatedAccounts={"AccountNumber1": _acc, "AccountNumber2": None, "AccountNumber3": None},
    )

ACCOUNTS = [
    ("1100", "Bank", None),
    ("1300", "Debiteuren", None),
    ("1500", "Af te dragen BTW hoog", "vat:21"),
    ("1510", "Af te dragen BTW laag", "vat:9"),
    ("8000", "Omzet hoog", "vat:21"),
    ("8010", "Omzet laag", "vat:9"),
    ("8020", "Omzet vrijgesteld", "vat:0"),
    ("8100", "Omzet EU", "vat:0eu"),
    ("8200", "Omzet export", "vat:0ex"),
    ("8900", "Afrondingsverschillen", None),
    ("8950", "Betalingskorting", None),
]

UNITS = [
    {"Id": sid("unit:st"), "Name": "Stuk", "Code": "st", "Abbreviation": "st"},
    {"Id": sid("unit:uur"), "Name": "Uur", "Code": "uur", "Abbreviation": "u"},
    {"Id": sid("unit:km"), "Name": "Kilometer", "Code": "km", "Abbreviation": "km"},
]
for _unit in UNITS:
    _unit["AbbreviationEnglish"] = _unit["Abbreviation"]

TERMS = [
    {"Id": sid("terms:14"), "Name": "14 dagen", "NameEnglish": "14 days", "NumberOfDays": 14},
    {"Id": sid("terms:30"), "Name": "30 dagen", "NameEnglish": "30 days", "NumberOfDays": 30},
    {"Id": sid("terms:0"), "Name": "Contant", "NameEnglish": "Cash", "NumberOfDays": 0},
]
for _t in TERMS:
    _t.update(
        TermsOfPaymentTypeId=2 if _t["NumberOfDays"] == 0 else 0,
        TermsOfPaymentTypeText="Cash" if _t["NumberOfDays"] == 0 else "Normal",
        AvailableForSales=True,
        AvailableForPurchase=True,
    )


def _coding(key, name, rate, vat_key, domestic):
    return {
        "Id": sid(f"coding:{key}"),
        "Name": name,
        "NameEnglish": name,
        "Type": "Services",
        "VatRate": key,
        "VatRatePercent": rate,
        "IsActive": True,
        "_vat": sid(vat_key),  # internal: the VAT code this coding books on
        "DomesticSalesSubjectToVatAccountNumber": domestic,
        "DomesticSalesVatExemptAccountNumber": 8020,
        "ForeignSalesSubjectToVatWithinEuAccountNumber": 8100,
        "ForeignSalesVatExemptWithinEuAccountNumber": 8100,
        "ForeignSalesVatExemptOutsideEuAccountNumber": 8200,
    }


CODINGS = [
    _coding("21", "Diensten 21%", 21.0, "vat:21", 8000),
    _coding("9", "Goederen 9%", 9.0, "vat:9", 8010),
    _coding("0", "Vrijgesteld 0%", 0.0, "vat:0", 8020),
]

CURRENCIES = [{"Code": "EUR"}, {"Code": "USD"}, {"Code": "GBP"}]
RATES = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17}  # to EUR, for base-currency totals
EU = set("AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split())


def customers(company_index):
    """Seeded customers of a company (only the first has some)."""
    if company_index != 0:
        return []
    return [
        {
            "Id": sid("customer:1:10001"),
            "CustomerNumber": "10001",
            "Name": "Hotel Zeezicht BV",
            "EmailAddress": "admin@zeezicht.example",
            "InvoiceAddress1": "Boulevard 1",
            "InvoicePostalCode": "2586 AA",
            "InvoiceCity": "Den Haag",
            "InvoiceCountryCode": "NL",
            "VatNumber": "NL123456789B01",
            "IsPrivatePerson": False,
            "IsActive": True,
            "TermsOfPaymentId": sid("terms:30"),
            "CurrencyCode": "EUR",
        },
        {
            "Id": sid("customer:1:10002"),
            "CustomerNumber": "10002",
            "Name": "J. de Boer",
            "EmailAddress": "jdeboer@example.nl",
            "InvoicePostalCode": "9711 AB",
            "InvoiceCity": "Groningen",
            "InvoiceCountryCode": "NL",
            "IsPrivatePerson": True,
            "IsActive": True,
            "TermsOfPaymentId": sid("terms:14"),
            "CurrencyCode": "EUR",
        },
    ]


def articles(company_index):
    if company_index != 0:
        return []
    return [
        {
            "Id": sid("article:1:ADVIES"),
            "Number": "ADVIES",
            "Name": "Advies per uur",
            "IsActive": True,
            "NetPrice": 95.0,
            "CodingId": sid("coding:21"),
            "UnitId": sid("unit:uur"),
        },
        {
            "Id": sid("article:1:BROOD"),
            "Number": "BROOD",
            "Name": "Brood",
            "IsActive": True,
            "NetPrice": 3.5,
            "CodingId": sid("coding:9"),
            "UnitId": sid("unit:st"),
        },
    ]
