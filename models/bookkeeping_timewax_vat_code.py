"""Timewax VAT code -> Odoo tax, per link, with a suggestion from the rate seen."""

from decimal import Decimal

from odoo import api, fields, models


class BookkeepingTimewaxVatCode(models.Model):
    _name = "bookkeeping.timewax.vat.code"
    _description = "Timewax VAT code mapping"
    _order = "code"
    _check_company_auto = True

    backend_id = fields.Many2one(
        "bookkeeping.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    code = fields.Char("Timewax VAT code", required=True)
    rate_seen = fields.Float(
        "Rate seen (%)",
        digits=(16, 2),
        readonly=True,
        help="VAT amount / amount excl. VAT of the lines seen with this code.",
    )
    tax_id = fields.Many2one(
        "account.tax",
        "Odoo tax",
        check_company=True,
        domain="[('type_tax_use', '=', 'sale'), ('price_include', '=', False)]",
        help="Prices come excluding VAT from Timewax: only taxes excluded from the price fit.",
    )
    suggested_tax_id = fields.Many2one("account.tax", "Suggested", readonly=True)
    candidate_ids = fields.Many2many("account.tax", string="Taxes with that rate", readonly=True)
    needs_choice = fields.Boolean(compute="_compute_needs_choice")

    _unique_code = models.Constraint(
        "unique(backend_id, code)", "A Timewax VAT code is mapped once per link."
    )

    @api.depends("tax_id", "candidate_ids")
    def _compute_needs_choice(self):
        for mapping in self:
            mapping.needs_choice = not mapping.tax_id

    def _apply_suggestion(self):
        for mapping in self:
            mapping.tax_id = mapping.suggested_tax_id

    @api.model
    def _note_codes(self, backend, rates):
        """Remember the codes seen (``{code: Decimal rate or None}``) with the sale taxes
        of that rate as suggestions: a single one is suggested, several are listed for
        the manager to choose. Nothing is mapped without the manager."""
        known = {m.code: m for m in backend.timewax_vat_code_ids}
        new = [code for code in rates if code not in known]
        if not new:
            return
        taxes = self.env["account.tax"].search(
            [
                ("company_id", "parent_of", backend.company_id.id),
                ("type_tax_use", "=", "sale"),
                ("amount_type", "=", "percent"),
                ("price_include", "=", False),
            ]
        )
        vals_list = []
        for code in new:
            rate = rates[code]
            candidates = taxes.filtered(
                lambda t, r=rate: (
                    r is not None and abs(Decimal(str(t.amount)) - r) < Decimal("0.05")
                )
            )
            vals_list.append(
                {
                    "backend_id": backend.id,
                    "code": code,
                    "rate_seen": float(rate) if rate is not None else 0.0,
                    "candidate_ids": [fields.Command.set(candidates.ids)],
                    "suggested_tax_id": candidates.id if len(candidates) == 1 else False,
                }
            )
        self.create(vals_list)
