"""The remote lists only Asperion has."""

from odoo import api, fields, models


class BookkeepingRemoteOption(models.Model):
    _inherit = "bookkeeping.remote.option"

    kind = fields.Selection(
        selection_add=[("sales_type", "Sales type"), ("debtor_kind", "Debtor kind")],
        ondelete={"sales_type": "cascade", "debtor_kind": "cascade"},
    )

    @api.model
    def _kind_plurals(self):
        plurals = super()._kind_plurals()
        plurals.update(sales_type=self.env._("sales types"), debtor_kind=self.env._("debtor kinds"))
        return plurals
