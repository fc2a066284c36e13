"""What a Visma eAccounting customer link keeps beyond the id: the customer's currency.

eAccounting invoices a customer in the customer's ``CurrencyCode`` (V25, V32), so an Odoo
invoice in another currency must stop before any call; the link remembers it once read.
"""

from odoo import fields, models


class BookkeepingPartnerLink(models.Model):
    _inherit = "bookkeeping.partner.link"

    visma_currency_code = fields.Char(
        "eAccounting currency",
        readonly=True,
        copy=False,
        help="The customer's currency in eAccounting: its invoices are in that currency.",
    )
