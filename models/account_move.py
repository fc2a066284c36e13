"""Sync state of customer invoices and credit notes.

The remote number has its own field: ``name`` is hash-protected on locked journals and is
the Odoo number in "Odoo numbers the invoice" mode.
"""

import hashlib
import json
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

SYNC_STATES = [
    ("not_applicable", "Not sent"),
    ("to_send", "To send"),
    ("sending", "Sending"),
    ("sent_draft", "Waiting for number"),
    ("done", "Booked"),
    ("error", "Error"),
]
# Delay before the next automatic attempt after a retryable error, per attempt.
BACKOFF_MINUTES = [1, 5, 15, 60, 240]
SENDABLE_TYPES = ("out_invoice", "out_refund")


class AccountMove(models.Model):
    _inherit = "account.move"

    bookkeeping_backend_id = fields.Many2one(
        "bookkeeping.backend", "Bookkeeping link", copy=False, index="btree_not_null",
        check_company=True,
    )
    # tracking=False: a related field would inherit the tracking of the link's service and
    # post a chatter message on every invoice sent.
    bookkeeping_service = fields.Selection(related="bookkeeping_backend_id.service",
                                           tracking=False)
    bookkeeping_state = fields.Selection(
        SYNC_STATES, "Bookkeeping", default="not_applicable", required=True, copy=False,
        index=True,
    )
    bookkeeping_remote_id = fields.Char("Remote ID", copy=False, index="btree_not_null",
                                        readonly=True)
    bookkeeping_remote_ref = fields.Char(
        "Remote draft / order", copy=False, readonly=True,
        help="What the remote package shows before its number exists: the Exact order "
        "number or the Asperion draft id.")
    bookkeeping_remote_number = fields.Char("Remote number", copy=False, readonly=True)
    bookkeeping_remote_status = fields.Char("Remote status", copy=False, readonly=True)
    bookkeeping_remote_payment_state = fields.Selection(
        [("open", "Open"), ("partial", "Partially paid"), ("paid", "Paid")],
        "Remote payment", copy=False, readonly=True,
    )
    bookkeeping_remote_residual = fields.Monetary("Remote open amount", copy=False,
                                                  readonly=True)
    bookkeeping_remote_amount = fields.Monetary(
        "Remote total", copy=False, readonly=True,
        help="The total including VAT that the remote package read back after booking.")
    bookkeeping_error = fields.Text("Sync error", copy=False, readonly=True)
    bookkeeping_error_retryable = fields.Boolean(copy=False, readonly=True)
    bookkeeping_outcome_unknown = fields.Boolean(
        copy=False, readonly=True,
        help="A send attempt may have reached the remote package: look it up by reference "
        "before sending again.")
    bookkeeping_attempts = fields.Integer("Send attempts", copy=False, readonly=True)
    bookkeeping_next_attempt = fields.Datetime(copy=False, readonly=True)
    bookkeeping_sent_date = fields.Datetime("Sent on", copy=False, readonly=True)
    bookkeeping_sent_hash = fields.Char(copy=False, readonly=True)
    bookkeeping_remote_url = fields.Char("Open remotely",
                                         compute="_compute_bookkeeping_remote_url")

    @api.depends("bookkeeping_remote_id", "bookkeeping_backend_id")
    def _compute_bookkeeping_remote_url(self):
        for move in self:
            backend = move.bookkeeping_backend_id
            move.bookkeeping_remote_url = (
                backend._service_call("remote_url", move)
                if backend and move.bookkeeping_remote_id else False
            )

    # ------------------------------------------------------------------ helpers

    def _bookkeeping_write(self, vals):
        """Write sync fields only. They are no accounting data, so this skips
        ``account.move.write`` (balance checks, dynamic-line sync, lock dates) and mail
        tracking, which would cost dozens of queries per invoice on a posted move."""
        assert all(key.startswith("bookkeeping_") for key in vals), vals
        return models.Model.write(self, vals)

    def _bookkeeping_default_backend(self):
        self.ensure_one()
        return self.env["bookkeeping.backend"].search(
            [("company_id", "=", self.company_id.id)], limit=1)

    def _bookkeeping_applicable(self):
        self.ensure_one()
        return self.move_type in SENDABLE_TYPES and self.state == "posted"

    def _bookkeeping_hash(self):
        """A fingerprint of what was sent, to detect a change after sending."""
        self.ensure_one()
        lines = [
            (line.account_id.id, line.display_type, round(line.price_subtotal, 2),
             round(line.price_total, 2), line.tax_ids.ids, line.name or "")
            for line in self.invoice_line_ids
        ]
        data = [self.partner_id.id, str(self.invoice_date), self.currency_id.name,
                round(self.amount_total, 2), round(self.amount_tax, 2), self.name, lines]
        return hashlib.sha1(json.dumps(data, default=str).encode()).hexdigest()

    def _bookkeeping_set_error(self, message, *, retryable, outcome_unknown=None,
                               count_attempt=True):
        now = fields.Datetime.now()
        for move in self:
            attempts = move.bookkeeping_attempts + (1 if count_attempt else 0)
            delay = BACKOFF_MINUTES[min(max(attempts - 1, 0), len(BACKOFF_MINUTES) - 1)]
            vals = {
                "bookkeeping_state": "error",
                "bookkeeping_error": message,
                "bookkeeping_error_retryable": retryable,
                "bookkeeping_attempts": attempts,
                "bookkeeping_next_attempt": now + timedelta(minutes=delay) if retryable
                else False,
            }
            if outcome_unknown is not None:
                vals["bookkeeping_outcome_unknown"] = outcome_unknown
            elif not retryable:
                vals["bookkeeping_outcome_unknown"] = False
            move._bookkeeping_write(vals)

    def _bookkeeping_set_result(self, result):
        """Store what the remote package answered. ``result`` keys: remote_id, state
        ('done' or 'sent_draft'), and optionally remote_ref, remote_number, remote_status,
        remote_amount."""
        self.ensure_one()
        vals = {
            "bookkeeping_state": result.get("state", "done"),
            "bookkeeping_remote_id": result["remote_id"],
            "bookkeeping_error": False,
            "bookkeeping_error_retryable": False,
            "bookkeeping_outcome_unknown": False,
            "bookkeeping_next_attempt": False,
            "bookkeeping_sent_date": fields.Datetime.now(),
            "bookkeeping_sent_hash": self._bookkeeping_hash(),
        }
        for key in ("remote_ref", "remote_number", "remote_status", "remote_amount"):
            if result.get(key) is not None:
                vals[f"bookkeeping_{key}"] = result[key]
        if result.get("remote_payment_state"):
            vals["bookkeeping_remote_payment_state"] = result["remote_payment_state"]
        self._bookkeeping_write(vals)

    # ------------------------------------------------------------------ ORM hooks

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        to_queue = self.env["account.move"]
        for move in posted.filtered(lambda m: m.move_type in SENDABLE_TYPES):
            backend = move.bookkeeping_backend_id or move._bookkeeping_default_backend()
            if not backend:
                continue
            if move.bookkeeping_remote_id:
                # Re-posted after a reset to draft: it is already booked remotely.
                if move.bookkeeping_sent_hash == move._bookkeeping_hash():
                    move._bookkeeping_write({"bookkeeping_state": "sent_draft" if (
                        move.bookkeeping_remote_ref and not move.bookkeeping_remote_number
                        and backend.invoice_mode == "remote") else "done"})
                else:
                    move._bookkeeping_write({"bookkeeping_backend_id": backend.id})
                    move._bookkeeping_set_error(
                        self.env._(
                            "This invoice was changed after it was sent to %(service)s as "
                            "%(ref)s. The booked version cannot be changed from Odoo: make a "
                            "credit note and a new invoice instead.",
                            service=backend._service_label(),
                            ref=move.bookkeeping_remote_number or move.bookkeeping_remote_ref
                            or move.bookkeeping_remote_id),
                        retryable=False)
                continue
            if backend.date_from and move.invoice_date and move.invoice_date < backend.date_from:
                continue
            if backend.push_on_post:
                to_queue |= move
                move._bookkeeping_write({"bookkeeping_backend_id": backend.id})
        if to_queue:
            to_queue._bookkeeping_write({"bookkeeping_state": "to_send",
                                         "bookkeeping_error": False})
            self.env.ref("account_bookkeeping_link.ir_cron_bookkeeping_push")._trigger()
        return posted

    def button_cancel(self):
        sent = self.filtered("bookkeeping_remote_id")
        res = super().button_cancel()
        for move in sent:
            # Never delete or cancel remotely: a remote number is never reused.
            move._message_log(body=self.env._(
                "Cancelled in Odoo only. The invoice stays booked in %(service)s as %(ref)s; "
                "book a credit note there if needed.",
                service=move.bookkeeping_backend_id._service_label(),
                ref=move.bookkeeping_remote_number or move.bookkeeping_remote_ref
                or move.bookkeeping_remote_id))
        return res

    # ------------------------------------------------------------------ actions

    def action_bookkeeping_send(self):
        """Button and list action: send now. Invoices that are not sendable are reported,
        not silently skipped."""
        moves = self.filtered(lambda m: m.move_type in SENDABLE_TYPES)
        if not moves:
            raise UserError(self.env._("Select posted customer invoices or credit notes."))
        not_posted = moves.filtered(lambda m: m.state != "posted")
        if not_posted:
            raise UserError(self.env._(
                "Post these invoices before sending them: %(names)s",
                names=", ".join(not_posted.mapped("display_name"))))
        for move in moves.filtered(lambda m: not m.bookkeeping_backend_id):
            backend = move._bookkeeping_default_backend()
            if not backend:
                raise UserError(self.env._(
                    "No bookkeeping link is set up for %(company)s. Create one under "
                    "Accounting > Configuration > Bookkeeping links.",
                    company=move.company_id.name))
            move._bookkeeping_write({"bookkeeping_backend_id": backend.id})
        pending = moves.filtered(lambda m: m.bookkeeping_state not in ("done", "sent_draft"))
        for backend in pending.bookkeeping_backend_id:
            if reason := backend._not_ready_message():
                raise UserError(reason)
        pending._bookkeeping_write({"bookkeeping_state": "to_send"})
        if len(pending) > 20:
            # Large selections go through the cron, which commits per invoice.
            self.env.ref("account_bookkeeping_link.ir_cron_bookkeeping_push")._trigger()
            return self._bookkeeping_notify(self.env._(
                "%(count)s invoices are queued and will be sent in the background.",
                count=len(pending)))
        self.env["bookkeeping.backend"]._push_moves(pending)
        failed = pending.filtered(lambda m: m.bookkeeping_state == "error")
        if len(pending) == 1 and failed:
            return self._bookkeeping_notify(failed.bookkeeping_error, kind="danger")
        return self._bookkeeping_notify(self.env._(
            "%(ok)s of %(count)s invoices sent.", ok=len(pending) - len(failed),
            count=len(pending)), kind="warning" if failed else "success")

    def action_bookkeeping_sync(self):
        """Pull numbers and payment state for these invoices (bulk calls)."""
        for backend in self.bookkeeping_backend_id:
            backend._sync_remote_state()
        return True

    def action_bookkeeping_open_remote(self):
        self.ensure_one()
        if not self.bookkeeping_remote_url:
            raise UserError(self.env._("This invoice has not been sent yet."))
        return {"type": "ir.actions.act_url", "url": self.bookkeeping_remote_url,
                "target": "new"}

    def _bookkeeping_notify(self, message, kind="success"):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": message, "type": kind, "sticky": kind == "danger",
                       "next": {"type": "ir.actions.act_window_close"}},
        }
