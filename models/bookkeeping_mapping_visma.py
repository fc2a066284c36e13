"""What a Visma eAccounting tax mapping carries beyond the VAT code.

eAccounting takes no VAT per draft row: the row's article fixes it through its account
coding (V32). So each Odoo tax also maps to a coding (new articles get it), and to a default
article of that coding for lines without a product or SKU (seed 004's product flow).
"""

from odoo import api, fields, models


class BookkeepingMapping(models.Model):
    _inherit = "bookkeeping.mapping"

    visma_coding_id = fields.Many2one(
        "bookkeeping.remote.option",
        "Article coding",
        domain="[('backend_id', '=', backend_id), ('kind', '=', 'article_coding')]",
        help="The eAccounting account coding of articles sold with this tax (it fixes the "
        "VAT rate and the revenue account). Suggested by rate.",
    )
    visma_article_id = fields.Many2one(
        "bookkeeping.remote.option",
        "Default article",
        domain="[('backend_id', '=', backend_id), ('kind', '=', 'item')]",
        help="The article used for lines with this tax that have no product or whose "
        "product has no internal reference.",
    )

    @api.onchange("option_id")
    def _onchange_visma_option_id(self):
        for mapping in self.filtered(lambda m: m.backend_id.service == "visma"):
            if mapping.mapping_type == "tax" and not mapping.visma_coding_id:
                mapping.visma_coding_id = mapping.backend_id._visma_coding_for(mapping.tax_id)
