"""Seed data of the Asperion simulator (master data is static; debtors/invoices go to the Store).

Field names follow docs/api asperion.md §5; those marked [I] there are our proposed contract.
"""

ADMINISTRATIONS = [
    # 103 exists but the sandbox user cannot reach it (403), like a revoked accountant link
    {"id": 101, "name": "Demo BV", "telephoneNumber": "020-1234567", "email": "demo@example.nl"},
    {"id": 102, "name": "Tweede BV", "telephoneNumber": "030-7654321", "email": "info@tweede.nl"},
    {"id": 103, "name": "Derde BV", "telephoneNumber": "010-1111111", "email": "derde@example.nl"},
]
REACHABLE = (101, 102)
DEFAULT_ADMINISTRATION = 101
PROFILE_NAME = "Sandbox Gebruiker"


def _vat(id_, description, sales, pct, country="NL", default=False, valid_until=None):
    return {
        "id": id_,
        "description": description,
        "salesCode": sales,
        "percentage": pct,
        "isDefault": default,
        "validFrom": "2019-01-01T00:00:00",
        "validUntil": valid_until,
        "countryCode": country,
    }


VATCODES = [
    _vat("VH", "BTW hoog 21%", True, 21.0, default=True),
    _vat("VL", "BTW laag 9%", True, 9.0),
    _vat("V0", "BTW 0% binnenland", True, 0.0),
    _vat("VEU", "Intracommunautaire levering 0%", True, 0.0, country=None),
    _vat("VEX", "Export buiten de EU 0%", True, 0.0, country=None),
    _vat("VVL", "BTW verlegd", True, 0.0),
    # expired: a line dated after validUntil is refused
    _vat("VL6", "BTW laag 6% (oud)", True, 6.0, valid_until="2018-12-31T00:00:00"),
    _vat("IH", "Voorbelasting hoog 21%", False, 21.0, default=True),
    _vat("IL", "Voorbelasting laag 9%", False, 9.0),
    _vat("I0", "Inkoop 0%", False, 0.0),
]

SALESTYPES = [  # [I] fields id, description, ledgerAccountId, vatCode
    {"id": 1, "description": "Omzet hoog", "ledgerAccountId": 8000, "vatCode": "VH"},
    {"id": 2, "description": "Omzet laag", "ledgerAccountId": 8020, "vatCode": "VL"},
    {"id": 3, "description": "Omzet diensten", "ledgerAccountId": 8010, "vatCode": "VH"},
    {"id": 4, "description": "Omzet EU", "ledgerAccountId": 8100, "vatCode": "VEU"},
    {"id": 5, "description": "Omzet export", "ledgerAccountId": 8110, "vatCode": "VEX"},
]

DEBTORKINDS = [  # [I] fields id, description, ledgerAccountId
    {"id": "DEB", "description": "Debiteuren", "ledgerAccountId": 1300},
    {"id": "BUI", "description": "Debiteuren buitenland", "ledgerAccountId": 1310},
    {"id": "PAR", "description": "Particulieren", "ledgerAccountId": 1320},
]

PAYMENTCONDITIONS = [  # days is [I]
    {"id": 1, "description": "14 dagen netto", "days": 14},
    {"id": 2, "description": "30 dagen netto", "days": 30},
    {"id": 3, "description": "Direct", "days": 0},
    {"id": 4, "description": "8 dagen netto", "days": 8},
]

PAYMENTMETHOD = [  # [I] fields id, description
    {"id": "FAC", "description": "Op factuur"},
    {"id": "IDEAL", "description": "iDEAL"},
    {"id": "PAYPAL", "description": "PayPal"},
    {"id": "INC", "description": "Automatische incasso"},
]

JOURNALS = [  # type V = sales is [I]
    {"id": "70", "description": "Verkoopboek", "type": "V"},
    {"id": "90", "description": "Memoriaal", "type": "M"},
    {"id": "10", "description": "Kas", "type": "K"},
    {"id": "20", "description": "Bank", "type": "B"},
    {"id": "80", "description": "Inkoopboek", "type": "I"},
]


def _gl(id_, type_, description, vat=None, disabled=False, rgs=None):
    return {
        "id": id_,
        "type": type_,
        "description": description,
        "vatCode": vat,
        "disabled": disabled,
        "rcsfi": rgs,
    }


LEDGERACCOUNTS = [  # type 1 balance, 2 revenue, 3 costs (numbers are [I])
    _gl(1300, 1, "Debiteuren", rgs="BVorDebHad"),
    _gl(1310, 1, "Debiteuren buitenland", rgs="BVorDebHad"),
    _gl(1320, 1, "Debiteuren particulieren", rgs="BVorDebHad"),
    _gl(1500, 1, "Af te dragen BTW hoog", rgs="BSchBepBtwAfgOsh"),
    _gl(1510, 1, "Af te dragen BTW laag", rgs="BSchBepBtwAfgOsl"),
    _gl(4000, 3, "Inkoop", "IH", rgs="WKprInk"),
    _gl(8000, 2, "Omzet hoog", "VH", rgs="WOmzNopOlh"),
    _gl(8010, 2, "Omzet diensten", "VH", rgs="WOmzNopOdh"),
    _gl(8020, 2, "Omzet laag", "VL", rgs="WOmzNopOll"),
    _gl(8030, 2, "Omzet 0% binnenland", "V0", rgs="WOmzNopOln"),
    _gl(8100, 2, "Omzet buitenland EU", "VEU", rgs="WOmzNopOle"),
    _gl(8110, 2, "Omzet export", "VEX", rgs="WOmzNopOli"),
    _gl(8900, 2, "Omzet oud (geblokkeerd)", "VH", disabled=True),
]

ARTICLES = [
    {
        "id": 1,
        "sku": "ADVIES",
        "description": "Advies per uur",
        "salesTypeId": 3,
        "price": 95.0,
        "currentStock": 0,
        "active": True,
    },
    {
        "id": 2,
        "sku": "BOEK",
        "description": "Handboek",
        "salesTypeId": 2,
        "price": 39.95,
        "currentStock": 12,
        "active": True,
    },
    {
        "id": 3,
        "sku": "LICENTIE",
        "description": "Softwarelicentie per jaar",
        "salesTypeId": 1,
        "price": 250.0,
        "currentStock": 0,
        "active": True,
    },
]

COUNTRIES = [
    {"id": code, "code": code, "description": name, "isEu": eu}
    for code, name, eu in [
        ("NL", "Nederland", True),
        ("BE", "België", True),
        ("DE", "Duitsland", True),
        ("FR", "Frankrijk", True),
        ("LU", "Luxemburg", True),
        ("ES", "Spanje", True),
        ("IT", "Italië", True),
        ("AT", "Oostenrijk", True),
        ("GB", "Verenigd Koninkrijk", False),
        ("US", "Verenigde Staten", False),
        ("CH", "Zwitserland", False),
    ]
]

COSTCENTERS = [
    {"id": 1, "description": "Algemeen", "conversionCode": "ALG"},
    {"id": 2, "description": "Projecten", "conversionCode": "PRJ"},
]

# read-only lists per resource name (lower case, as routed)
MASTER = {
    "vatcodes": VATCODES,
    "salestypes": SALESTYPES,
    "debtorkinds": DEBTORKINDS,
    "paymentconditions": PAYMENTCONDITIONS,
    "paymentmethod": PAYMENTMETHOD,
    "journals": JOURNALS,
    "ledgeraccounts": LEDGERACCOUNTS,
    "articles": ARTICLES,
    "countries": COUNTRIES,
    "costcenters": COSTCENTERS,
}


def _debtor(id_, number, name, kind="DEB", country="NL", **extra):
    base = {
        "id": id_,
        "customerNumber": number,
        "name": name,
        "address": None,
        "addressLine2": None,
        "addressLine3": None,
        "postCode": None,
        "city": None,
        "countryCode": country,
        "attentionTo": None,
        "phoneNumber": None,
        "mobileNumber": None,
        "faxNumber": None,
        "emailAddress": None,
        "cocNumber": None,
        "vatNumber": None,
        "iban": None,
        "bic": None,
        "bban": None,
        "directDebit": False,
        "debtorKindId": kind,
        "paymentConditionId": 2,
        "paymentMethodId": "FAC",
        "comments": None,
        "characteristic4": None,
        "characteristic5": None,
        "dateAdded": "2025-01-15T09:00:00",
        "dateLastChange": "2025-01-15T09:00:00",
        "blocked": False,
        "noReminder": False,
    }
    base.update(extra)
    return base


# debtors per administration; customer numbers continue after these
DEBTORS = {
    101: [
        _debtor(
            1,
            "1001",
            "Acme BV",
            address="Damrak 1",
            postCode="1012 LG",
            city="Amsterdam",
            emailAddress="info@acme.example",
            cocNumber="12345678",
            vatNumber="NL001234567B01",
        ),
        _debtor(
            2,
            "1002",
            "Bakkerij De Vries",
            address="Oudegracht 10",
            postCode="3511 AB",
            city="Utrecht",
            emailAddress="devries@bakkerij.example",
        ),
        _debtor(
            3,
            "1003",
            "Brussels Trading NV",
            kind="BUI",
            country="BE",
            address="Rue Neuve 5",
            postCode="1000",
            city="Brussel",
            emailAddress="ap@brussels-trading.example",
            vatNumber="BE0123456789",
        ),
    ],
    102: [
        _debtor(
            4,
            "1001",
            "Tweede Klant BV",
            address="Markt 2",
            postCode="5611 EB",
            city="Eindhoven",
            emailAddress="klant@tweede.example",
        ),
    ],
}

# final invoices per administration: (id, number, debtor id, date, amount excl, vat code, paid)
SALESINVOICES = {
    101: [
        (1, "20250001", 1, "2025-12-01", 1000.0, "VH", 0.0),
        (2, "20250002", 2, "2025-12-10", 200.0, "VL", None),  # None = fully paid
    ],
    102: [],
}
