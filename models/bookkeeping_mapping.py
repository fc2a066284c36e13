"""Mapping of Odoo taxes, income accounts, payment terms and units to remote codes."""

from odoo import api, fields, models

MAPPING_KIND = {
    "tax": "vat_code",
    "account": "gl_account",
    "payment_term": "payment_condition",
    "unit": "unit",
}


class BookkeepingMapping(models.Model):
    _name = "bookkeeping.mapping"
    _description = "Bookkeeping link mapping"
    _check_company_auto = True
    _order = "mapping_type, id"

    backend_id = fields.Many2one(
        "bookkeeping.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    mapping_type = fields.Selection(
        [
            ("tax", "Tax"),
            ("account", "Income account"),
            ("payment_term", "Payment term"),
            ("unit", "Unit"),
        ],
        required=True,
    )
    tax_id = fields.Many2one("account.tax", check_company=True, ondelete="cascade")
    account_id = fields.Many2one("account.account", check_company=True, ondelete="cascade")
    payment_term_id = fields.Many2one(
        "account.payment.term", check_company=True, ondelete="cascade"
    )
    uom_id = fields.Many2one("uom.uom", "Unit", ondelete="cascade")
    option_kind = fields.Char(compute="_compute_option_kind")
    tax_rate = fields.Float(related="tax_id.amount", string="Rate")
    # Drop-downs offer only what fits: sales VAT codes of the tax's rate, income accounts.
    option_id = fields.Many2one(
        "bookkeeping.remote.option",
        "Remote code",
        domain="[('backend_id', '=', backend_id), ('kind', '=', option_kind)]"
        " + (mapping_type == 'tax' and [('percentage', '=', tax_rate)] or [])"
        " + (mapping_type == 'account' and [('is_income', '=', True)] or [])",
    )
    candidate_ids = fields.Many2many(
        "bookkeeping.remote.option",
        string="Suggestions",
        help="Remote codes with the same rate. When there are several, choose one.",
    )
    needs_choice = fields.Boolean(compute="_compute_needs_choice", store=True)

    _unique_tax = models.UniqueIndex(
        "(backend_id, tax_id) WHERE tax_id IS NOT NULL", "A tax is mapped only once per link."
    )
    _unique_account = models.UniqueIndex(
        "(backend_id, account_id) WHERE account_id IS NOT NULL",
        "An account is mapped only once per link.",
    )
    _unique_payment_term = models.UniqueIndex(
        "(backend_id, payment_term_id) WHERE payment_term_id IS NOT NULL",
        "A payment term is mapped only once per link.",
    )
    _unique_uom = models.UniqueIndex(
        "(backend_id, uom_id) WHERE uom_id IS NOT NULL", "A unit is mapped only once per link."
    )

    @api.depends("mapping_type")
    def _compute_option_kind(self):
        for mapping in self:
            mapping.option_kind = MAPPING_KIND.get(mapping.mapping_type)

    @api.depends("option_id", "candidate_ids")
    def _compute_needs_choice(self):
        for mapping in self:
            mapping.needs_choice = not mapping.option_id and len(mapping.candidate_ids) > 1

    def _mapped_record(self):
        self.ensure_one()
        return {
            "tax": self.tax_id,
            "account": self.account_id,
            "payment_term": self.payment_term_id,
            "unit": self.uom_id,
        }[self.mapping_type]


class BookkeepingBackend(models.Model):
    _inherit = "bookkeeping.backend"

    # Services whose lines carry a unit map Odoo's units to the remote ones.
    unit_mapping_ids = fields.One2many(
        "bookkeeping.mapping",
        "backend_id",
        domain=[("mapping_type", "=", "unit")],
        string="Unit mapping",
    )
