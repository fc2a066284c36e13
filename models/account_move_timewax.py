"""Where an invoice came from in Timewax: its id (never imported twice) and its number."""

from odoo import fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    timewax_backend_id = fields.Many2one(
        "bookkeeping.backend",
        "Imported by",
        copy=False,
        readonly=True,
        index="btree_not_null",
        check_company=True,
    )
    timewax_id = fields.Char("Timewax invoice id", copy=False, readonly=True)
    timewax_number = fields.Char("Timewax number", copy=False, readonly=True)
    timewax_keep_number = fields.Boolean(
        copy=False,
        readonly=True,
        help="Posted under the Timewax number (the legal one, the customer has it).",
    )
    # A digest of what Timewax sent: a re-import updates a draft only when it changed.
    timewax_digest = fields.Char(copy=False, readonly=True)
    timewax_check = fields.Text(
        "Timewax check",
        copy=False,
        readonly=True,
        help="Why this imported invoice was not posted: Odoo's VAT or total differs from "
        "Timewax's, or Timewax changed it after it was posted here.",
    )

    _unique_timewax_id = models.Constraint(
        "unique(company_id, timewax_id)",
        "This Timewax invoice was already imported in this company.",
    )

    def _post(self, soft=True):
        # The Timewax number is the legal one: it becomes the name before Odoo numbers it.
        for move in self.filtered(
            lambda m: (
                m.timewax_keep_number
                and m.timewax_number
                and m.state == "draft"
                and (not m.name or m.name == "/")
            )
        ):
            move.name = move.timewax_number
        return super()._post(soft=soft)
