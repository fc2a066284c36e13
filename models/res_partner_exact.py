"""Exact Online customer link of a partner, per company (one company = one division)."""

from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    exact_account_id = fields.Char(
        "Exact account ID",
        company_dependent=True,
        copy=False,
        readonly=True,
        help="GUID of the customer (crm/Accounts) in the Exact Online division of this company.",
    )
    exact_account_code = fields.Char(
        "Exact account code",
        company_dependent=True,
        copy=False,
        readonly=True,
        help="The customer code shown in Exact Online (without its padding).",
    )
