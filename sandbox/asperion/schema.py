"""The fields Asperion accepts on debtors, drafts and invoices (with their lines)."""

from decimal import Decimal

from . import seed

NEW_DEBTOR = seed._debtor(
    None, None, None, kind=None, country=None, paymentConditionId=None, paymentMethodId=None
)
DEBTOR_FIELDS = list(NEW_DEBTOR)
DRAFT_FIELDS = [
    "debtorId",
    "date",
    "description",
    "reference",
    "paymentConditionId",
    "paymentMethodId",
    "lines",
]
DRAFT_LINE_FIELDS = [
    "bookingType",
    "articleSku",
    "salesTypeId",
    "ledgerAccountId",
    "description",
    "quantity",
    "price",
    "vatCode",
    "costCenterId",
    "costUnitId",
]
INVOICE_FIELDS = [
    "invoiceNumber",
    "date",
    "description",
    "reference",
    "debtorId",
    "debtorCustomerNumber",
    "journalId",
    "bookyear",
    "bookperiod",
    "paymentConditionId",
    "paymentDueDate",
    "lines",
]
INVOICE_LINE_FIELDS = [
    "description",
    "amount",
    "vatAmount",
    "vatCode",
    "ledgerAccountId",
    "costCenterId",
    "costUnitId",
]
CENT = Decimal("0.01")
