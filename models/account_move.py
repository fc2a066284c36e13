"""Sync state of customer invoices and credit notes.

The remote number has its own field: ``name`` is hash-protected on locked journals and is
the Odoo number in "Odoo numbers the invoice" mode.
"""

import hashlib
import json
from datetime import timedelta

from odoo import api, fields, models, tools
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
INVOICE_MODES = [
    ("remote", "The remote package numbers the invoice"),
    ("odoo", "Odoo numbers the invoice"),
]
PDF_STATES = [
    ("pending", "To attach"),
    ("attached", "Attached"),
    ("failed", "Not attached"),
]


# The remote status of an invoice, shared by every service (services map their codes).
REMOTE_STATUSES = [
    ("draft", "Draft"),
    ("open", "Open"),
    ("in_journal", "In journal entry"),
    ("booked", "Booked"),
    ("payable", "Payable"),
    ("paid", "Paid"),
    ("on_hold", "On hold"),
    ("other", "Other"),
]


class AccountMove(models.Model):
    _inherit = "account.move"

    bookkeeping_backend_id = fields.Many2one(
        "bookkeeping.backend",
        "Bookkeeping link",
        copy=False,
        index="btree_not_null",
        check_company=True,
    )
    # tracking=False: a related field would inherit the tracking of the link's service and
    # post a chatter message on every invoice sent.
    bookkeeping_service = fields.Selection(related="bookkeeping_backend_id.service", tracking=False)
    bookkeeping_state = fields.Selection(
        SYNC_STATES,
        "Bookkeeping",
        default="not_applicable",
        required=True,
        copy=False,
        index=True,
    )
    bookkeeping_remote_id = fields.Char(
        "Remote ID", copy=False, index="btree_not_null", readonly=True
    )
    bookkeeping_remote_ref = fields.Char(
        "Remote draft / order",
        copy=False,
        readonly=True,
        help="What the remote package shows before its number exists (an order number or a "
        "draft id).",
    )
    bookkeeping_remote_number = fields.Char("Remote number", copy=False, readonly=True)
    bookkeeping_remote_status = fields.Selection(
        REMOTE_STATUSES,
        "Remote status",
        copy=False,
        readonly=True,
        help="The invoice's status in the remote package, in the same words for every "
        "service; each service maps its own status codes to these.",
    )
    bookkeeping_remote_payment_state = fields.Selection(
        [("open", "Open"), ("partial", "Partially paid"), ("paid", "Paid")],
        "Remote payment",
        copy=False,
        readonly=True,
    )
    bookkeeping_remote_residual = fields.Monetary("Remote open amount", copy=False, readonly=True)
    bookkeeping_remote_amount = fields.Monetary(
        "Remote total",
        copy=False,
        readonly=True,
        help="The total including VAT that the remote package read back after booking.",
    )
    bookkeeping_error = fields.Text("Sync error", copy=False, readonly=True)
    bookkeeping_error_retryable = fields.Boolean(copy=False, readonly=True)
    bookkeeping_outcome_unknown = fields.Boolean(
        copy=False,
        readonly=True,
        help="A send attempt may have reached the remote package: look it up by reference "
        "before sending again.",
    )
    bookkeeping_attempts = fields.Integer("Send attempts", copy=False, readonly=True)
    bookkeeping_next_attempt = fields.Datetime(copy=False, readonly=True)
    bookkeeping_sent_date = fields.Datetime("Sent on", copy=False, readonly=True)
    bookkeeping_sent_hash = fields.Char(copy=False, readonly=True)
    # The link's mode may change later; what was sent stays what it was (number and payment
    # sync, look-ups and the remote link follow this one).
    bookkeeping_invoice_mode = fields.Selection(
        INVOICE_MODES,
        "Sent as",
        copy=False,
        readonly=True,
        help="The invoice mode of the link when this invoice was sent.",
    )
    bookkeeping_pdf_state = fields.Selection(
        PDF_STATES,
        "Invoice PDF",
        copy=False,
        readonly=True,
        help="To attach: the invoice was booked without its PDF (it could not be made, e.g. "
        "no PDF renderer on the server); a later run attaches it.",
    )
    bookkeeping_pdf_error = fields.Text("PDF problem", copy=False, readonly=True)
    bookkeeping_pdf_remote_id = fields.Char(
        "Remote PDF document",
        copy=False,
        readonly=True,
        help="The remote document made for the PDF, reused when attaching it again.",
    )
    bookkeeping_remote_url = fields.Char("Open remotely", compute="_compute_bookkeeping_remote_url")

    @api.depends("bookkeeping_remote_id", "bookkeeping_backend_id")
    def _compute_bookkeeping_remote_url(self):
        for move in self:
            backend = move.bookkeeping_backend_id
            move.bookkeeping_remote_url = (
                backend._service_remote_url(move)
                if backend and move.bookkeeping_remote_id
                else False
            )

    # ------------------------------------------------------------------ helpers

    def _bookkeeping_write(self, vals):
        """Write sync fields only. They are no accounting data, so this skips
        ``account.move.write`` (balance checks, dynamic-line sync, lock dates) and mail
        tracking, which would cost dozens of queries per invoice on a posted move. What
        an auditor must see (a number received, a payment seen remotely) goes to the
        chatter here, whichever service or run wrote it."""
        assert all(key.startswith("bookkeeping_") for key in vals), vals
        notes = (
            self._bookkeeping_sync_notes(vals)
            if ("bookkeeping_remote_number" in vals or "bookkeeping_remote_payment_state" in vals)
            else {}
        )
        result = models.Model.write(self, vals)
        for move, body in notes.items():
            move._bookkeeping_note(body)
        return result

    def _bookkeeping_note(self, body):
        """A line in the chatter (a note, no notification, as account_peppol logs). The
        author comes from a cache: every invoice of a run is committed on its own, which
        empties the ORM cache, and reading the author again would cost queries each time."""
        self.ensure_one()
        author_id, email_from = self._bookkeeping_note_author(self.env.uid)
        return self._message_log(body=body, author_id=author_id, email_from=email_from)

    @api.model
    @tools.ormcache("uid")
    def _bookkeeping_note_author(self, uid):
        partner = self.env["res.users"].sudo().browse(uid).partner_id
        return partner.id, partner.email_formatted

    def _bookkeeping_sync_notes(self, vals):
        """{move: text} for a remote number that arrives and a remote payment state that
        changes (read before the write)."""
        notes = {}
        number = vals.get("bookkeeping_remote_number")
        payment = vals.get("bookkeeping_remote_payment_state")
        labels = dict(
            self._fields["bookkeeping_remote_payment_state"]._description_selection(self.env)
        )
        for move in self:
            service = move.bookkeeping_backend_id._service_label()
            lines = []
            if number and number != move.bookkeeping_remote_number:
                lines.append(
                    self.env._(
                        "Number received from %(service)s: %(number)s.",
                        service=service,
                        number=number,
                    )
                )
            if (
                payment
                and payment != move.bookkeeping_remote_payment_state
                and (payment != "open" or move.bookkeeping_remote_payment_state)
            ):
                if payment == "paid":
                    lines.append(self.env._("Paid in %(service)s.", service=service))
                else:
                    lines.append(
                        self.env._(
                            "Payment in %(service)s: %(state)s.",
                            service=service,
                            state=labels.get(payment),
                        )
                    )
            if lines:
                notes[move] = " ".join(lines)
        return notes

    def _bookkeeping_default_backend(self):
        """The company's first link that receives invoices (an import link never does)."""
        self.ensure_one()
        return (
            self.env["bookkeeping.backend"]
            .search([("company_id", "=", self.company_id.id)])
            .filtered(lambda backend: "push" in backend._service_capabilities())[:1]
        )

    def _bookkeeping_applicable(self):
        self.ensure_one()
        return self.move_type in SENDABLE_TYPES and self.state == "posted"

    def _bookkeeping_hash(self):
        """A fingerprint of what was sent, to detect a change after sending."""
        self.ensure_one()
        lines = [
            (
                line.account_id.id,
                line.display_type,
                round(line.price_subtotal, 2),
                round(line.price_total, 2),
                line.tax_ids.ids,
                line.name or "",
            )
            for line in self.invoice_line_ids
        ]
        data = [
            self.partner_id.id,
            str(self.invoice_date),
            self.currency_id.name,
            round(self.amount_total, 2),
            round(self.amount_tax, 2),
            self.name,
            lines,
        ]
        return hashlib.sha1(json.dumps(data, default=str).encode()).hexdigest()

    def _bookkeeping_set_error(
        self, message, *, retryable, outcome_unknown=None, count_attempt=True
    ):
        now = fields.Datetime.now()
        for move in self:
            attempts = move.bookkeeping_attempts + (1 if count_attempt else 0)
            delay = BACKOFF_MINUTES[min(max(attempts - 1, 0), len(BACKOFF_MINUTES) - 1)]
            vals = {
                "bookkeeping_state": "error",
                "bookkeeping_error": message,
                "bookkeeping_error_retryable": retryable,
                "bookkeeping_attempts": attempts,
                "bookkeeping_next_attempt": now + timedelta(minutes=delay) if retryable else False,
            }
            if outcome_unknown is not None:
                vals["bookkeeping_outcome_unknown"] = outcome_unknown
            elif not retryable:
                vals["bookkeeping_outcome_unknown"] = False
            # Every error in the chatter; an automatic retry that fails the same way as the
            # last one adds none (an outage would fill the chatter every few minutes).
            repeated = move.bookkeeping_error_retryable and move.bookkeeping_error == message
            move._bookkeeping_write(vals)
            if not repeated:
                move._bookkeeping_note(
                    self.env._(
                        "Not sent to %(service)s: %(error)s",
                        service=move.bookkeeping_backend_id._service_label()
                        or self.env._("bookkeeping"),
                        error=message,
                    )
                )

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
            "bookkeeping_invoice_mode": result.get("invoice_mode")
            or self.bookkeeping_backend_id.invoice_mode,
        }
        for key in ("remote_ref", "remote_number", "remote_status", "remote_amount"):
            if result.get(key) is not None:
                vals[f"bookkeeping_{key}"] = result[key]
        if result.get("remote_payment_state"):
            vals["bookkeeping_remote_payment_state"] = result["remote_payment_state"]
        # A send attempt, whether from the button, the Send dialog or the cron.
        vals["bookkeeping_attempts"] = self.bookkeeping_attempts + 1
        models.Model.write(self, vals)
        self._bookkeeping_note(self._bookkeeping_sent_note(vals))

    def _bookkeeping_sent_note(self, vals):
        backend = self.bookkeeping_backend_id
        if vals["bookkeeping_state"] == "sent_draft":
            return self.env._(
                "Sent to %(admin)s as draft %(ref)s; %(service)s gives it its number.",
                admin=backend._admin_label(),
                service=backend._service_label(),
                ref=self.bookkeeping_remote_ref or self.bookkeeping_remote_id,
            )
        number = self.bookkeeping_remote_number or self.bookkeeping_remote_ref
        if number:
            return self.env._(
                "Booked in %(admin)s as %(number)s.", admin=backend._admin_label(), number=number
            )
        return self.env._("Booked in %(admin)s.", admin=backend._admin_label())

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
                    mode = move.bookkeeping_invoice_mode or backend.invoice_mode
                    move._bookkeeping_write(
                        {
                            "bookkeeping_state": "sent_draft"
                            if (
                                move.bookkeeping_remote_ref
                                and not move.bookkeeping_remote_number
                                and mode == "remote"
                            )
                            else "done"
                        }
                    )
                else:
                    move._bookkeeping_write({"bookkeeping_backend_id": backend.id})
                    move._bookkeeping_set_error(
                        self.env._(
                            "This invoice was changed after it was sent to %(service)s as "
                            "%(ref)s. The booked version cannot be changed from Odoo: make a "
                            "credit note and a new invoice instead.",
                            service=backend._service_label(),
                            ref=move.bookkeeping_remote_number
                            or move.bookkeeping_remote_ref
                            or move.bookkeeping_remote_id,
                        ),
                        retryable=False,
                    )
                continue
            if backend.date_from and move.invoice_date and move.invoice_date < backend.date_from:
                continue
            if backend.push_on_post:
                to_queue |= move
                move._bookkeeping_write({"bookkeeping_backend_id": backend.id})
        if to_queue:
            to_queue._bookkeeping_write(
                {"bookkeeping_state": "to_send", "bookkeeping_error": False}
            )
            to_queue.bookkeeping_backend_id._schedule_push()
        return posted

    def _bookkeeping_booked_remotely(self):
        """True when the remote package has (or may have) this invoice: it is booked, a
        draft waits there, it is being sent, or an earlier send may have reached it."""
        self.ensure_one()
        return bool(
            self.bookkeeping_remote_id
            or self.bookkeeping_outcome_unknown
            or self.bookkeeping_state in ("sending", "sent_draft", "done")
        )

    @api.depends("bookkeeping_state", "bookkeeping_remote_id", "bookkeeping_outcome_unknown")
    def _compute_show_reset_to_draft_button(self):
        super()._compute_show_reset_to_draft_button()
        for move in self:
            if move.move_type in SENDABLE_TYPES and move._bookkeeping_booked_remotely():
                move.show_reset_to_draft_button = False

    def button_draft(self):
        """A booked invoice cannot drift from its remote copy: like a document sent through
        Peppol, it is corrected with a credit note and a new invoice, never reset."""
        for move in self.filtered(lambda m: m.move_type in SENDABLE_TYPES):
            if not move._bookkeeping_booked_remotely():
                continue
            backend = move.bookkeeping_backend_id
            ref = (
                move.bookkeeping_remote_number
                or move.bookkeeping_remote_ref
                or move.bookkeeping_remote_id
            )
            if move.bookkeeping_state == "sending" or (
                move.bookkeeping_outcome_unknown and not move.bookkeeping_remote_id
            ):
                raise UserError(
                    self.env._(
                        "%(move)s is being sent to %(service)s, or an earlier attempt may have "
                        "reached it. Press Send to bookkeeping first: it looks the invoice up. "
                        "Once it is booked there, correct it with a credit note and a new "
                        "invoice.",
                        move=move.display_name,
                        service=backend._service_label(),
                    )
                )
            raise UserError(
                self.env._(
                    "%(move)s is booked in %(service)s (%(ref)s), so it cannot be reset to "
                    "draft: the booked version would no longer match Odoo's. Make a credit note "
                    "(the Credit Note button; it goes to %(service)s like any invoice) and, if "
                    "needed, a new invoice.",
                    move=move.display_name,
                    service=backend._service_label(),
                    ref=ref,
                )
            )
        for move in self.filtered(lambda m: m.bookkeeping_state in ("to_send", "error")):
            # Not sent: back to not applicable; posting it again queues it again.
            move._bookkeeping_write(
                {
                    "bookkeeping_state": "not_applicable",
                    "bookkeeping_error": False,
                    "bookkeeping_error_retryable": False,
                    "bookkeeping_next_attempt": False,
                }
            )
        return super().button_draft()

    def button_cancel(self):
        sent = self.filtered("bookkeeping_remote_id")
        res = super().button_cancel()
        for move in sent:
            # Never delete or cancel remotely: a remote number is never reused.
            move._message_log(
                body=self.env._(
                    "Cancelled in Odoo only. The invoice stays booked in %(service)s as %(ref)s; "
                    "book a credit note there if needed.",
                    service=move.bookkeeping_backend_id._service_label(),
                    ref=move.bookkeeping_remote_number
                    or move.bookkeeping_remote_ref
                    or move.bookkeeping_remote_id,
                )
            )
        return res

    # ------------------------------------------------------------------ PDF

    def _bookkeeping_pdf_pending(self, reason):
        """Booked without its PDF: flag it (visible on the invoice) for a later run."""
        for move in self:
            if move.bookkeeping_pdf_state != "pending":
                move._bookkeeping_note(
                    self.env._(
                        "Booked in %(service)s without its PDF: %(reason)s The PDF is attached "
                        "automatically as soon as it can be made.",
                        service=move.bookkeeping_backend_id._service_label(),
                        reason=reason,
                    )
                )
            move._bookkeeping_write(
                {"bookkeeping_pdf_state": "pending", "bookkeeping_pdf_error": reason}
            )

    def _bookkeeping_pdf_done(self, state="attached", reason=False):
        self._bookkeeping_write({"bookkeeping_pdf_state": state, "bookkeeping_pdf_error": reason})

    # ------------------------------------------------------------------ actions

    def action_bookkeeping_send(self):
        """Button and list action: send now. Invoices that are not sendable are reported,
        not silently skipped."""
        moves = self.filtered(lambda m: m.move_type in SENDABLE_TYPES)
        if not moves:
            raise UserError(self.env._("Select posted customer invoices or credit notes."))
        not_posted = moves.filtered(lambda m: m.state != "posted")
        if not_posted:
            raise UserError(
                self.env._(
                    "Post these invoices before sending them: %(names)s",
                    names=", ".join(not_posted.mapped("display_name")),
                )
            )
        for move in moves.filtered(lambda m: not m.bookkeeping_backend_id):
            backend = move._bookkeeping_default_backend()
            if not backend:
                raise UserError(
                    self.env._(
                        "No bookkeeping link is set up for %(company)s. Create one under "
                        "Accounting > Configuration > Bookkeeping links.",
                        company=move.company_id.name,
                    )
                )
            move._bookkeeping_write({"bookkeeping_backend_id": backend.id})
        pending = moves.filtered(lambda m: m.bookkeeping_state not in ("done", "sent_draft"))
        pdfs = moves.filtered(
            lambda m: m.bookkeeping_state == "done" and m.bookkeeping_pdf_state == "pending"
        )
        if not pending and not pdfs:
            return self._bookkeeping_notify(
                self.env._(
                    "These invoices were sent already: %(names)s",
                    names=", ".join(moves.mapped("display_name")),
                ),
                kind="info",
            )
        for backend in (pending | pdfs).bookkeeping_backend_id:
            if reason := backend._not_ready_message():
                raise UserError(reason)
        if pdfs:
            self.env["bookkeeping.backend"]._attach_pending_pdfs(pdfs)
        if not pending:
            done = pdfs.filtered(lambda m: m.bookkeeping_pdf_state == "attached")
            return self._bookkeeping_notify(
                self.env._("%(ok)s of %(count)s PDFs attached.", ok=len(done), count=len(pdfs)),
                kind="success" if done == pdfs else "warning",
            )
        pending._bookkeeping_write({"bookkeeping_state": "to_send"})
        if len(pending) > 20:
            # Large selections go through the cron, which commits per invoice.
            pending.bookkeeping_backend_id._schedule_push()
            return self._bookkeeping_notify(
                self.env._(
                    "%(count)s invoices are queued and will be sent in the background.",
                    count=len(pending),
                )
            )
        return pending._bookkeeping_push_and_report()

    def _bookkeeping_push_and_report(self):
        """Send these invoices now and say what really happened (read back, not assumed)."""
        self.env["bookkeeping.backend"]._push_moves(self)
        failed = self.filtered(lambda m: m.bookkeeping_state == "error")
        sent = self.filtered(lambda m: m.bookkeeping_state in ("done", "sent_draft"))
        waiting = self - failed - sent
        if len(self) == 1 and failed:
            return self._bookkeeping_notify(failed.bookkeeping_error, kind="danger")
        message = self.env._("%(ok)s of %(count)s invoices sent.", ok=len(sent), count=len(self))
        for backend in waiting.bookkeeping_backend_id:
            # The link stopped the run (dead token, access refused, budget): say so.
            if reason := backend._stop_reason():
                message += " " + self.env._(
                    "%(count)s still waiting: %(reason)s",
                    count=len(waiting.filtered(lambda m, b=backend: m.bookkeeping_backend_id == b)),
                    reason=reason,
                )
        kind = "success" if sent == self else ("warning" if sent else "danger")
        return self._bookkeeping_notify(message, kind=kind)

    def action_bookkeeping_sync(self):
        """Button and list action: pull numbers and payment state back (bulk calls for
        the whole link) and say what came back."""
        backends = self.bookkeeping_backend_id
        if not backends:
            return self._bookkeeping_notify(
                self.env._("None of these invoices was sent to a bookkeeping link."), kind="info"
            )
        return backends.action_sync_numbers()

    def action_bookkeeping_open_remote(self):
        self.ensure_one()
        if not self.bookkeeping_remote_url:
            raise UserError(self.env._("This invoice has not been sent yet."))
        return {"type": "ir.actions.act_url", "url": self.bookkeeping_remote_url, "target": "new"}

    def _bookkeeping_notify(self, message, kind="success"):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": message,
                "type": kind,
                "sticky": kind == "danger",
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
