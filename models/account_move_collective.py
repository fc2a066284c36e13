"""Invoices held by a collective entry (bookkeeping_collective.py): the flag that keeps
them off the one-by-one path, the entry that holds them, and the guards that keep an
entry's sums equal to its invoices."""

from odoo import api, fields, models
from odoo.exceptions import UserError

from .account_move import SENDABLE_TYPES


class AccountMove(models.Model):
    _inherit = "account.move"

    bookkeeping_collective = fields.Boolean(
        "Collective booking",
        copy=False,
        readonly=True,
        index=True,
        help="This invoice goes into the collective entry of its day and journal, booked once "
        "the day is over, never on its own.",
    )
    bookkeeping_collective_entry_id = fields.Many2one(
        "bookkeeping.collective.entry",
        "Collective entry",
        copy=False,
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
    )

    def _bookkeeping_flag_collective(self):
        """Flag the queued invoices that go collective (and unflag the ones that no longer
        do, e.g. the customer got a VAT number), while no entry holds them."""
        flags = {True: [], False: []}
        for move in self.filtered(lambda m: not m.bookkeeping_collective_entry_id):
            backend = move.bookkeeping_backend_id
            applies = bool(backend) and backend._collective_applies(move)
            if applies != move.bookkeeping_collective:
                flags[applies].append(move.id)
        for value, ids in flags.items():
            if ids:
                self.browse(ids)._bookkeeping_write({"bookkeeping_collective": value})

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        posted.filtered(
            lambda m: m.bookkeeping_state == "to_send" and m.bookkeeping_backend_id
        )._bookkeeping_flag_collective()
        return posted

    def action_bookkeeping_send(self):
        """Invoices that go collective are queued for their day's entry, not sent alone."""
        sendable = self.filtered(
            lambda m: (
                m.move_type in SENDABLE_TYPES
                and m.state == "posted"
                and m.bookkeeping_state not in ("done", "sent_draft", "sending")
            )
        )
        for move in sendable.filtered(lambda m: not m.bookkeeping_backend_id):
            backend = move._bookkeeping_default_backend()
            if backend:
                move._bookkeeping_write({"bookkeeping_backend_id": backend.id})
        sendable._bookkeeping_flag_collective()
        collective = sendable.filtered("bookkeeping_collective")
        if not collective:
            return super().action_bookkeeping_send()
        collective.filtered(lambda m: not m.bookkeeping_collective_entry_id)._bookkeeping_write(
            {"bookkeeping_state": "to_send", "bookkeeping_error": False}
        )
        rest = self - collective
        if rest:
            return super(AccountMove, rest).action_bookkeeping_send()
        return self._bookkeeping_notify(
            self.env._(
                "%(count)s invoices of private persons go into the collective entry of their "
                "day, booked once the day is over (or with Book now on the link).",
                count=len(collective),
            ),
            kind="info",
        )

    def _bookkeeping_booked_remotely(self):
        return bool(self.bookkeeping_collective_entry_id) or super()._bookkeeping_booked_remotely()

    @api.depends("bookkeeping_collective_entry_id")
    def _compute_show_reset_to_draft_button(self):
        return super()._compute_show_reset_to_draft_button()

    def button_draft(self):
        """An entry's sums are its invoices': an invoice it holds is corrected with a credit
        note (which goes into a correcting entry), never reset."""
        for move in self.filtered("bookkeeping_collective_entry_id"):
            raise UserError(
                self.env._(
                    "%(move)s is held by the collective entry %(entry)s, so it cannot be reset "
                    "to draft: make a credit note (it goes into a correcting entry) and, if "
                    "needed, a new invoice.",
                    move=move.display_name,
                    entry=move.bookkeeping_collective_entry_id.name,
                )
            )
        return super().button_draft()
