"""A collective entry ("verzamelboeking"): the B2C invoices of one day and one journal of a
link, booked remotely as one entry on the link's default customer.

An entry is keyed (link, invoice date, journal, sequence). Sequence 1 is the day's entry;
a credit note or a late invoice for a day whose entry has gone out is held by a correcting
entry (2, 3, ...). Each invoice is held by exactly one entry (``account.move``'s
``bookkeeping_collective_entry_id``). The lines are kept per Odoo tax and income account,
summed from the invoice documents (Odoo's own rounded amounts, never recomputed), so the
totals equal the sum of the invoices to the cent; the service merges them per remote VAT
code and revenue account when it sends, so that a mapping fixed after a refusal applies.
The engine part (collect, claim, send) is in ``bookkeeping_collective.py``.
"""

from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from .account_move import BACKOFF_MINUTES

ENTRY_STATES = [
    ("draft", "Collecting"),
    ("sending", "Sending"),
    ("done", "Booked"),
    ("error", "Error"),
]


def to_cents(amount):
    return round(amount * 100)


class BookkeepingCollectiveEntry(models.Model):
    _name = "bookkeeping.collective.entry"
    _description = "Collective bookkeeping entry"
    _inherit = ["mail.thread"]
    _order = "date desc, journal_id, sequence desc, id desc"
    _check_company_auto = True

    backend_id = fields.Many2one(
        "bookkeeping.backend", "Bookkeeping link", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    date = fields.Date("Invoice date", required=True, readonly=True)
    journal_id = fields.Many2one(
        "account.journal", required=True, readonly=True, check_company=True
    )
    sequence = fields.Integer(
        required=True,
        readonly=True,
        default=1,
        help="1: the day's entry; 2, 3, ...: correcting entries for credit notes and late "
        "invoices of a day already booked.",
    )
    is_correction = fields.Boolean("Correcting entry", compute="_compute_is_correction")
    reference = fields.Char(
        required=True,
        readonly=True,
        copy=False,
        help="Our reference in the remote package: the entry is looked up by it before any "
        "new attempt, so it is never booked twice.",
    )
    name = fields.Char(compute="_compute_name")
    state = fields.Selection(
        ENTRY_STATES, default="draft", required=True, readonly=True, copy=False, index=True
    )
    move_ids = fields.One2many("account.move", "bookkeeping_collective_entry_id", "Invoices")
    move_count = fields.Integer("Invoices", compute="_compute_move_count")
    line_ids = fields.One2many("bookkeeping.collective.entry.line", "entry_id", "Lines")
    amount_untaxed = fields.Monetary("Untaxed", readonly=True)
    amount_tax = fields.Monetary("VAT", readonly=True)
    amount_total = fields.Monetary("Total", readonly=True)
    remote_id = fields.Char("Remote ID", readonly=True, copy=False)
    remote_number = fields.Char("Remote number", readonly=True, copy=False)
    remote_amount = fields.Monetary(
        "Remote total", readonly=True, help="The total the remote package read back."
    )
    error = fields.Text(readonly=True, copy=False)
    error_retryable = fields.Boolean(readonly=True, copy=False)
    outcome_unknown = fields.Boolean(
        readonly=True,
        copy=False,
        help="A send attempt may have reached the remote package: it is looked up by its "
        "reference before any new attempt.",
    )
    attempts = fields.Integer("Send attempts", readonly=True, copy=False)
    next_attempt = fields.Datetime(readonly=True, copy=False)
    sent_date = fields.Datetime("Booked on", readonly=True, copy=False)

    _unique_key = models.Constraint(
        "unique(backend_id, date, journal_id, sequence)",
        "A link has one collective entry per day, journal and sequence.",
    )
    _unique_reference = models.Constraint(
        "unique(reference)", "The reference of a collective entry is unique."
    )

    @api.depends("sequence")
    def _compute_is_correction(self):
        for entry in self:
            entry.is_correction = entry.sequence > 1

    @api.depends("date", "journal_id", "sequence")
    def _compute_name(self):
        for entry in self:
            name = self.env._(
                "%(journal)s %(date)s", journal=entry.journal_id.code or "", date=entry.date
            )
            if entry.sequence > 1:
                name = self.env._(
                    "%(name)s (correction %(seq)s)", name=name, seq=entry.sequence - 1
                )
            entry.name = name

    def _compute_move_count(self):
        counts = dict(
            self.env["account.move"]._read_group(
                [("bookkeeping_collective_entry_id", "in", self.ids)],
                ["bookkeeping_collective_entry_id"],
                ["__count"],
            )
        )
        for entry in self:
            entry.move_count = counts.get(entry, 0)

    @api.model
    def _reference_for(self, backend, date, journal, sequence):
        """Deterministic, so that a look-up after a crash finds exactly this entry; short
        (Exact's YourRef) and free of the characters OData filters quote."""
        return f"VB{backend.id}-{journal.id}-{date:%Y%m%d}-{sequence}"

    def _remote_description(self):
        self.ensure_one()
        text = self.env._(
            "Collective entry %(journal)s %(date)s", journal=self.journal_id.code, date=self.date
        )
        if self.sequence > 1:
            text = self.env._("%(text)s, correction %(seq)s", text=text, seq=self.sequence - 1)
        return text

    def _add_documents(self, documents):
        """Add invoice documents (``account.move._bookkeeping_document()``) to the lines
        and totals, in cents: the document's amounts are Odoo's, already rounded."""
        self.ensure_one()
        sums = defaultdict(lambda: [0, 0])
        total = 0
        for document in documents:
            total += to_cents(document["total_company"])
            for line in document["lines"]:
                key = (line["taxes"][:1].id or False, line["account"].id)
                sums[key][0] += to_cents(line["amount_company"])
                sums[key][1] += to_cents(line["vat_company"])
        existing = {(line.tax_id.id or False, line.account_id.id): line for line in self.line_ids}
        create = []
        for (tax_id, account_id), (base, vat) in sums.items():
            line = existing.get((tax_id, account_id))
            if line:
                line.write(
                    {
                        "base": (to_cents(line.base) + base) / 100,
                        "vat": (to_cents(line.vat) + vat) / 100,
                    }
                )
            else:
                create.append(
                    {
                        "entry_id": self.id,
                        "tax_id": tax_id,
                        "account_id": account_id,
                        "base": base / 100,
                        "vat": vat / 100,
                    }
                )
        self.env["bookkeeping.collective.entry.line"].create(create)
        base = sum(b for b, _v in sums.values())
        vat = sum(v for _b, v in sums.values())
        self.write(
            {
                "amount_untaxed": (to_cents(self.amount_untaxed) + base) / 100,
                "amount_tax": (to_cents(self.amount_tax) + vat) / 100,
                "amount_total": (to_cents(self.amount_total) + total) / 100,
            }
        )

    def _remote_lines(self, account_key=lambda option: option.code):
        """The lines as the service books them: merged per (remote VAT code, remote
        account), summed in cents, zero lines left out. ``account_key(option)``: what the
        service names the account by (a code, a GUID in its extra data). Raises a
        ``UserError`` naming the mapping to fill in when one went missing since the
        invoices were collected. Returns ``[(vat_code, account_key, base, vat)]``."""
        self.ensure_one()
        backend = self.backend_id
        sums = defaultdict(lambda: [0, 0])
        for line in self.line_ids:
            tax = line.tax_id and backend._mapped_option("tax", line.tax_id)
            code = tax.code if tax else backend.untaxed_vat_code_id.code
            account = backend._mapped_option("account", line.account_id)
            key = account and account_key(account)
            if not code or not key:
                raise UserError(
                    self.env._(
                        "Map the tax %(tax)s and the income account %(account)s on the link "
                        "%(name)s before the collective entry %(entry)s can be booked.",
                        tax=line.tax_id.display_name or "-",
                        account=line.account_id.display_name,
                        name=backend.name,
                        entry=self.name,
                    )
                )
            sums[(code, key)][0] += to_cents(line.base)
            sums[(code, key)][1] += to_cents(line.vat)
        return [
            (code, key, base / 100, vat / 100)
            for (code, key), (base, vat) in sums.items()
            if base or vat
        ]

    def _collective_is_empty(self):
        self.ensure_one()
        return not any(to_cents(line.base) or to_cents(line.vat) for line in self.line_ids)

    def action_view_invoices(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Invoices of %(entry)s", entry=self.name),
            "res_model": "account.move",
            "view_mode": "list,form",
            "domain": [("bookkeeping_collective_entry_id", "=", self.id)],
            "context": {"create": False},
        }

    def action_book_now(self):
        """Book these entries now (their days are over: entries are only made for closed
        days). Says what happened, read back."""
        entries = self.filtered(lambda e: e.state != "done")
        if not entries:
            return self.env["bookkeeping.backend"]._notification(
                self.env._("These collective entries are booked already."), kind="info"
            )
        for backend in entries.backend_id:
            if reason := backend._not_ready_message():
                raise UserError(reason)
            backend._in_company_context()._send_collective_entries(
                entries.filtered(lambda e, b=backend: e.backend_id == b)
            )
        return entries.backend_id[:1]._collective_report(entries)

    def _collective_set_error(self, message, *, retryable, outcome_unknown=None):
        now = fields.Datetime.now()
        for entry in self:
            attempts = entry.attempts + 1
            delay = BACKOFF_MINUTES[min(attempts - 1, len(BACKOFF_MINUTES) - 1)]
            vals = {
                "state": "error",
                "error": message,
                "error_retryable": retryable,
                "attempts": attempts,
                "next_attempt": now + timedelta(minutes=delay) if retryable else False,
            }
            if outcome_unknown is not None:
                vals["outcome_unknown"] = outcome_unknown
            repeated = entry.error_retryable and entry.error == message
            entry.write(vals)
            # The invoices say why they are not booked (one UPDATE for the whole entry).
            entry.move_ids._bookkeeping_write(
                {
                    "bookkeeping_state": "error",
                    "bookkeeping_error_retryable": retryable,
                    "bookkeeping_error": self.env._(
                        "Collective entry %(entry)s: %(error)s", entry=entry.name, error=message
                    ),
                }
            )
            if not repeated:
                entry._message_log(body=message)

    def _collective_set_result(self, result):
        """Booked: the entry and its invoices say so, each invoice in its chatter."""
        self.ensure_one()
        backend = self.backend_id
        self.write(
            {
                "state": "done",
                "remote_id": result["remote_id"],
                "remote_number": result.get("remote_number") or False,
                "remote_amount": result.get("remote_amount") or 0.0,
                "error": False,
                "error_retryable": False,
                "outcome_unknown": False,
                "next_attempt": False,
                "attempts": self.attempts + 1,
                "sent_date": fields.Datetime.now(),
            }
        )
        moves = self.move_ids
        # Plain write: 5000 invoices of a day in one UPDATE, no note per field change.
        models.Model.write(
            moves,
            {
                "bookkeeping_state": "done",
                "bookkeeping_remote_id": result["remote_id"],
                "bookkeeping_remote_number": result.get("remote_number") or False,
                "bookkeeping_error": False,
                "bookkeeping_error_retryable": False,
                "bookkeeping_outcome_unknown": False,
                "bookkeeping_next_attempt": False,
                "bookkeeping_sent_date": fields.Datetime.now(),
                "bookkeeping_invoice_mode": "odoo",
            },
        )
        body = self.env._(
            "Booked in %(admin)s in collective entry %(entry)s (%(ref)s, number %(number)s).",
            admin=backend._admin_label(),
            entry=self.name,
            ref=self.reference,
            number=self.remote_number or "-",
        )
        author_id, email_from = moves._bookkeeping_note_author(self.env.uid)
        moves._message_log_batch(
            bodies=dict.fromkeys(moves.ids, body), author_id=author_id, email_from=email_from
        )
        self._message_log(body=body)
        total = result.get("remote_amount")
        if total is not None and self.currency_id.compare_amounts(total, self.amount_total):
            self._message_log(
                body=self.env._(
                    "%(service)s booked a total of %(remote)s while the invoices add up to "
                    "%(odoo)s. Correct the entry there; it is not sent again.",
                    service=backend._service_label(),
                    remote=total,
                    odoo=self.amount_total,
                )
            )


class BookkeepingCollectiveEntryLine(models.Model):
    _name = "bookkeeping.collective.entry.line"
    _description = "Collective bookkeeping entry line"
    _order = "id"

    entry_id = fields.Many2one(
        "bookkeeping.collective.entry", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="entry_id.company_id", store=True)
    currency_id = fields.Many2one(related="entry_id.currency_id")
    tax_id = fields.Many2one("account.tax", "Tax", readonly=True)
    account_id = fields.Many2one("account.account", "Income account", readonly=True)
    base = fields.Monetary("Untaxed", readonly=True)
    vat = fields.Monetary("VAT", readonly=True)
