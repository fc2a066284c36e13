"""The remote lists only Visma eAccounting has, and how its entries read on a form.

eAccounting keys VAT codes, codings and terms by GUID; a GUID says nothing to a manager, so
those entries show their name (and rate) instead of "code - name".
"""

from odoo import api, fields, models


class BookkeepingRemoteOption(models.Model):
    _inherit = "bookkeeping.remote.option"

    kind = fields.Selection(
        selection_add=[("article_coding", "Article coding"), ("fiscal_year", "Fiscal year")],
        ondelete={"article_coding": "cascade", "fiscal_year": "cascade"},
    )

    @api.depends("backend_id.service")
    def _compute_display_name(self):
        super()._compute_display_name()
        for option in self:
            if option.backend_id.service != "visma" or option.kind not in (
                "vat_code",
                "article_coding",
                "payment_condition",
                "unit",
                "fiscal_year",
            ):
                continue
            label = option.name or option.code
            if option.kind in ("vat_code", "article_coding"):
                label += f" ({option.percentage:g}%)"
            option.display_name = label
