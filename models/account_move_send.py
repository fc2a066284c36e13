"""The Send dialog offers "Book in <service>" next to e-mail and Peppol, the way e-invoicing
modules add themselves (``_get_all_extra_edis``): the invoice is booked when it is sent."""

from odoo import api, models

EDI_KEY = "bookkeeping_link"


class AccountMoveSend(models.AbstractModel):
    _inherit = "account.move.send"

    @api.model
    def _is_bookkeeping_applicable(self, move):
        if move.move_type not in ("out_invoice", "out_refund") or move.state != "posted":
            return False
        if move.bookkeeping_state in ("done", "sent_draft", "sending"):
            return False
        backend = move.bookkeeping_backend_id or move._bookkeeping_default_backend()
        return bool(backend) and backend.state in ("linked", "error")

    def _get_all_extra_edis(self) -> dict:
        # EXTENDS 'account'
        res = super()._get_all_extra_edis()
        backend = self.env["bookkeeping.backend"].search(
            [("company_id", "=", self.env.company.id)], limit=1
        )
        if backend:
            res[EDI_KEY] = {
                "label": self.env._("Book in %(service)s", service=backend._service_label()),
                "is_applicable": self._is_bookkeeping_applicable,
                "help": self.env._(
                    "Send the invoice to the administration %(admin)s now, instead of "
                    "waiting for the next run.",
                    admin=backend._admin_name() or backend.name,
                ),
            }
        return res

    @api.model
    def _call_web_service_after_invoice_pdf_render(self, invoices_data):
        # EXTENDS 'account': the PDF exists now, so it goes with the booking.
        super()._call_web_service_after_invoice_pdf_render(invoices_data)
        moves = self.env["account.move"]
        for invoice, invoice_data in invoices_data.items():
            if EDI_KEY in invoice_data.get("extra_edis", ()) and self._is_bookkeeping_applicable(
                invoice
            ):
                moves |= invoice
        if not moves:
            return
        for move in moves.filtered(lambda m: not m.bookkeeping_backend_id):
            move._bookkeeping_write(
                {"bookkeeping_backend_id": move._bookkeeping_default_backend().id}
            )
        moves._bookkeeping_write({"bookkeeping_state": "to_send"})
        self.env["bookkeeping.backend"]._push_moves(moves)
        for move in moves.filtered(lambda m: m.bookkeeping_state == "error"):
            invoices_data[move]["error"] = {
                "error_title": self.env._(
                    "Not booked in %(service)s:",
                    service=move.bookkeeping_backend_id._service_label(),
                ),
                "errors": [move.bookkeeping_error],
            }
