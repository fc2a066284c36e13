"""Asperion debtor link of a partner, per company (one administration per company)."""

from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    asperion_debtor_id = fields.Char(
        "Asperion debtor ID",
        company_dependent=True,
        copy=False,
        help="The id of the debtor in the Asperion administration of this company.",
    )
    asperion_customer_number = fields.Char(
        "Asperion customer number",
        company_dependent=True,
        copy=False,
        help="The debtor number Asperion shows (customerNumber).",
    )
