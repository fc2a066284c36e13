"""Visma eAccounting customer link of a partner, per company (one company = one
eAccounting company). The customer's currency is kept too: it is the invoice currency in
eAccounting (V25, V32), checked against the Odoo invoice before any call."""

from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    visma_customer_id = fields.Char(
        "eAccounting customer ID",
        company_dependent=True,
        copy=False,
        readonly=True,
        help="The id of the customer in the Visma eAccounting company of this company.",
    )
    visma_customer_number = fields.Char(
        "eAccounting customer number", company_dependent=True, copy=False, readonly=True
    )
    visma_customer_currency = fields.Char(
        "eAccounting customer currency",
        company_dependent=True,
        copy=False,
        readonly=True,
        help="The customer's CurrencyCode in eAccounting: its invoices are in that currency.",
    )
