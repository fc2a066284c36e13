"""The engine of the bookkeeping link: claim, mark 'sending', push one, sync back, crons.

It is the same for every service: it calls only the service hooks declared in
``bookkeeping_service_contract.py`` and never names a service. Its safety rules:

* an invoice is claimed with ``SKIP LOCKED`` plus an advisory lock, so two workers never
  send the same invoice;
* it is marked 'sending' and committed before any call, so after a crash between a call
  and our commit the next run looks it up before sending again (no remote duplicate);
* a link-wide problem (dead token, access refused, rate limit) stops the run and leaves the
  rest 'to send'; bad input stops only its invoice, before any call.
"""

import logging
import random
import time
from datetime import timedelta

import psycopg2
from psycopg2.extensions import TRANSACTION_STATUS_INERROR

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, mute_logger

from ..clients import errors as client_errors

_logger = logging.getLogger(__name__)

# Invoices pushed per cron run before the cron re-triggers itself.
CRON_BATCH = 200
# Invoices marked 'sending' together, in one committed UPDATE, before their calls.
PUSH_CHUNK = 50
# First key of our pg_advisory_lock(int, int) pairs: "BK" + 1. The spaces in use, each
# declared where it is used: 0x424B01 invoices (here), 0x424B02 collective entries and
# 0x424B03 a link's collective run (bookkeeping_collective.py), 0x424B04 queue_job push
# lanes (glue/), 0x424B05 an import run per link (the import service's file).
ADVISORY_LOCK_SPACE = 0x424B01
# A 5xx or timeout is tried again inside the run this many times, after a short back-off
# (seconds, doubled per try, with jitter), before the long schedule of BACKOFF_MINUTES.
RETRIES_IN_RUN = 2
RETRY_BACKOFF_PARAM = "account_bookkeeping_link.retry_backoff_seconds"
RETRY_BACKOFF_DEFAULT = 2.0
SYNC_CRON = "account_bookkeeping_link.ir_cron_bookkeeping_sync"


class BookkeepingEngine(models.AbstractModel):
    """Inherited by ``bookkeeping.backend``; ``self`` is a link."""

    _name = "bookkeeping.engine"
    _description = "Bookkeeping link engine"

    # ------------------------------------------------------------------ engine: push

    def _push_moves(self, moves):
        """Send ``moves`` (customer invoices/credit notes) to their backends.

        The same path serves the button, the list action and the cron. Each invoice is
        handled on its own: bad input stops that invoice only, before any call; a link-wide
        problem (dead token, daily budget) stops the batch and leaves the rest ``to_send``.
        Returns the number of invoices handled.
        """
        done = 0
        # The caller's environment (its context: test settings, back-off), not the moves'.
        for backend in moves.bookkeeping_backend_id.with_env(self.env):
            backend_moves = moves.filtered(lambda m, b=backend: m.bookkeeping_backend_id == b)
            done += backend._in_company_context()._push_backend_moves(backend_moves)
        return done

    def _in_company_context(self):
        """The link as its company works: that company, in its language, so the messages a
        cron writes on invoices are in the language of the people who read them."""
        self.ensure_one()
        lang = self.env.context.get("lang") if self.env.uid != 1 and not self.env.su else None
        return self.with_company(self.company_id).with_context(
            lang=lang or self.company_id.partner_id.lang or self.env.lang
        )

    def _push_backend_moves(self, moves):
        self.ensure_one()
        # Never one by one AND collectively: those go into their day's collective entry.
        moves = moves.filtered(lambda m: not m.bookkeeping_collective)
        if not moves:
            return 0
        if self.state not in ("linked", "error") or self._is_paused():
            return 0  # the invoices stay 'to send' until the link works again
        with self._session() as client:
            return self._push_with(client, moves)

    def _push_with(self, client, moves):
        cache_ctx = self.with_context(
            bookkeeping_mapping_cache=self._mapping_cache(), bookkeeping_partner_cache={}
        )
        # Read once: every commit empties the cache, a re-read per invoice costs a query.
        healthy = self.state == "linked"
        retry = {"enabled": True}
        handled = 0
        for start in range(0, len(moves), PUSH_CHUNK):
            chunk = self._claim(moves[start : start + PUSH_CHUNK])
            chunk = self._still_to_send(chunk)
            try:
                cache_ctx._cache_partner_links(chunk.partner_id)
                fresh = cache_ctx._mark_sending(chunk)
                for move in chunk:
                    # Prefetch this invoice only: each commit empties the cache, and the
                    # chunk-wide prefetch would re-read the lines of all 50 every time.
                    move = move.with_prefetch()  # noqa: PLW2901
                    try:
                        answered = cache_ctx._push_one(
                            client, move, uncertain=move.id not in fresh, retry=retry
                        )
                    except (
                        client_errors.AuthExpired,
                        client_errors.AccessDenied,
                        client_errors.RateLimited,
                    ) as error:
                        # Nothing was sent for these: they wait, with no look-up needed.
                        chunk.filtered(
                            lambda m, fresh=fresh: (
                                m.bookkeeping_state == "sending" and m.id in fresh
                            )
                        )._bookkeeping_write({"bookkeeping_state": "to_send"})
                        self._handle_backend_error(error, resume=self._resume_push)
                        self._checkpoint(client)
                        return handled
                    if answered and not healthy:
                        self._link_works()
                        healthy = True
                    handled += 1
                    self._checkpoint(client)
            finally:
                self._release(chunk)
        return handled

    # ------------------------------------------------------------------ engine: PDFs

    @api.model
    def _attach_pending_pdfs(self, moves=None):
        """Attach the PDFs of invoices booked without one (the PDF could not be made then,
        e.g. no PDF renderer on the server), as soon as they can be made."""
        if moves is None:
            moves = self.env["account.move"].search(
                [
                    ("bookkeeping_backend_id.state", "=", "linked"),
                    ("bookkeeping_state", "=", "done"),
                    ("bookkeeping_pdf_state", "=", "pending"),
                ],
                limit=PUSH_CHUNK,
                order="id",
            )
        for backend in moves.bookkeeping_backend_id.with_env(self.env):
            backend._in_company_context()._attach_backend_pdfs(
                moves.filtered(lambda m, b=backend: m.bookkeeping_backend_id == b)
            )

    def _attach_backend_pdfs(self, moves):
        self.ensure_one()
        if self.state not in ("linked", "error") or self._is_paused():
            return
        with self._session() as client:
            chunk = self._claim(moves)
            try:
                for move in chunk:
                    client.bookkeeping_log.record = move
                    try:
                        self._service_attach_pdf(client, move)
                    except (
                        client_errors.AuthExpired,
                        client_errors.AccessDenied,
                        client_errors.RateLimited,
                    ) as error:
                        self._handle_backend_error(error, resume=self._resume_push)
                        break
                    except client_errors.ValidationError as error:
                        # Refused: trying again every run would only collect errors
                        # (Exact blocks a key after 10 an hour). Attach it by hand.
                        move._bookkeeping_pdf_done("failed", str(error))
                        move._message_log(
                            body=self.env._(
                                "%(service)s refused the invoice PDF: %(msg)s",
                                service=self._service_label(),
                                msg=error,
                            )
                        )
                    except client_errors.BookkeepingError as error:
                        # Stays 'to attach' with the reason; the next run tries again.
                        move._bookkeeping_pdf_pending(str(error))
                    self._checkpoint(client)
            finally:
                self._release(chunk)

    def _invoice_pdf(self, move):
        """The invoice PDF as ``(filename, bytes)``, or None when it cannot be made now: the
        invoice is then flagged 'PDF to attach' (with the reason) and booked anyway; a later
        run attaches the PDF. A missing PDF renderer must never block a booking."""
        try:
            with self.env.cr.savepoint():
                document = move._get_invoice_legal_documents("pdf", allow_fallback=True) or {}
        except Exception as error:  # noqa: BLE001 - any report failure: book without PDF
            _logger.warning("Invoice PDF of %s could not be made: %s", move.name, error)
            move._bookkeeping_pdf_pending(
                self.env._("the PDF could not be made (%(error)s).", error=error)
            )
            return None
        content = document.get("content") or b""
        if isinstance(content, str):
            content = content.encode()
        if not content:
            move._bookkeeping_pdf_pending(self.env._("the PDF came out empty."))
            return None
        return document.get("filename") or f"{move.name.replace('/', '_')}.pdf", content

    def _claim(self, moves, space=ADVISORY_LOCK_SPACE):
        """Lock the invoices this worker will send. The row lock (SKIP LOCKED) dies at the
        first commit, so a session-level advisory lock keeps the claim across the
        per-invoice commits: a second worker skips them instead of sending them twice.
        ``space``: the advisory lock space of the records' model (collective entries
        have their own)."""
        try:
            # Muted: the SQL layer logs every failed query as an error, and this failure is
            # an expected outcome of two workers racing, not a fault.
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint(flush=False):
                locked = moves.try_lock_for_update()
        except psycopg2.errors.SerializationFailure:
            # Another worker committed these rows after our snapshot: it has them.
            return moves.browse()
        if not locked:
            return locked
        self.env.cr.execute(
            SQL(
                "SELECT id FROM unnest(%s::int[]) AS id WHERE pg_try_advisory_lock(%s, id)",
                locked.ids,
                space,
            )
        )
        claimed = {row[0] for row in self.env.cr.fetchall()}
        return locked.filtered(lambda m: m.id in claimed)

    def _still_to_send(self, moves):
        """The claimed invoices that still need sending, read afresh under the claim: our
        search may be older than another worker's run (a second lane, the button) that has
        booked some of them meanwhile; looking those up again would cost a call each."""
        moves.invalidate_recordset(
            ["bookkeeping_state", "bookkeeping_remote_id", "bookkeeping_outcome_unknown"]
        )
        booked = moves.filtered(lambda m: m.bookkeeping_state in ("done", "sent_draft"))
        self._release(booked)
        return moves - booked

    def _release(self, moves, space=ADVISORY_LOCK_SPACE):
        """Give the claim up. The advisory locks belong to the database connection, not to
        the transaction: when an error has aborted the transaction, the unlock could not
        run, the connection would go back to Odoo's pool still holding them, and no worker
        would ever send these invoices again. So roll back first (the error is on its way
        up, and its run is lost anyway), then unlock."""
        if not moves:
            return
        connection = getattr(self.env.cr, "_cnx", None)  # a test cursor has none of its own
        if connection and connection.get_transaction_status() == TRANSACTION_STATUS_INERROR:
            self.env.cr.rollback()
        self.env.cr.execute(
            SQL(
                "SELECT pg_advisory_unlock(%s, id) FROM unnest(%s::int[]) AS id",
                space,
                moves.ids,
            )
        )

    def _mark_sending(self, moves):
        """Mark the claimed invoices 'sending' and commit before any call: after a crash
        between a call and our commit, the next run finds 'sending' and looks the invoice
        up before any new attempt. One UPDATE and one commit per chunk. Returns the ids
        that need no look-up (the others were left 'sending' or with an unknown outcome
        by an earlier attempt, or are already known remotely)."""
        fresh = set(
            moves.filtered(
                lambda m: (
                    m.bookkeeping_state != "sending"
                    and not m.bookkeeping_outcome_unknown
                    and not m.bookkeeping_remote_id
                )
            ).ids
        )
        moves._bookkeeping_write({"bookkeeping_state": "sending"})
        self._commit()
        return fresh

    def _push_one(self, client, move, uncertain=False, retry=None):
        """Send one invoice (already marked 'sending'); never creates a remote duplicate:
        when an earlier attempt may have reached the remote package, look it up first.

        A 5xx or a timeout is tried again here, after a short back-off, up to
        RETRIES_IN_RUN times (then the long schedule takes over). ``retry`` is shared by
        the run: once one invoice used up its tries the service is down, and the others
        of the run get one try each. Returns True when the remote package answered."""
        errors = self._check_move(move)
        if errors:
            move._bookkeeping_set_error("\n".join(errors), retryable=False)
            return False
        client.bookkeeping_log.record = move
        retry = {"enabled": True} if retry is None else retry
        attempt = 0
        while True:
            try:
                result = None
                if uncertain:
                    result = self._service_find_move(client, move)
                if not result:
                    result = self._service_push_move(client, move)
            except client_errors.OutcomeUnknown as error:
                uncertain = True
                failure = {
                    "outcome_unknown": True,
                    "message": self.env._(
                        "%(msg)s The invoice will be looked up by its reference before it is "
                        "sent again, so no duplicate is made.",
                        msg=error,
                    ),
                }
            except client_errors.ValidationError as error:
                move._bookkeeping_set_error(self._remote_error_text(error), retryable=False)
                return True
            except client_errors.RefreshTooEarly as error:
                # Only time heals this (Exact's 570 s): retrying in seconds costs calls.
                move._bookkeeping_set_error(str(error), retryable=True)
                return False
            except client_errors.RetryableError as error:
                failure = {"outcome_unknown": None, "message": str(error)}
            except UserError as error:
                move._bookkeeping_set_error(str(error), retryable=False, outcome_unknown=False)
                return False
            else:
                # The mode this invoice went in: later syncs follow it, not the link's.
                result.setdefault("invoice_mode", self.invoice_mode)
                move._bookkeeping_set_result(result)
                return True
            tries = self.env.context.get("bookkeeping_retries_in_run", RETRIES_IN_RUN)
            if not retry["enabled"] or attempt >= tries:
                retry["enabled"] = False
                move._bookkeeping_set_error(
                    failure["message"], retryable=True, outcome_unknown=failure["outcome_unknown"]
                )
                return False
            attempt += 1
            self._retry_pause(attempt)

    def _retry_pause(self, attempt):
        """A few seconds, doubled per try, with jitter so that workers do not return at
        once. The base is a system parameter (or the context, for tests)."""
        base = self.env.context.get("bookkeeping_retry_backoff")
        if base is None:
            base = (
                self.env["ir.config_parameter"]
                .sudo()
                .get_param(RETRY_BACKOFF_PARAM, RETRY_BACKOFF_DEFAULT)
            )
        delay = float(base) * 2 ** (attempt - 1) * (0.5 + random.random() / 2)  # noqa: S311
        if delay > 0:
            time.sleep(delay)

    def _check_move(self, move):
        """Everything that can be checked before any call. A list of messages that say
        what to fix; empty when the invoice can go."""
        errors = []
        if move.state != "posted":
            errors.append(self.env._("Only posted invoices are sent."))
        if move.move_type not in ("out_invoice", "out_refund"):
            errors.append(self.env._("Only customer invoices and credit notes are sent."))
        if move.bookkeeping_sent_hash and move.bookkeeping_sent_hash != move._bookkeeping_hash():
            errors.append(
                self.env._(
                    "This invoice was changed after it was sent. The booked version cannot be "
                    "changed from Odoo: make a credit note and a new invoice instead."
                )
            )
        if not move.partner_id.country_id:
            errors.append(
                self.env._(
                    "The customer %(partner)s has no country: set it on the contact.",
                    partner=move.partner_id.display_name,
                )
            )
        if not self.auto_create_partner and not self._partner_remote_id(move.partner_id):
            errors.append(self._partner_missing_message(move.partner_id))
        errors += self._service_check_move(move)
        return errors

    def _remote_error_text(self, error):
        text = self.env._(
            "%(service)s refused the invoice: %(msg)s",
            service=self._service_label(),
            msg=error.remote_message or error,
        )
        if error.field_errors:
            text += "\n" + "\n".join(
                f"- {field}: {'; '.join(msgs) if isinstance(msgs, list) else msgs}"
                for field, msgs in error.field_errors.items()
            )
        return text

    # ------------------------------------------------------------------ engine: sync back

    def _sync_remote_state(self):
        """Pull numbers and payment state back, in bulk. The two parts are independent:
        the numbers found are committed before the payments are read, and a part whose
        endpoint fails (404, 5xx, ...) is logged and leaves the other part's results.

        Returns a summary: ``numbers`` and ``payments`` (invoices updated), ``failed`` (a
        sentence per failed part), ``skipped`` (why nothing was tried)."""
        self.ensure_one()
        summary = {"numbers": 0, "payments": 0, "failed": []}
        if self.state not in ("linked", "error") or self._is_paused():
            summary["skipped"] = self._not_ready_message() or self.pause_reason or ""
            return summary
        with self._session() as client:
            self._sync_parts(client, summary)
        return summary

    def _sync_parts(self, client, summary):
        Move = self.env["account.move"]
        parts = (
            (
                "numbers",
                self._service_sync_numbers,
                "last_number_sync",
                [("bookkeeping_state", "=", "sent_draft")],
                ("bookkeeping_state", "bookkeeping_remote_number"),
            ),
            (
                "payments",
                self._service_sync_payments,
                "last_payment_sync",
                [
                    ("bookkeeping_state", "in", ("done", "sent_draft")),
                    ("bookkeeping_remote_payment_state", "!=", "paid"),
                    # A collective entry's receivable is the default customer's, not theirs.
                    ("bookkeeping_collective_entry_id", "=", False),
                ],
                ("bookkeeping_remote_payment_state", "bookkeeping_remote_residual"),
            ),
        )
        labels = {
            "numbers": self.env._("The number sync"),
            "payments": self.env._("The payment sync"),
        }
        try:
            for part, hook, stamp, domain, watched in parts:
                moves = Move.search([("bookkeeping_backend_id", "=", self.id), *domain])
                before = {m.id: tuple(m[f] for f in watched) for m in moves}
                calls = client.bookkeeping_log.calls
                try:
                    if moves:
                        hook(client, moves)
                except (
                    client_errors.AuthExpired,
                    client_errors.AccessDenied,
                    client_errors.RateLimited,
                ):
                    raise
                except client_errors.BookkeepingError as error:
                    _logger.warning("%s: %s failed: %s", self.display_name, part, error)
                    summary["failed"].append(
                        self.env._("%(part)s failed: %(msg)s", part=labels[part], msg=error)
                    )
                else:
                    self[stamp] = fields.Datetime.now()
                    if client.bookkeeping_log.calls > calls:
                        self._link_works()  # a call worked
                summary[part] = sum(
                    1 for m in moves if tuple(m[f] for f in watched) != before[m.id]
                )
                # What was found is kept, whatever happens to the next part.
                self._checkpoint(client)
        except (
            client_errors.AuthExpired,
            client_errors.AccessDenied,
            client_errors.RateLimited,
        ) as error:
            self._handle_backend_error(
                error, resume=lambda at: self.env.ref(SYNC_CRON)._trigger(at=at)
            )
            summary["failed"].append(self._remote_failure_text(self.env._("The sync"), error))

    # ------------------------------------------------------------------ crons

    @api.model
    def _ready_to_push_domain(self):
        """The invoices a push run takes: waiting, left 'sending' by a crash, or in error
        with a retry that is due."""
        return [
            ("bookkeeping_backend_id.state", "=", "linked"),
            # Those go into a collective entry (_push_collective_entries), never one by one.
            ("bookkeeping_collective", "=", False),
            *self._waiting_or_due_domain("bookkeeping_", ("to_send", "sending")),
        ]

    @api.model
    def _waiting_or_due_domain(self, prefix, waiting):
        """Records whose ``<prefix>state`` is one of ``waiting`` (a crash's 'sending'
        included), or in error with a retry that is due: the engine's rule for what a run
        takes, for invoices and collective entries alike."""
        return [
            "|",
            (f"{prefix}state", "in", waiting),
            "&",
            "&",
            (f"{prefix}state", "=", "error"),
            (f"{prefix}error_retryable", "=", True),
            "|",
            (f"{prefix}next_attempt", "=", False),
            (f"{prefix}next_attempt", "<=", fields.Datetime.now()),
        ]

    @api.model
    def _cron_push_invoices(self):
        """The dispatcher: wake the push job of every link that has work, so that the links
        push in parallel on Odoo's cron workers (see bookkeeping_backend_push_cron.py)."""
        Move = self.env["account.move"]
        waiting = Move._read_group(self._ready_to_push_domain(), ["bookkeeping_backend_id"])
        pdfs = Move._read_group(
            [
                ("bookkeeping_backend_id.state", "=", "linked"),
                ("bookkeeping_state", "=", "done"),
                ("bookkeeping_pdf_state", "=", "pending"),
            ],
            ["bookkeeping_backend_id"],
        )
        backends = self.browse()
        for (backend,) in waiting + pdfs:
            backends |= backend
        backends |= self._collective_work()
        backends.with_env(self.env)._schedule_push()

    def _cron_push_link(self):
        """One link's push run: up to CRON_BATCH of its ready invoices, then the PDFs still
        to attach; when more are waiting, the link's job is triggered again."""
        self.ensure_one()
        if self.state != "linked" or self._is_paused():
            return
        Move = self.env["account.move"]
        domain = [("bookkeeping_backend_id", "=", self.id), *self._ready_to_push_domain()]
        remaining = Move.search_count(domain)
        self._cron_progress(remaining=remaining)
        batch = self.env.context.get("bookkeeping_cron_batch", CRON_BATCH)
        moves = Move.search(domain, limit=batch, order="id")
        handled = self._push_moves(moves)
        self._cron_progress(handled)
        if handled and remaining > len(moves):
            self._schedule_push()
        self._attach_pending_pdfs(
            Move.search(
                [
                    ("bookkeeping_backend_id", "=", self.id),
                    ("bookkeeping_state", "=", "done"),
                    ("bookkeeping_pdf_state", "=", "pending"),
                ],
                limit=PUSH_CHUNK,
                order="id",
            )
        )
        # The closed days of B2C invoices, one call per day and journal.
        self._in_company_context()._push_collective_entries()

    def _resume_push(self, at):
        self._schedule_push(at=at)

    @api.model
    def _cron_sync_remote_state(self):
        # Links in error too: one try an hour heals them once access is back.
        for backend in self.search([("state", "in", ("linked", "error"))]):
            backend._in_company_context()._sync_remote_state()
            self._cron_progress(1)

    @api.model
    def _cron_keep_tokens_alive(self):
        """Refresh tokens well before the remote expires an unused refresh token (Exact:
        30 days); a dead one turns the link to needs_reconnect with an activity."""
        limit = fields.Datetime.now() - timedelta(days=7)
        for backend in self.search([("state", "=", "linked")]):
            token = backend.sudo().token_ids[:1]
            if token.refresh_obtained_at and token.refresh_obtained_at > limit:
                continue
            try:
                backend._service_refresh_token()
            except client_errors.BookkeepingError as error:
                backend._handle_backend_error(error)
            self._cron_progress(1)
