"""The link between an Odoo customer and the customer record of one bookkeeping link.

One record per (link, commercial partner), for every service alike: the remote id and the
code the remote package shows, and the sync state of *that* link. A company with two links
(say an old and a new administration) sees a separate state for each; one state per
company used to cover every link.
"""

from odoo import api, fields, models


class BookkeepingPartnerLink(models.Model):
    _name = "bookkeeping.partner.link"
    _description = "Customer link to a bookkeeping administration"
    _order = "backend_id, id"
    _check_company_auto = True

    backend_id = fields.Many2one(
        "bookkeeping.backend", "Link", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    service = fields.Selection(related="backend_id.service")
    partner_id = fields.Many2one(
        "res.partner",
        "Customer",
        required=True,
        ondelete="cascade",
        index=True,
        domain=[("parent_id", "=", False)],
    )
    remote_id = fields.Char(
        "Remote ID", copy=False, readonly=True, help="The customer's key in the remote package."
    )
    remote_code = fields.Char(
        "Remote number",
        copy=False,
        readonly=True,
        help="The customer number or code the remote package shows.",
    )
    state = fields.Selection(
        [("linked", "Linked"), ("error", "Error")], "Sync state", readonly=True, copy=False
    )
    error = fields.Char("Sync error", readonly=True, copy=False)
    # What Odoo last sent (a digest): an invoice re-sends a linked customer only after it
    # changed (with the link's "Update existing customers from Odoo").
    sent_hash = fields.Char(readonly=True, copy=False)
    last_sync = fields.Datetime("Last sync", readonly=True, copy=False)
    remote_url = fields.Char("Open in", compute="_compute_remote_url")

    _unique_partner = models.Constraint(
        "unique(backend_id, partner_id)", "A customer has one record per bookkeeping link."
    )
    _unique_remote = models.UniqueIndex(
        "(backend_id, remote_id) WHERE remote_id IS NOT NULL",
        "This remote customer is already linked to another contact.",
    )

    @api.depends("remote_id", "backend_id")
    def _compute_remote_url(self):
        for link in self:
            link.remote_url = (
                link.backend_id._service_partner_url(link) if link.remote_id else False
            )

    @api.depends("backend_id", "remote_code", "remote_id")
    def _compute_display_name(self):
        for link in self:
            link.display_name = (
                f"{link.backend_id.display_name}: {link.remote_code or link.remote_id or '-'}"
            )
