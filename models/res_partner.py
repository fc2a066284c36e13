"""The customer's links to the bookkeeping administrations (``bookkeeping.partner.link``),
one per link, with the Sync button."""

from odoo import fields, models
from odoo.exceptions import UserError

from ..clients import errors as client_errors


class ResPartner(models.Model):
    _inherit = "res.partner"

    bookkeeping_link_ids = fields.One2many(
        "bookkeeping.partner.link",
        "partner_id",
        "Bookkeeping links",
        groups="account_bookkeeping_link.group_bookkeeping_user",
    )
    bookkeeping_sync_state = fields.Selection(
        [("linked", "Linked"), ("error", "Error")],
        "Bookkeeping sync",
        compute="_compute_bookkeeping_sync_state",
        search="_search_bookkeeping_sync_state",
        help="Over the links of the current company: Error when one of them failed, Linked "
        "when the customer is linked.",
    )

    def _compute_bookkeeping_sync_state(self):
        links = (
            self.env["bookkeeping.partner.link"]
            .sudo()
            .search(
                [
                    ("partner_id", "in", self.commercial_partner_id.ids),
                    ("company_id", "=", self.env.company.id),
                ]
            )
        )
        for partner in self:
            states = set(
                links.filtered(
                    lambda link, p=partner: link.partner_id == p.commercial_partner_id
                ).mapped("state")
            )
            partner.bookkeeping_sync_state = (
                "error" if "error" in states else "linked" if "linked" in states else False
            )

    def _search_bookkeeping_sync_state(self, operator, value):
        if operator not in ("=", "in"):
            return NotImplemented
        states = [value] if operator == "=" else list(value)
        links = (
            self.env["bookkeeping.partner.link"]
            .sudo()
            ._search(
                [
                    ("state", "in", [s for s in states if s]),
                    ("company_id", "=", self.env.company.id),
                ]
            )
        )
        return [("id", "in", links.subselect("partner_id"))]

    def action_bookkeeping_sync_partner(self):
        """Sync button on the partner form: create or update the customer in every active
        link of the current company."""
        backends = (
            self.env["bookkeeping.backend"]
            .search([("company_id", "=", self.env.company.id), ("state", "=", "linked")])
            .filtered(lambda b: "partners" in b._service_capabilities())
        )  # not import links
        if not backends:
            raise UserError(
                self.env._(
                    "No linked bookkeeping link for %(company)s.", company=self.env.company.name
                )
            )
        messages = []
        for backend in backends:
            try:
                with backend._session() as client:
                    for partner in self.commercial_partner_id:
                        remote = backend._push_partner(client, partner)
                        messages.append(self._bookkeeping_sync_message(backend, partner, remote))
            except (
                client_errors.AuthExpired,
                client_errors.AccessDenied,
                client_errors.RateLimited,
            ) as error:
                # The link state and the Reconnect activity are committed by the handler.
                backend._handle_backend_error(error)
                raise UserError(
                    backend._remote_failure_text(self.env._("Syncing the customer"), error)
                ) from error
            except client_errors.BookkeepingError as error:
                raise UserError(backend._remote_error_text(error)) from error
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": "\n".join(messages), "type": "success"},
        }

    def _bookkeeping_sync_message(self, backend, partner, remote):
        params = {"partner": partner.display_name, "service": backend._service_label()}
        outcome = remote.get("outcome")
        if outcome == "created":
            return self.env._("%(partner)s was created in %(service)s.", **params)
        if outcome == "linked":
            return self.env._(
                "%(partner)s is now linked to the existing customer in %(service)s; its data "
                "there was left as it is.",
                **params,
            )
        if outcome == "updated":
            return self.env._(
                "%(partner)s was updated in %(service)s (only the fields that have a value "
                "in Odoo).",
                **params,
            )
        if outcome == "kept":
            return self.env._(
                "%(partner)s is linked to %(service)s. Odoo's data was not sent: turn on "
                "'Update existing customers from Odoo' on the link to send it.",
                **params,
            )
        return self.env._("%(partner)s is up to date in %(service)s.", **params)
