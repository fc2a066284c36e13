"""The remote lists only Asperion has."""

from odoo import fields, models


class BookkeepingRemoteOption(models.Model):
    _inherit = "bookkeeping.remote.option"

    kind = fields.Selection(
        selection_add=[("sales_type", "Sales type"), ("debtor_kind", "Debtor kind")],
        ondelete={"sales_type": "cascade", "debtor_kind": "cascade"},
    )
