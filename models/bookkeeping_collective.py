"""The collective booking ("verzamelboeking") of a link: the engine part, shared by every
service that declares the capability "collective" (it names none).

Which invoices: the link's option is on, the customer is a private person (not a company,
no VAT number) and the invoice is in the company currency. They are flagged when queued
(``account.move.bookkeeping_collective``) and never sent one by one: the individual push
path skips them. Once a day is over (company time zone), so that its invoices are all in,
a run puts them into the entry of their (date, journal) and books it on the service's
default customer: one call per day and journal instead of one per invoice.

Safety, as for invoices (``bookkeeping_engine.py``): an entry is claimed with SKIP LOCKED
plus an advisory lock, marked 'sending' and committed before the call, and looked up by
its deterministic reference before any new attempt; a run of one link holds a session
lock so that two workers never collect into the same entry.
"""

from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..clients import errors as client_errors
from .account_move import SENDABLE_TYPES

# Invoices read and collected per commit: their documents cost the tax engine's queries,
# so a chunk shares one prefetch.
COLLECT_CHUNK = 500
# Advisory lock spaces (the engine's invoices use 0x424B01).
ENTRY_LOCK_SPACE = 0x424B02
RUN_LOCK_SPACE = 0x424B03


class BookkeepingBackendCollective(models.Model):
    _inherit = "bookkeeping.backend"

    collective_booking = fields.Boolean(
        "Collective booking of B2C invoices",
        tracking=True,
        help="Invoices and credit notes of private persons (no company, no VAT number) in the "
        "company currency are not sent one by one: once their day is over, one collective "
        "entry per day and journal is booked on the default customer, with one line per VAT "
        "code and revenue account. Credit notes and late invoices for a day already booked "
        "go into a correcting entry.",
    )
    collective_customer_code = fields.Char(
        "Default customer",
        help="The remote customer that collective entries are booked on (e.g. 'Kassa' or "
        "'Particulieren'), by its code or customer number in the bookkeeping package.",
    )
    # Its remote id, looked up once; a new code or administration forgets it.
    collective_customer_remote_id = fields.Char(
        compute="_compute_collective_customer_remote_id", store=True, readonly=True, copy=False
    )
    collective_supported = fields.Boolean(compute="_compute_collective_supported")
    collective_entry_ids = fields.One2many(
        "bookkeeping.collective.entry", "backend_id", "Collective entries"
    )
    collective_entry_count = fields.Integer(compute="_compute_collective_entry_count")

    @api.depends("service")
    def _compute_collective_supported(self):
        for backend in self:
            backend.collective_supported = bool(
                backend.service and "collective" in backend._service_capabilities()
            )

    @api.depends("collective_customer_code", "administration_code")
    def _compute_collective_customer_remote_id(self):
        self.collective_customer_remote_id = False

    def _compute_collective_entry_count(self):
        counts = dict(
            self.env["bookkeeping.collective.entry"]._read_group(
                [("backend_id", "in", self._origin.ids)], ["backend_id"], ["__count"]
            )
        )
        for backend in self:
            backend.collective_entry_count = counts.get(backend._origin, 0)

    @api.constrains("collective_booking", "service")
    def _check_collective_booking(self):
        for backend in self:
            if backend.collective_booking and not backend.collective_supported:
                raise ValidationError(
                    self.env._(
                        "%(service)s has no entry type that books a day of B2C invoices on one "
                        "default customer safely, so collective booking is not offered for it: "
                        "turn the option off; its invoices are sent one by one.",
                        service=backend._service_label(),
                    )
                )

    # ------------------------------------------------------------------ which invoices

    def _collective_applies(self, move):
        """Whether ``move`` goes into a collective entry of this link."""
        self.ensure_one()
        partner = move.partner_id.commercial_partner_id
        return bool(
            self.collective_booking
            and self.collective_supported
            and move.move_type in SENDABLE_TYPES
            and not partner.is_company
            and not partner.vat
            and move.currency_id == move.company_currency_id
        )

    def _collective_customer(self, client):
        """The remote id of the default customer; a UserError says what to fill in."""
        self.ensure_one()
        code = (self.collective_customer_code or "").strip()
        if not code:
            raise UserError(
                self.env._(
                    "Enter the default customer on the link %(name)s: collective entries are "
                    "booked on it.",
                    name=self.name,
                )
            )
        if not self.collective_customer_remote_id:
            remote_id = self._service_collective_customer(client, code)
            if not remote_id:
                raise UserError(
                    self.env._(
                        "%(admin)s has no single customer with code %(code)s for the collective "
                        "entries: create it there or correct the default customer on the link "
                        "%(name)s.",
                        admin=self._admin_label(),
                        code=code,
                        name=self.name,
                    )
                )
            self.collective_customer_remote_id = remote_id
        return self.collective_customer_remote_id

    def _collective_today(self):
        """Today in the company's time zone (its partner's, else the user's): a day is
        booked only once it is over there."""
        self.ensure_one()
        tz = self.company_id.partner_id.tz or self.env.user.tz or "UTC"
        return fields.Date.context_today(self.with_context(tz=tz))

    def _collective_move_errors(self, move, document):
        """What stops ``move`` from going into an entry, before any call."""
        errors = []
        if move.state != "posted":
            errors.append(self.env._("Only posted invoices are sent."))
        if move.currency_id != move.company_currency_id:
            errors.append(
                self.env._("Only invoices in the company currency go into a collective entry.")
            )
        if document["problem"]:
            errors.append(document["problem"])
        errors += self._service_check_collective_move(move, document)
        return list(dict.fromkeys(errors))

    # ------------------------------------------------------------------ engine

    def _push_collective_entries(self):
        """One link's collective run: put the invoices of every closed day into their
        entry, then book the entries that are due (new, left 'sending' by a crash, or in
        error with a retry that is due). Returns ``{collected, booked, failed}``."""
        self.ensure_one()
        summary = {"collected": 0, "booked": 0, "failed": 0}
        if not self.collective_supported or self.state not in ("linked", "error"):
            return summary
        if self._is_paused():
            return summary
        if not self._collective_lock():
            return summary  # another worker runs this link's collective booking
        try:
            summary["collected"] = self._collect_invoices()
            entries = self.env["bookkeeping.collective.entry"].search(
                [("backend_id", "=", self.id), *self._collective_due_domain()],
                order="date, journal_id, sequence",
            )
            self._send_collective_entries(entries, summary)
        finally:
            self._collective_unlock()
        return summary

    @api.model
    def _collective_due_domain(self):
        """The entries a run books: new, left 'sending' by a crash, or in error with a
        retry that is due (a refusal waits for Book now)."""
        return self._waiting_or_due_domain("", ("draft", "sending"))

    def _collective_lock(self):
        self.env.cr.execute(SQL("SELECT pg_try_advisory_lock(%s, %s)", RUN_LOCK_SPACE, self.id))
        return self.env.cr.fetchone()[0]

    def _collective_unlock(self):
        self.env.cr.execute(SQL("SELECT pg_advisory_unlock(%s, %s)", RUN_LOCK_SPACE, self.id))

    def _collective_waiting_domain(self):
        return [
            ("bookkeeping_backend_id", "=", self.id),
            ("bookkeeping_collective", "=", True),
            ("bookkeeping_collective_entry_id", "=", False),
            ("bookkeeping_state", "=", "to_send"),
            ("state", "=", "posted"),
            ("invoice_date", "<", self._collective_today()),
        ]

    def _collect_invoices(self):
        """Put the waiting invoices of closed days into the open entry of their (date,
        journal); an invoice with bad input gets its error and stays out. Committed per
        chunk: an entry still 'draft' has never been sent, so a crash loses nothing."""
        Move = self.env["account.move"]
        moves = Move.search(self._collective_waiting_domain(), order="invoice_date, id")
        ctx = self.with_context(bookkeeping_mapping_cache=self._mapping_cache())
        collected = 0
        for start in range(0, len(moves), COLLECT_CHUNK):
            chunk = moves[start : start + COLLECT_CHUNK]
            groups = defaultdict(list)
            for move in chunk:
                document = move._bookkeeping_document()
                errors = ctx._collective_move_errors(move, document)
                if errors:
                    move._bookkeeping_set_error("\n".join(errors), retryable=False)
                    continue
                groups[(move.invoice_date, move.journal_id)].append((move, document))
            for (date, journal), items in groups.items():
                entry = ctx._collective_open_entry(date, journal)
                entry._add_documents([document for _move, document in items])
                Move.browse([move.id for move, _document in items])._bookkeeping_write(
                    {"bookkeeping_collective_entry_id": entry.id, "bookkeeping_error": False}
                )
                collected += len(items)
            self._commit()
        return collected

    def _collective_open_entry(self, date, journal):
        """The entry that takes new invoices of (date, journal): the last one while it is
        still collecting, else a correcting entry with the next sequence."""
        Entry = self.env["bookkeeping.collective.entry"]
        last = Entry.search(
            [("backend_id", "=", self.id), ("date", "=", date), ("journal_id", "=", journal.id)],
            order="sequence desc",
            limit=1,
        )
        if last.state == "draft":
            return last
        sequence = last.sequence + 1 if last else 1
        return Entry.create(
            {
                "backend_id": self.id,
                "date": date,
                "journal_id": journal.id,
                "sequence": sequence,
                "reference": Entry._reference_for(self, date, journal, sequence),
            }
        )

    def _send_collective_entries(self, entries, summary=None):
        """Claim, mark 'sending' and commit, then book each entry (looked up first when an
        earlier attempt may have reached the service)."""
        self.ensure_one()
        summary = summary if summary is not None else {"booked": 0, "failed": 0}
        entries = entries.filtered(lambda e: e.state != "done")
        if not entries or self.state not in ("linked", "error") or self._is_paused():
            return summary
        if not self._collective_lock():
            return summary
        try:
            with self._session() as client:
                chunk = self._claim(entries, ENTRY_LOCK_SPACE)
                try:
                    self._send_claimed_entries(client, chunk, summary)
                finally:
                    self._release(chunk, ENTRY_LOCK_SPACE)
        finally:
            self._collective_unlock()
        return summary

    def _send_claimed_entries(self, client, chunk, summary):
        fresh = set(
            chunk.filtered(
                lambda e: e.state != "sending" and not e.outcome_unknown and not e.remote_id
            ).ids
        )
        chunk.write({"state": "sending"})
        chunk.move_ids._bookkeeping_write({"bookkeeping_state": "sending"})
        self._commit()
        customer = None
        for entry in chunk:
            client.bookkeeping_log.record = entry
            try:
                customer = customer or self._collective_customer(client)
                booked = self._send_one_entry(client, entry, customer, entry.id not in fresh)
            except (
                client_errors.AuthExpired,
                client_errors.AccessDenied,
                client_errors.RateLimited,
            ) as error:
                # Nothing was sent for the fresh ones left: they collect again.
                waiting = chunk.filtered(lambda e: e.state == "sending" and e.id in fresh)
                waiting.write({"state": "draft"})
                waiting.move_ids._bookkeeping_write({"bookkeeping_state": "to_send"})
                self._handle_backend_error(error, resume=self._resume_push)
                self._checkpoint(client)
                return
            except UserError as error:
                # The default customer is missing: a setting, not the entry, is wrong.
                entry._collective_set_error(str(error), retryable=False, outcome_unknown=False)
                booked = False
            summary["booked" if booked else "failed"] += 1
            self._checkpoint(client)

    def _send_one_entry(self, client, entry, customer, uncertain):
        if not uncertain and entry._collective_is_empty():
            # The day's invoices and credit notes cancel out: nothing to book remotely.
            entry._collective_set_result({"remote_id": False, "remote_amount": 0.0})
            return True
        try:
            result = self._service_find_collective(client, entry) if uncertain else None
            if not result:
                result = self._service_push_collective(client, entry, customer)
        except client_errors.OutcomeUnknown as error:
            entry._collective_set_error(
                self.env._(
                    "%(msg)s The entry will be looked up by its reference %(ref)s before it is "
                    "sent again, so it is never booked twice.",
                    msg=error,
                    ref=entry.reference,
                ),
                retryable=True,
                outcome_unknown=True,
            )
            return False
        except client_errors.ValidationError as error:
            entry._collective_set_error(
                self._remote_error_text(error), retryable=False, outcome_unknown=False
            )
            return False
        except client_errors.RetryableError as error:
            entry._collective_set_error(str(error), retryable=True)
            return False
        entry._collective_set_result(result)
        return True

    @api.model
    def _collective_work(self):
        """The links with collective work for the dispatcher: invoices of a past day (UTC:
        the link's run applies its company's time zone) or entries due."""
        Move = self.env["account.move"]
        waiting = Move._read_group(
            [
                ("bookkeeping_backend_id.state", "=", "linked"),
                ("bookkeeping_collective", "=", True),
                ("bookkeeping_collective_entry_id", "=", False),
                ("bookkeeping_state", "=", "to_send"),
                ("invoice_date", "<", fields.Date.today()),
            ],
            ["bookkeeping_backend_id"],
        )
        due = self.env["bookkeeping.collective.entry"]._read_group(
            [("backend_id.state", "=", "linked"), *self._collective_due_domain()],
            ["backend_id"],
        )
        backends = self.browse()
        for (backend,) in waiting + due:
            backends |= backend
        return backends

    # ------------------------------------------------------------------ buttons

    def action_book_collective(self):
        """Button: collect the closed days and book every entry not booked yet (also those
        refused before, once the cause is fixed), and say what happened."""
        self.ensure_one()
        if reason := self._not_ready_message():
            raise UserError(reason)

        def run():
            backend = self._in_company_context()
            collected = 0
            if backend._collective_lock():
                try:
                    collected = backend._collect_invoices()
                finally:
                    backend._collective_unlock()
            entries = self.collective_entry_ids.filtered(lambda e: e.state != "done")
            backend._send_collective_entries(entries)
            return self._collective_report(entries, collected)

        return self._remote_action(self.env._("Collective booking"), run)

    def _collective_report(self, entries, collected=None):
        booked = entries.filtered(lambda e: e.state == "done")
        failed = entries - booked
        if not entries:
            message = self.env._(
                "No collective entry to book: invoices of private persons are collected once "
                "their day is over."
            )
            return self._notification(message, kind="info")
        message = self.env._(
            "%(ok)s of %(count)s collective entries booked.", ok=len(booked), count=len(entries)
        )
        if collected:
            message = self.env._("%(count)s invoices collected.", count=collected) + " " + message
        for entry in failed.filtered("error")[:3]:
            message += "\n" + self.env._(
                "%(entry)s: %(error)s", entry=entry.name, error=entry.error
            )
        kind = "success" if not failed else ("warning" if booked else "danger")
        return self._notification(message, kind=kind)

    def action_open_collective_entries(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "account_bookkeeping_link.bookkeeping_collective_entry_action"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        action["context"] = {"default_backend_id": self.id, "create": False}
        return action
