"""Seed data of the Exact Online simulator: divisions and per-division master data.

Seeded GUIDs are deterministic: ``seed_guid(division, kind, code)`` =
``uuid5(NAMESPACE_URL, "exact/<division>/<kind>/<code>")``, e.g.
``seed_guid(1001, "GLAccounts", "8000")``; tests and demos can compute them.
"""

import uuid

CONSENTABLE = (1001, 1002)  # 1003 exists but the sandbox user can never consent to it
CURRENCIES = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17}  # rate to EUR (the division currency)

DIVISIONS = [
    {"Code": 1001, "Description": "Sandbox BV", "Hid": 1, "VATNumber": "NL001234567B01"},
    {"Code": 1002, "Description": "Sandbox Holding BV", "Hid": 2, "VATNumber": "NL009876543B01"},
    {"Code": 1003, "Description": "Andere Klant BV", "Hid": 3, "VATNumber": "NL005555555B01"},
]

# Code, Description, Percentage, Type, VATTransactionType, IsBlocked
VAT_CODES = [
    ("2", "BTW hoog 21%", 0.21, "E", "S", False),
    ("1", "BTW laag 9%", 0.09, "E", "S", False),
    ("0", "BTW 0% binnenland", 0.0, "E", "S", False),
    ("4", "Intracommunautaire levering 0%", 0.0, "B", "S", False),
    ("5", "Export buiten de EU 0%", 0.0, "B", "S", False),
    ("7", "BTW verlegd 0%", 0.0, "B", "S", False),
    ("3", "BTW hoog inclusief 21%", 0.21, "I", "S", False),
    ("12", "Voorbelasting hoog 21%", 0.21, "E", "P", False),
    ("11", "Voorbelasting laag 9%", 0.09, "E", "P", False),
    ("6", "BTW oud 19% (geblokkeerd)", 0.19, "E", "S", True),
]

# Code, Description, Type
JOURNALS = [
    ("70", "Verkoopboek", 20),
    ("71", "Verkoopboek export", 20),
    ("90", "Memoriaal", 90),
    ("10", "Kas", 10),
    ("60", "Inkoopboek", 22),
]

# Code, Description, Type, BalanceType, VATCode
GL_ACCOUNTS = [
    ("8000", "Omzet hoog", 110, "W", "2"),
    ("8010", "Omzet laag", 110, "W", "1"),
    ("8100", "Omzet buitenland", 110, "W", "4"),
    ("1300", "Debiteuren", 20, "B", None),
    ("1500", "Te betalen BTW", 24, "B", None),
    ("1510", "Te vorderen BTW", 24, "B", None),
    ("1000", "Kas", 10, "B", None),
    ("4000", "Inkoopkosten", 121, "W", "12"),
]

# Code, Description, SalesVatCode, GL revenue code, price
ITEMS = [
    ("CONSULT", "Advieswerk per uur", "2", "8000", 95.0),
    ("BOOK", "Boek", "1", "8010", 25.0),
    ("LICENSE", "Softwarelicentie", "2", "8000", 250.0),
    ("EXPORT", "Dienst buitenland", "4", "8100", 100.0),
]

# Code, Description, PaymentDays
PAYMENT_CONDITIONS = [("00", "Direct", 0), ("14", "14 dagen", 14), ("30", "30 dagen", 30)]

# Code, Name, Email, VATNumber, City, Country
ACCOUNTS = [
    (
        "1",
        "Jansen Installatietechniek BV",
        "info@jansen.example",
        "NL111111111B01",
        "Utrecht",
        "NL",
    ),
    ("2", "De Vries Advies", "admin@devries.example", "NL222222222B01", "Gent", "BE"),
    ("3", "Müller GmbH", "buchhaltung@mueller.example", "DE333333333", "Köln", "DE"),
]


def seed_guid(division, kind, code):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"exact/{division}/{kind}/{code}"))


def pad(code, width):
    return str(code).rjust(width) if str(code).strip().isdigit() else str(code).ljust(width)


def seed(svc):
    """Write the seed through the service's own helpers (so Timestamps etc. are set)."""
    for div in DIVISIONS:
        svc.store.insert(
            "exact", "divisions", dict(div, Country="NL", Currency="EUR"), id=div["Code"]
        )
    for div in (d["Code"] for d in DIVISIONS):
        seed_division(svc, div)


def seed_division(svc, div):
    def add(kind, code, data):
        svc.seed_record(div, kind, dict(data, ID=seed_guid(div, kind.split("/")[-1], code)))

    for code, desc, pct, typ, trans, blocked in VAT_CODES:
        add(
            "vat/VATCodes",
            code,
            {
                "Code": code.ljust(3),
                "Description": desc,
                "Percentage": pct,
                "Type": typ,
                "VATTransactionType": trans,
                "IsBlocked": blocked,
                "GLToPay": seed_guid(div, "GLAccounts", "1500") if trans == "S" else None,
                "GLToClaim": seed_guid(div, "GLAccounts", "1510") if trans == "P" else None,
            },
        )
    for code, desc, gl_type, balance, vat in GL_ACCOUNTS:
        add(
            "financial/GLAccounts",
            code,
            {
                "Code": code,
                "Description": desc,
                "Type": gl_type,
                "BalanceType": balance,
                "BalanceSide": "C" if balance == "W" else "D",
                "VATCode": vat.ljust(3) if vat else None,
                "IsBlocked": False,
            },
        )
    for code, desc, typ in JOURNALS:
        add(
            "financial/Journals",
            code,
            {
                "Code": code,
                "Description": desc,
                "Type": typ,
                "Currency": "EUR",
                "GLAccount": seed_guid(div, "GLAccounts", "1300") if typ == 20 else None,
            },
        )
    for code, desc, vat, gl, price in ITEMS:
        add(
            "logistics/Items",
            code,
            {
                "Code": code,
                "Description": desc,
                "IsSalesItem": True,
                "IsStockItem": False,
                "SalesVatCode": vat.ljust(3),
                "Unit": "pc",
                "GLRevenue": seed_guid(div, "GLAccounts", gl),
                "StandardSalesPrice": price,
            },
        )
    for code in CURRENCIES:
        add("general/Currencies", code, {"Code": code, "Description": code})
    for code, desc, days in PAYMENT_CONDITIONS:
        add(
            "cashflow/PaymentConditions",
            code,
            {
                "Code": code,
                "Description": desc,
                "PaymentDays": days,
                "PaymentEndOfMonths": 0,
                "DiscountPercentage": 0.0,
                "PaymentMethod": "B",
            },
        )
    for code, name, email, vat_number, city, country in ACCOUNTS:
        add(
            "crm/Accounts",
            code,
            {
                "Code": pad(code, 18),
                "Name": name,
                "Email": email,
                "VATNumber": vat_number,
                "City": city,
                "Country": country.ljust(3),
                "Status": "C",
                "IsSales": True,
                "Blocked": False,
                "Type": "A",
                "SearchCode": name[:10].upper(),
            },
        )
