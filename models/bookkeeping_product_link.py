"""The link between an Odoo product and the article (item) of one bookkeeping link.

For services that book invoice lines on remote articles: the article is matched by the
product's internal reference (SKU), or created once, and remembered here so that sending
an invoice costs no look-up. One record per (link, product), for every such service alike.
"""

from odoo import fields, models


class BookkeepingProductLink(models.Model):
    _name = "bookkeeping.product.link"
    _description = "Product link to a bookkeeping article"
    _order = "backend_id, id"
    _check_company_auto = True

    backend_id = fields.Many2one(
        "bookkeeping.backend", "Link", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    product_id = fields.Many2one(
        "product.product", "Product", required=True, ondelete="cascade", index=True
    )
    remote_id = fields.Char("Remote ID", required=True, copy=False, readonly=True)
    remote_code = fields.Char(
        "Remote number", copy=False, readonly=True, help="The article number remotely (SKU)."
    )
    # What Odoo last sent (a digest), so an article is written again only after it changed.
    sent_hash = fields.Char(readonly=True, copy=False)

    _unique_product = models.Constraint(
        "unique(backend_id, product_id)", "A product has one article per bookkeeping link."
    )
