"""The Bookkeeping block of Invoicing/Accounting Settings: the company's links with their
state, and a button per service to link one (each service's views add their button)."""

from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    bookkeeping_backend_ids = fields.Many2many(
        "bookkeeping.backend",
        string="Bookkeeping links",
        compute="_compute_bookkeeping_backend_ids",
    )

    def _compute_bookkeeping_backend_ids(self):
        for settings in self:
            settings.bookkeeping_backend_ids = self.env["bookkeeping.backend"].search(
                [("company_id", "=", settings.company_id.id)]
            )

    def action_bookkeeping_link(self):
        """A button per service: the setup assistant with that service chosen."""
        return self.env["bookkeeping.backend"].action_setup_start(
            service=self.env.context.get("bookkeeping_service")
        )

    def action_bookkeeping_open_links(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "account_bookkeeping_link.bookkeeping_backend_action"
        )
        action["domain"] = [("company_id", "=", self.company_id.id)]
        return action
