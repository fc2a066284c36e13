"""Customer link state. The remote ids themselves are company-dependent fields added by
each service (``res_partner_<service>.py``)."""

from odoo import fields, models
from odoo.exceptions import UserError

from ..clients import errors as client_errors


class ResPartner(models.Model):
    _inherit = "res.partner"

    bookkeeping_sync_state = fields.Selection(
        [("linked", "Linked"), ("error", "Error")],
        "Bookkeeping sync",
        company_dependent=True,
        copy=False,
        readonly=True,
    )
    bookkeeping_sync_error = fields.Char(company_dependent=True, copy=False, readonly=True)
    # What Odoo last sent ("<link id>:<digest>"): an invoice re-sends a linked customer
    # only after it changed (with the link's "Update existing customers from Odoo").
    bookkeeping_sync_hash = fields.Char(company_dependent=True, copy=False, readonly=True)

    def action_bookkeeping_sync_partner(self):
        """Sync button on the partner form: create or update the customer in every active
        link of the current company."""
        backends = self.env["bookkeeping.backend"].search(
            [("company_id", "=", self.env.company.id), ("state", "=", "linked")]
        )
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
            except (client_errors.AuthExpired, client_errors.AccessDenied,
                    client_errors.RateLimited) as error:
                # The link state and the Reconnect activity are committed by the handler.
                backend._handle_backend_error(error)
                raise UserError(backend._remote_failure_text(
                    self.env._("Syncing the customer"), error)) from error
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
