"""The Exact entity sets the simulator serves: their properties, keys, methods and paging."""

from .schema import DOCUMENTED
from .settings import (
    MODELS,
)

# ---------------------------------------------------------------------------------------
# Entity definitions: field -> type (guid, str, int, float, bool, date, nav)
# ---------------------------------------------------------------------------------------
_COMMON = {"Division": "int", "Created": "date", "Modified": "date"}


def _fields(spec, **extra):
    out = {}
    for part in spec.split():
        name, _, typ = part.partition(":")
        out[name] = typ or "str"
    out.update(extra)
    return out


ACCOUNT = _fields(
    "ID:guid Code Name SearchCode Status Blocked:bool IsSales:bool Type Email VATNumber "
    "ChamberOfCommerce AddressLine1 AddressLine2 AddressLine3 Postcode City Country State "
    "Phone Website Language SalesVATCode PaymentConditionSales InvoicingMethod:int "
    "PeppolIdentifier GLAR:guid GLAccountSales:guid PriceList:guid Timestamp:int",
    **_COMMON,
)
VATCODE = _fields(
    "ID:guid Code Description Percentage:float Type VATTransactionType IsBlocked:bool "
    "GLToPay:guid GLToClaim:guid Charged:bool EUSalesListing",
    **_COMMON,
)
JOURNAL = _fields("ID:guid Code Description Type:int GLAccount:guid Currency", **_COMMON)
GLACCOUNT = _fields(
    "ID:guid Code Description Type:int BalanceType BalanceSide VATCode IsBlocked:bool", **_COMMON
)
ITEM = _fields(
    "ID:guid Code Description IsSalesItem:bool IsStockItem:bool SalesVatCode Unit "
    "GLRevenue:guid StandardSalesPrice:float",
    **_COMMON,
)
CURRENCY = _fields("ID:guid Code Description", **_COMMON)
PAYCOND = _fields(
    "ID:guid Code Description PaymentDays:int PaymentEndOfMonths:int "
    "DiscountPercentage:float PaymentMethod",
    **_COMMON,
)
INVOICE = _fields(
    "InvoiceID:guid Journal OrderedBy:guid OrderedByName InvoiceTo:guid InvoiceToName "
    "DeliverTo:guid Currency Description YourRef OrderNumber:int OrderDate:date "
    "InvoiceDate:date DueDate:date PaymentCondition PaymentReference Remarks Document:guid "
    "Salesperson:guid Type:int InvoiceNumber:int Status:int StatusDescription AmountFC:float "
    "AmountFCExclVat:float AmountDC:float VATAmountFC:float VATAmountDC:float "
    "AmountDiscount:float Timestamp:int SalesInvoiceLines:nav",
    **_COMMON,
)
INVOICE_LINE = _fields(
    "ID:guid InvoiceID:guid LineNumber:int Item:guid ItemCode ItemDescription Description "
    "Quantity:float UnitPrice:float NetPrice:float Discount:float AmountFC:float "
    "AmountDC:float VATCode VATPercentage:float VATAmountFC:float VATAmountDC:float "
    "GLAccount:guid UnitCode DeliveryDate:date CostCenter CostUnit Timestamp:int",
    **_COMMON,
)
ENTRY = _fields(
    "EntryID:guid Journal Customer:guid CustomerName EntryDate:date EntryNumber:int "
    "InvoiceNumber:int YourRef Description Currency Rate:float DueDate:date PaymentCondition "
    "PaymentReference ReportingPeriod:int ReportingYear:int Document:guid VATAmountFC:float "
    "VATAmountDC:float AmountFC:float AmountDC:float OrderNumber:int Status:int Type:int "
    "Timestamp:int SalesEntryLines:nav",
    **_COMMON,
)
ENTRY_LINE = _fields(
    "ID:guid EntryID:guid LineNumber:int AmountFC:float AmountDC:float GLAccount:guid "
    "VATCode VATPercentage:float VATAmountFC:float VATAmountDC:float VATBaseAmountFC:float "
    "Description Quantity:float CostCenter CostUnit Project:guid From:date To:date Notes",
    **_COMMON,
)
DOCUMENT = _fields(
    "ID:guid Subject Type:int Account:guid Body DocumentDate:date HasEmptyBody:bool",
    **_COMMON,
)
ATTACHMENT = _fields("ID:guid Document:guid FileName Attachment FileSize:float Url", **_COMMON)
RECEIVABLE = _fields(
    "ID:guid Account:guid AccountCode AccountName AmountDC:float AmountFC:float Currency "
    "Description DueDate:date EntryNumber:int InvoiceDate:date InvoiceNumber:int Journal "
    "YourRef IsFullyPaid:bool LastPaymentDate:date Status:int TransactionEntryID:guid "
    "TransactionID:guid PaymentMethod PaymentReference",
    **_COMMON,
)
RECEIVABLES_LIST = _fields(
    "HID:int AccountId:guid AccountCode AccountName Amount:float CurrencyCode Description "
    "DueDate:date EntryNumber:int InvoiceDate:date InvoiceNumber:int JournalCode "
    "JournalDescription YourRef"
)
DIVISION = _fields(
    "Code:int Description Hid:int Current:bool Country Currency VATNumber Status:int "
    "DivisionMoveDate:date IsMainDivision:bool CustomerName"
)
HRM_DIVISION = _fields(
    "Code:int Description HID:int Main:bool Country Currency VATNumber Status:int "
    "Customer:guid CustomerCode CustomerName"
)
ME = _fields(
    "UserID:guid CurrentDivision:int FullName Email LanguageCode Legislation:int "
    "ServerTime:date ServerUtcOffset:float UserName DivisionCustomer:guid"
)
PRINTED = _fields(
    "InvoiceID:guid InvoiceDate:date ReportingPeriod:int ReportingYear:int "
    "SendEmailToCustomer:bool SenderEmailAddress EmailLayout:guid DocumentLayout:guid "
    "ExtraText SendInvoiceToCustomerPostbox:bool SendInvoiceViaPeppol:bool "
    "SendOutputBasedOnAccount:bool PostboxSender PostboxMessageID:guid Document:guid "
    "DocumentCreationSuccess DocumentCreationError EmailCreationSuccess EmailCreationError "
    "PeppolCreationSuccess PeppolCreationError"
)
SYNC_INVOICE = dict(INVOICE, **{k: v for k, v in INVOICE_LINE.items() if k not in INVOICE})
SYNC_INVOICE.pop("SalesInvoiceLines")
SYNC_INVOICE["ID"] = "guid"

ACCOUNT_FILTERS = [
    "ID",
    "Code",
    "ChamberOfCommerce",
    "Email",
    "Modified",
    "Name",
    "SearchCode",
    "Status",
    "VATNumber",
]
ITEM_FILTERS = ["ID", "Code", "Barcode", "Description", "Modified", "SearchCode"]


class EntitySet:
    """One URL below /api/v1/{division}/ and how it behaves."""

    def __init__(
        self,
        path,
        type_name,
        fields,
        key,
        methods="G",
        kind=None,
        mode="crud",
        mandatory=None,
        navs=None,
        docs=None,
    ):
        self.path, self.type, self.key = path, MODELS + type_name, key
        self.methods, self.kind, self.mode = methods, kind or path, mode
        self.mandatory, self.navs = mandatory, navs or {}
        # E16: 60 rows a page on CRUD, 1000 on bulk/sync
        self.page = 1000 if mode in ("bulk", "sync") else (None if mode == "read" else 60)
        # Every documented property can be read, selected and filtered; the sandbox's own
        # types win for what it models. Writes: see ExactService._documented_extras.
        documented = _documented(docs or path)
        self.modeled = fields
        self.fields = {name: typ for name, (typ, _flags) in documented.items()}
        self.fields.update(fields)
        self.settable = {
            method: frozenset(n for n, (_t, flags) in documented.items() if method in flags)
            for method in "PU"
        }


def _documented(path):
    """{name: (type, flags)} from schema.DOCUMENTED (empty when not listed)."""
    out = {}
    for item in DOCUMENTED.get(path, "").split():
        name, typ, *flags = item.split(":")
        out[name] = (typ, flags[0] if flags else "")
    return out


SETS = {
    s.path: s
    for s in [
        EntitySet("crm/Accounts", "Account", ACCOUNT, "ID", "GPUD", mandatory=ACCOUNT_FILTERS),
        EntitySet(
            "bulk/CRM/Accounts",
            "Bulk.CRM.Account",
            ACCOUNT,
            "ID",
            kind="crm/Accounts",
            mode="bulk",
            docs="crm/Accounts",
        ),
        EntitySet("vat/VATCodes", "VATCode", VATCODE, "ID"),
        EntitySet("financial/Journals", "Journal", JOURNAL, "ID"),
        EntitySet("financial/GLAccounts", "GLAccount", GLACCOUNT, "ID"),
        EntitySet("logistics/Items", "Item", ITEM, "ID", "GP", mandatory=ITEM_FILTERS),
        EntitySet("cashflow/PaymentConditions", "PaymentCondition", PAYCOND, "ID"),
        # The currencies the division knows (seeded from CURRENCIES).
        EntitySet("general/Currencies", "Currency", CURRENCY, "ID", "G"),
        EntitySet(
            "salesinvoice/SalesInvoices",
            "SalesInvoice",
            INVOICE,
            "InvoiceID",
            "GPUD",
            navs={"SalesInvoiceLines": ("salesinvoice/SalesInvoiceLines", "InvoiceID")},
        ),
        EntitySet("salesinvoice/SalesInvoiceLines", "SalesInvoiceLine", INVOICE_LINE, "ID", "GPUD"),
        EntitySet(
            "salesinvoice/PrintedSalesInvoices",
            "PrintedSalesInvoice",
            PRINTED,
            "InvoiceID",
            "P",
        ),
        EntitySet(
            "bulk/SalesInvoice/SalesInvoices",
            "Bulk.SalesInvoice.SalesInvoice",
            INVOICE,
            "InvoiceID",
            kind="salesinvoice/SalesInvoices",
            mode="bulk",
            navs={"SalesInvoiceLines": ("salesinvoice/SalesInvoiceLines", "InvoiceID")},
            docs="salesinvoice/SalesInvoices",
        ),
        EntitySet(
            "sync/SalesInvoice/SalesInvoices",
            "Sync.SalesInvoice.SalesInvoice",
            SYNC_INVOICE,
            "Timestamp",
            mode="sync",
        ),
        EntitySet(
            "salesentry/SalesEntries",
            "SalesEntry",
            ENTRY,
            "EntryID",
            "GPUD",
            navs={"SalesEntryLines": ("salesentry/SalesEntryLines", "EntryID")},
        ),
        EntitySet("salesentry/SalesEntryLines", "SalesEntryLine", ENTRY_LINE, "ID", "GPUD"),
        EntitySet("documents/Documents", "Document", DOCUMENT, "ID", "GPUD"),
        EntitySet("documents/DocumentAttachments", "DocumentAttachment", ATTACHMENT, "ID", "GPD"),
        EntitySet("cashflow/Receivables", "Receivable", RECEIVABLE, "ID", "GU"),
        EntitySet(
            "bulk/Cashflow/Receivables",
            "Bulk.Cashflow.Receivable",
            RECEIVABLE,
            "ID",
            kind="cashflow/Receivables",
            mode="bulk",
            docs="cashflow/Receivables",
        ),
        EntitySet(
            "read/financial/ReceivablesList",
            "ReceivablesList",
            RECEIVABLES_LIST,
            "HID",
            mode="read",
        ),
        EntitySet("system/Divisions", "System.Division", DIVISION, "Code"),
        # One license's divisions that the user may access (both clients list them here).
        EntitySet("hrm/Divisions", "HRM.Division", HRM_DIVISION, "Code"),
    ]
}
SET_NAMES = sorted(SETS, key=len, reverse=True)
SELECT_REQUIRED = "Please add a $select or a $top=1 statement to the query string."
