"""The link between one Odoo company and one remote bookkeeping administration.

Service-specific behaviour lives in ``bookkeeping_backend_<service>.py``: those files add
their service with ``selection_add`` and implement the ``_<service>_<hook>`` methods that
``_service_call`` dispatches to. Everything here is shared by all services.
"""

import hashlib
import json
import logging
import secrets
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import psycopg2

from odoo import api, fields, models, modules, tools
from odoo.exceptions import UserError
from odoo.tools import SQL, consteq, mute_logger

from ..clients import errors as client_errors

_logger = logging.getLogger(__name__)

# Invoices pushed per cron run before the cron re-triggers itself.
CRON_BATCH = 200
# Invoices marked 'sending' together, in one committed UPDATE, before their calls.
PUSH_CHUNK = 50
# First key of our pg_advisory_lock(int, int) pairs: "BK" + 1.
ADVISORY_LOCK_SPACE = 0x424B01


class BookkeepingBackend(models.Model):
    _name = "bookkeeping.backend"
    _description = "Bookkeeping link"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _check_company_auto = True
    _order = "sequence, id"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    service = fields.Selection([], required=True, tracking=True)
    state = fields.Selection(
        [
            ("draft", "Not linked"),
            ("linked", "Linked"),
            ("needs_reconnect", "Needs reconnect"),
            ("error", "Error"),
        ],
        default="draft",
        required=True,
        tracking=True,
        copy=False,
    )
    state_message = fields.Text(copy=False, readonly=True)

    # OAuth application credentials: system administrators only.
    client_id = fields.Char("Client ID", groups="base.group_system", copy=False)
    client_secret = fields.Char("Client secret", groups="base.group_system", copy=False)
    token_ids = fields.One2many("bookkeeping.token", "backend_id", groups="base.group_system")
    token_expires_at = fields.Datetime(
        "Access token valid until", compute="_compute_token_info", groups="base.group_system"
    )
    refresh_token_renewed_at = fields.Datetime(
        "Refresh token renewed", compute="_compute_token_info", groups="base.group_system"
    )
    redirect_uri = fields.Char(
        "Redirect URL", compute="_compute_redirect_uri",
        help="Register this URL as the redirect URL of your app at the remote package.",
    )

    administration_code = fields.Char(
        "Administration", copy=False, tracking=True,
        help="The remote administration: Exact division number or Asperion administration id.",
    )
    administration_name = fields.Char(copy=False, tracking=True)

    invoice_mode = fields.Selection(
        [
            ("remote", "The remote package numbers the invoice"),
            ("odoo", "Odoo numbers the invoice"),
        ],
        default="odoo",
        required=True,
        tracking=True,
    )
    push_on_post = fields.Boolean(
        "Send on post", default=True,
        help="Queue customer invoices for sending as soon as they are posted; the cron sends "
        "them within a minute.",
    )
    attach_pdf = fields.Boolean("Attach the invoice PDF", default=True)
    note_lines = fields.Selection(
        [("text", "Send as text"), ("skip", "Leave out")],
        string="Section and note lines",
        default="text",
        required=True,
    )
    auto_create_partner = fields.Boolean(
        "Create missing customers", default=True,
        help="Create the customer remotely when an invoice is sent for a partner that is "
        "not linked yet. When off, such an invoice stops with an error.",
    )
    update_remote_partners = fields.Boolean(
        "Update existing customers from Odoo", default=False,
        help="When on, Odoo's data of a customer that is already linked (name, address, "
        "e-mail, VAT and Chamber of Commerce numbers) is sent to the remote package: with "
        "the Sync button on the contact, and when an invoice is sent after the contact "
        "changed. Only fields that have a value in Odoo are sent; a remote value is never "
        "blanked. When off, a linked customer is never changed from Odoo. Linking an "
        "existing remote customer never changes it, whatever this setting.",
    )
    date_from = fields.Date(
        "Send invoices from",
        help="Only invoices dated on or after this date are sent (none: all).",
    )
    log_retention_days = fields.Integer("Keep logs (days)", default=30)

    option_ids = fields.One2many("bookkeeping.remote.option", "backend_id", "Remote lists")
    options_loaded_at = fields.Datetime("Lists loaded", readonly=True, copy=False)
    tax_mapping_ids = fields.One2many(
        "bookkeeping.mapping", "backend_id", domain=[("mapping_type", "=", "tax")],
        string="VAT code mapping",
    )
    account_mapping_ids = fields.One2many(
        "bookkeeping.mapping", "backend_id", domain=[("mapping_type", "=", "account")],
        string="Account mapping",
    )
    payment_term_mapping_ids = fields.One2many(
        "bookkeeping.mapping", "backend_id", domain=[("mapping_type", "=", "payment_term")],
        string="Payment term mapping",
    )

    # Budget and pause: written on a side cursor so concurrent workers never conflict.
    rate_limit_info = fields.Text("API budget", compute="_compute_rate_limit_info")
    paused_until = fields.Datetime(readonly=True, copy=False)
    pause_reason = fields.Char(readonly=True, copy=False)
    last_number_sync = fields.Datetime(readonly=True, copy=False)
    last_payment_sync = fields.Datetime(readonly=True, copy=False)

    move_count_to_send = fields.Integer(compute="_compute_move_counts")
    move_count_error = fields.Integer(compute="_compute_move_counts")
    move_count_waiting = fields.Integer(compute="_compute_move_counts")

    _unique_active_company_service = models.UniqueIndex(
        "(company_id, service) WHERE active IS TRUE",
        "A company can have only one active link per service.",
    )

    # ------------------------------------------------------------------ computes

    @api.depends("token_ids.expires_at", "token_ids.refresh_obtained_at")
    def _compute_token_info(self):
        for backend in self:
            token = backend.sudo().token_ids[:1]
            backend.token_expires_at = (
                datetime.fromtimestamp(token.expires_at, timezone.utc).replace(tzinfo=None)
                if token.expires_at else False
            )
            backend.refresh_token_renewed_at = token.refresh_obtained_at

    def _compute_rate_limit_info(self):
        for backend in self:
            backend.rate_limit_info = backend.sudo().token_ids[:1].rate_limit_info

    def _compute_redirect_uri(self):
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url")
        for backend in self:
            backend.redirect_uri = f"{base}/bookkeeping_link/oauth/callback"

    def _compute_move_counts(self):
        groups = self.env["account.move"]._read_group(
            [("bookkeeping_backend_id", "in", self.ids)],
            ["bookkeeping_backend_id", "bookkeeping_state"],
            ["__count"],
        )
        counts = {(backend.id, state): count for backend, state, count in groups}
        for backend in self:
            backend.move_count_to_send = counts.get((backend.id, "to_send"), 0)
            backend.move_count_error = counts.get((backend.id, "error"), 0)
            backend.move_count_waiting = counts.get((backend.id, "sent_draft"), 0)

    # ------------------------------------------------------------------ dispatch

    def _service_call(self, hook, *args, **kwargs):
        """Call the service's implementation of ``hook`` (``_<service>_<hook>``)."""
        self.ensure_one()
        method = getattr(self, f"_{self.service}_{hook}", None)
        if method is None:
            raise UserError(
                self.env._("%(service)s does not support %(hook)s.",
                           service=self._service_label(), hook=hook)
            )
        return method(*args, **kwargs)

    def _service_label(self):
        return dict(self._fields["service"]._description_selection(self.env)).get(
            self.service, self.service or ""
        )

    @api.model
    def _can_commit(self):
        """Commits are part of the safety story (store the remote id at once), but a test
        transaction must never be committed."""
        return not (tools.config["test_enable"] or modules.module.current_test)

    def _commit(self):
        if self._can_commit():
            self.env.cr.commit()  # pylint: disable=invalid-commit

    # ------------------------------------------------------------------ tokens

    def _token_store(self):
        self.ensure_one()
        return BackendTokenStore(self)

    def _save_tokens_here(self, token):
        """Store a token pair on the current cursor (the OAuth callback's transaction)."""
        self.ensure_one()
        self.env["bookkeeping.token"].sudo()._store(self.id, token, self.env.cr)

    # ------------------------------------------------------------------ client

    def _client(self):
        """The service client, with our token store, limiter and call log attached."""
        self.ensure_one()
        if self.state == "needs_reconnect":
            raise UserError(self._reconnect_message())
        collector = self._log_collector()
        client = self._service_call("make_client", on_call=collector)
        client.bookkeeping_log = collector
        return client

    def _not_ready_message(self):
        """Why this link cannot send now, or False when it can."""
        self.ensure_one()
        if self.state == "needs_reconnect":
            return self._reconnect_message()
        if self.state != "linked":
            return self.state_message or self.env._(
                "The link %(name)s is not connected yet: a manager must press Connect.",
                name=self.name)
        if self._is_paused():
            return self.pause_reason
        return False

    def _reconnect_message(self):
        return self.env._(
            "The link to %(service)s has expired or was revoked. A manager must press "
            "Connect on the link %(name)s to log in again; nothing is lost meanwhile.",
            service=self._service_label(), name=self.name,
        )

    def _log_collector(self):
        return self.env["bookkeeping.log"]._collector(self)

    # ------------------------------------------------------------------ OAuth flow

    def _oauth_state(self):
        """A signed state: the callback accepts it only for this backend and database."""
        self.ensure_one()
        nonce = secrets.token_urlsafe(8)
        payload = {"id": self.id, "nonce": nonce}
        payload["sig"] = tools.misc.hmac(
            self.env(su=True), "bookkeeping_link_oauth", (self.id, nonce)
        )
        return json.dumps(payload, separators=(",", ":"))

    @api.model
    def _backend_from_oauth_state(self, state):
        try:
            payload = json.loads(state)
            backend_id, nonce, signature = int(payload["id"]), payload["nonce"], payload["sig"]
        except (TypeError, ValueError, KeyError):
            return self.browse()
        expected = tools.misc.hmac(self.env(su=True), "bookkeeping_link_oauth", (backend_id, nonce))
        if not consteq(str(signature), expected):
            return self.browse()
        return self.browse(backend_id).exists()

    def action_connect(self):
        """Open the remote login and consent page; the controller finishes the link."""
        self.ensure_one()
        self._check_manager()
        if not self.sudo().client_id or not self.sudo().client_secret:
            raise UserError(self.env._("Enter the client ID and client secret first."))
        url = self._service_call("authorization_url", self._oauth_state(), self.redirect_uri)
        return {"type": "ir.actions.act_url", "url": url, "target": "self"}

    def _finish_oauth(self, code):
        """Exchange the authorization code (called by the controller, already checked)."""
        self.ensure_one()
        token = self._service_call("exchange_code", code, self.redirect_uri)
        self._save_tokens_here(token)
        was_linked = bool(self.administration_code)
        self.write({"state": "linked", "state_message": False})
        self.activity_unlink(["account_bookkeeping_link.mail_activity_reconnect"])
        if was_linked:
            # A reconnect keeps the administration, mappings and every partner/invoice link.
            self.message_post(body=self.env._("Reconnected; all existing links were kept."))
        else:
            self._service_call("after_connect")

    def _check_manager(self):
        if not self.env.user.has_group("account_bookkeeping_link.group_bookkeeping_manager"):
            raise UserError(self.env._("Only a Bookkeeping link manager can change the link."))

    # ------------------------------------------------------------------ actions

    def action_load_options(self):
        """(Re)load the remote lists: VAT codes, journals, accounts, items, ..."""
        self.ensure_one()
        self._check_manager()
        self._service_call("load_options")
        self.options_loaded_at = fields.Datetime.now()
        self._suggest_tax_mappings()
        return True

    def action_test_connection(self):
        self.ensure_one()
        try:
            message = self._service_call("test_connection")
        except client_errors.BookkeepingError as error:
            self._handle_backend_error(error)
            raise UserError(str(error)) from error
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Connection works"),
                "message": message,
                "type": "success",
                "sticky": False,
            },
        }

    def action_disconnect(self):
        self._check_manager()
        self.sudo().token_ids.unlink()
        self.write({"state": "draft"})

    def action_open_moves(self):
        self.ensure_one()
        state = self.env.context.get("bookkeeping_state")
        domain = [("bookkeeping_backend_id", "=", self.id)]
        if state:
            domain.append(("bookkeeping_state", "=", state))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Invoices"),
            "res_model": "account.move",
            "view_mode": "list,form",
            "domain": domain,
        }

    def action_send_pending(self):
        self.ensure_one()
        moves = self.env["account.move"].search(
            [("bookkeeping_backend_id", "=", self.id), ("bookkeeping_state", "=", "to_send")]
        )
        self._push_moves(moves)
        return True

    def action_sync_numbers(self):
        for backend in self:
            backend._sync_remote_state()
        return True

    # ------------------------------------------------------------------ mappings

    def _suggest_tax_mappings(self):
        """Create a tax mapping line for every sale tax, suggesting the remote VAT code with
        the same rate. When several codes fit (0% often has domestic, EU and export codes),
        the line stays empty and lists the candidates, so the manager chooses explicitly."""
        Mapping = self.env["bookkeeping.mapping"]
        for backend in self:
            taxes = self.env["account.tax"].search([
                ("company_id", "parent_of", backend.company_id.id),
                ("type_tax_use", "=", "sale"),
                ("amount_type", "=", "percent"),
            ])
            mapped = backend.tax_mapping_ids.tax_id
            codes = backend.option_ids.filtered(lambda o: o.kind == "vat_code" and o.active)
            vals_list = []
            for tax in taxes - mapped:
                candidates = codes.filtered(
                    lambda c, tax=tax: tools.float_compare(c.percentage, tax.amount, 2) == 0
                    # Exact types: E excludes VAT, I includes it; other codes carry no type.
                    and c.remote_type != ("E" if tax.price_include else "I")
                )
                vals_list.append({
                    "backend_id": backend.id,
                    "mapping_type": "tax",
                    "tax_id": tax.id,
                    "option_id": candidates.id if len(candidates) == 1 else False,
                    "candidate_ids": [fields.Command.set(candidates.ids)],
                })
            Mapping.create(vals_list)

    def _remote_option(self, kind, code):
        return self.option_ids.filtered(lambda o: o.kind == kind and o.code == code)[:1]

    def _mapped_option(self, mapping_type, record):
        """The remote option mapped to ``record`` (a tax, account or payment term), cached
        per backend for the run so a batch of invoices costs no extra queries."""
        cache = self.env.context.get("bookkeeping_mapping_cache")
        if cache is None:
            cache = self._mapping_cache()
        return cache.get((mapping_type, record.id))

    def _mapping_cache(self):
        """Plain values, not records: they survive the per-invoice commits, which clear
        the ORM cache."""
        self.ensure_one()
        return {
            (m.mapping_type, m._mapped_record().id): m.option_id._as_value()
            for m in self.env["bookkeeping.mapping"].search([("backend_id", "=", self.id)])
            if m.option_id
        }

    # ------------------------------------------------------------------ errors

    def _handle_backend_error(self, error):
        """Errors that concern the whole link, not one invoice."""
        self.ensure_one()
        if isinstance(error, client_errors.AuthExpired):
            self._set_needs_reconnect(str(error))
        elif isinstance(error, client_errors.AccessDenied):
            self._set_state_side("error", self.env._(
                "%(service)s refused access to administration %(admin)s: %(msg)s. Check "
                "that the user still has access to it, or choose another administration.",
                service=self._service_label(), admin=self.administration_name
                or self.administration_code, msg=error,
            ))
        elif isinstance(error, client_errors.RateLimited):
            self._set_pause(error)

    def _set_needs_reconnect(self, message):
        self._set_state_side("needs_reconnect", message)
        managers = self.env.ref("account_bookkeeping_link.group_bookkeeping_manager").user_ids
        managers = managers.filtered(lambda u: self.company_id in u.company_ids)
        existing = self.activity_ids.filtered(
            lambda a: a.activity_type_id == self.env.ref(
                "account_bookkeeping_link.mail_activity_reconnect")
        )
        for user in managers[:5] if not existing else []:
            self.activity_schedule(
                "account_bookkeeping_link.mail_activity_reconnect",
                user_id=user.id,
                note=self._reconnect_message(),
            )

    def _set_state_side(self, state, message):
        """Set the link state and commit it at once, so the next worker sees it."""
        self.write({"state": state, "state_message": message})
        self._commit()

    def _set_pause(self, error):
        until = fields.Datetime.to_datetime(
            fields.Datetime.now() + timedelta(seconds=max(1, error.retry_at - time.time()))
        ) if getattr(error, "retry_at", None) else False
        if error.scope == "day":
            reason = self.env._(
                "Paused: the daily budget of API calls of %(service)s is almost used up. "
                "Sending resumes automatically after the reset.",
                service=self._service_label(),
            )
            self.write({"paused_until": until, "pause_reason": reason})

    @api.model
    def _rate_text(self, snapshot):
        """'Minute: 53 of 60 left (reset 10:49:00 UTC); day: 4944 of 5000 left (...)'."""
        parts = []
        for label, scope in ((self.env._("minute"), "minute"), (self.env._("day"), "day")):
            remaining, limit = snapshot.get(f"{scope}_remaining"), snapshot.get(f"{scope}_limit")
            if remaining is None:
                continue
            reset = snapshot.get(f"{scope}_reset")
            when = datetime.fromtimestamp(reset, timezone.utc).strftime("%Y-%m-%d %H:%M:%S") \
                if reset else "?"
            parts.append(self.env._("%(scope)s: %(left)s of %(limit)s calls left (reset "
                                    "%(when)s UTC)", scope=label, left=remaining,
                                    limit=limit or "?", when=when))
        return "; ".join(parts) or self.env._("No limit reported by the service.")

    def _store_rate_snapshot(self, snapshot):
        """Show the budget on the form. Kept on the token row, written on a side cursor:
        updating the backend row itself there would make every open transaction that
        references the backend (call log rows) fail to serialize."""
        if not snapshot:
            return
        text = self._rate_text(snapshot)
        query = SQL("UPDATE bookkeeping_token SET rate_limit_info=%s WHERE backend_id=%s",
                    text, self.id)
        if not self._can_commit():
            self.env.cr.execute(query)
            self.env["bookkeeping.token"].invalidate_model(["rate_limit_info"])
            return
        with self.env.registry.cursor() as cr:
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cr.execute(SQL("SET LOCAL lock_timeout = '2s'"))
            try:
                cr.execute(query)
            except psycopg2.errors.LockNotAvailable:
                cr.rollback()  # a token refresh holds the row: the figure can wait

    def _is_paused(self):
        return self.paused_until and self.paused_until > fields.Datetime.now()

    # ------------------------------------------------------------------ partners

    def _partner_remote_id(self, partner):
        return self._service_call("partner_remote_id", partner.commercial_partner_id)

    def _partners_linked_to(self, remote_id):
        """The partners of this company linked to the remote customer ``remote_id``."""
        field = self._service_call("partner_remote_field")
        return self.env["res.partner"].with_company(self.company_id).search(
            [(field, "=", str(remote_id))])

    def _partner_fingerprint(self, vals):
        """A digest of what Odoo would send for a customer, to send it only once."""
        digest = hashlib.sha1(
            json.dumps(vals, sort_keys=True, default=str).encode(), usedforsecurity=False)
        return f"{self.id}:{digest.hexdigest()}"

    def _push_partner(self, client, partner, changed_only=False):
        """Link or create the remote customer, and update it only when the link says so.

        * Not linked yet: a remote customer found by our keys is linked and left exactly
          as it is (its VAT number, KvK number, payment condition, ... stay); none found:
          it is created from Odoo's data.
        * Linked: Odoo's values go out only with 'Update existing customers from Odoo',
          and then only the fields Odoo has a value for (``changed_only``: only when they
          changed since they last went out; an invoice push uses that).

        Returns the service's remote dict with ``outcome``: created, linked, updated,
        unchanged or kept (linked, updates off).
        """
        partner = partner.commercial_partner_id
        remote_id = self._partner_remote_id(partner)
        update = self.update_remote_partners
        if not partner.country_id and not remote_id:
            raise UserError(self.env._(
                "The customer %(partner)s has no country: set it on the contact.",
                partner=partner.display_name))
        vals = self._service_call("partner_vals", partner)
        fingerprint = self._partner_fingerprint(vals)
        synced = partner.with_company(self.company_id).bookkeeping_sync_hash
        if remote_id and changed_only and (not update or synced == fingerprint):
            return {"remote_id": remote_id, "outcome": "unchanged"}
        log = client.bookkeeping_log
        invoice, log.record = log.record, partner  # calls made now concern the partner
        try:
            remote = self._service_call("push_partner", client, partner, vals, update)
        except client_errors.ValidationError as error:
            partner.with_company(self.company_id).write({
                "bookkeeping_sync_state": "error",
                "bookkeeping_sync_error": str(error.remote_message or error)[:250]})
            raise
        finally:
            log.record = invoice
        self._service_call("set_partner_remote", partner, remote)
        partner_vals = {"bookkeeping_sync_state": "linked", "bookkeeping_sync_error": False}
        if remote["outcome"] in ("created", "updated", "unchanged"):
            # Odoo's values are in the remote package now: an invoice need not send them.
            partner_vals["bookkeeping_sync_hash"] = fingerprint
        partner.with_company(self.company_id).write(partner_vals)
        return remote

    def _ensure_remote_partner(self, client, partner):
        """The remote customer id of an invoice's partner, created when allowed. A linked
        customer is updated only with 'Update existing customers from Odoo', and only
        when its data changed since it last went out."""
        remote_id = self._partner_remote_id(partner)
        if remote_id:
            if self.update_remote_partners:
                return self._push_partner(client, partner, changed_only=True)["remote_id"]
            return remote_id
        if not self.auto_create_partner:
            raise UserError(self._partner_missing_message(partner))
        return self._push_partner(client, partner)["remote_id"]

    def _partner_missing_message(self, partner):
        return self.env._(
            "The customer %(partner)s is not linked to %(service)s yet. Link or create it "
            "with the Sync button on the contact, or turn on 'Create missing customers'.",
            partner=partner.commercial_partner_id.display_name,
            service=self._service_label())

    # ------------------------------------------------------------------ engine: push

    def _push_moves(self, moves):
        """Send ``moves`` (customer invoices/credit notes) to their backends.

        The same path serves the button, the list action and the cron. Each invoice is
        handled on its own: bad input stops that invoice only, before any call; a link-wide
        problem (dead token, daily budget) stops the batch and leaves the rest ``to_send``.
        Returns the number of invoices handled.
        """
        done = 0
        for backend in moves.bookkeeping_backend_id:
            backend_moves = moves.filtered(lambda m, b=backend: m.bookkeeping_backend_id == b)
            done += backend._in_company_context()._push_backend_moves(backend_moves)
        return done

    def _in_company_context(self):
        """The link as its company works: that company, in its language, so the messages a
        cron writes on invoices are in the language of the people who read them."""
        self.ensure_one()
        lang = self.env.context.get("lang") if self.env.uid != 1 and not self.env.su else None
        return self.with_company(self.company_id).with_context(
            lang=lang or self.company_id.partner_id.lang or self.env.lang)

    def _push_backend_moves(self, moves):
        self.ensure_one()
        if self.state != "linked" or self._is_paused():
            return 0  # the invoices stay 'to send' until the link works again
        client = self._client()
        cache_ctx = self.with_context(bookkeeping_mapping_cache=self._mapping_cache())
        handled = 0
        for start in range(0, len(moves), PUSH_CHUNK):
            chunk = self._claim(moves[start:start + PUSH_CHUNK])
            try:
                fresh = cache_ctx._mark_sending(chunk)
                for move in chunk:
                    # Prefetch this invoice only: each commit empties the cache, and the
                    # chunk-wide prefetch would re-read the lines of all 50 every time.
                    move = move.with_prefetch()  # noqa: PLW2901
                    try:
                        cache_ctx._push_one(client, move, uncertain=move.id not in fresh)
                    except (client_errors.AuthExpired, client_errors.AccessDenied,
                            client_errors.RateLimited) as error:
                        # Nothing was sent for these: they wait, with no look-up needed.
                        chunk.filtered(
                            lambda m, fresh=fresh: m.bookkeeping_state == "sending"
                            and m.id in fresh
                        )._bookkeeping_write({"bookkeeping_state": "to_send"})
                        self._handle_backend_error(error)
                        self.env["bookkeeping.log"]._flush_collector(client)
                        self._commit()
                        self._store_rate_snapshot(client.rate_limit_snapshot())
                        return handled
                    handled += 1
                    self.env["bookkeeping.log"]._flush_collector(client)
                    self._commit()
            finally:
                self._release(chunk)
        self._store_rate_snapshot(client.rate_limit_snapshot())
        return handled

    def _claim(self, moves):
        """Lock the invoices this worker will send. The row lock (SKIP LOCKED) dies at the
        first commit, so a session-level advisory lock keeps the claim across the
        per-invoice commits: a second worker skips them instead of sending them twice."""
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
        self.env.cr.execute(SQL(
            "SELECT id FROM unnest(%s::int[]) AS id WHERE pg_try_advisory_lock(%s, id)",
            locked.ids, ADVISORY_LOCK_SPACE))
        claimed = {row[0] for row in self.env.cr.fetchall()}
        return locked.filtered(lambda m: m.id in claimed)

    def _release(self, moves):
        if moves:
            self.env.cr.execute(SQL(
                "SELECT pg_advisory_unlock(%s, id) FROM unnest(%s::int[]) AS id",
                ADVISORY_LOCK_SPACE, moves.ids))

    def _mark_sending(self, moves):
        """Mark the claimed invoices 'sending' and commit before any call: after a crash
        between a call and our commit, the next run finds 'sending' and looks the invoice
        up before any new attempt. One UPDATE and one commit per chunk. Returns the ids
        that need no look-up (the others were left 'sending' or with an unknown outcome
        by an earlier attempt, or are already known remotely)."""
        fresh = set(moves.filtered(
            lambda m: m.bookkeeping_state != "sending" and not m.bookkeeping_outcome_unknown
            and not m.bookkeeping_remote_id
        ).ids)
        moves._bookkeeping_write({"bookkeeping_state": "sending"})
        self._commit()
        return fresh

    def _push_one(self, client, move, uncertain=False):
        """Send one invoice (already marked 'sending'); never creates a remote duplicate:
        when an earlier attempt may have reached the remote package, look it up first."""
        errors = self._check_move(move)
        if errors:
            move._bookkeeping_set_error("\n".join(errors), retryable=False)
            return
        client.bookkeeping_log.record = move
        try:
            result = None
            if uncertain:
                result = self._service_call("find_move", client, move)
            if not result:
                result = self._service_call("push_move", client, move)
        except client_errors.OutcomeUnknown as error:
            move._bookkeeping_set_error(
                self.env._("%(msg)s The invoice will be looked up by its reference before "
                           "it is sent again, so no duplicate is made.", msg=error),
                retryable=True, outcome_unknown=True,
            )
            return
        except client_errors.ValidationError as error:
            move._bookkeeping_set_error(self._remote_error_text(error), retryable=False)
            return
        except client_errors.RetryableError as error:
            move._bookkeeping_set_error(str(error), retryable=True)
            return
        except UserError as error:
            move._bookkeeping_set_error(str(error), retryable=False, outcome_unknown=False)
            return
        move._bookkeeping_set_result(result)

    def _check_move(self, move):
        """Everything that can be checked before any call. A list of messages that say
        what to fix; empty when the invoice can go."""
        errors = []
        if move.state != "posted":
            errors.append(self.env._("Only posted invoices are sent."))
        if move.move_type not in ("out_invoice", "out_refund"):
            errors.append(self.env._("Only customer invoices and credit notes are sent."))
        if move.bookkeeping_sent_hash and move.bookkeeping_sent_hash != move._bookkeeping_hash():
            errors.append(self.env._(
                "This invoice was changed after it was sent. The booked version cannot be "
                "changed from Odoo: make a credit note and a new invoice instead."))
        if not move.partner_id.country_id:
            errors.append(self.env._(
                "The customer %(partner)s has no country: set it on the contact.",
                partner=move.partner_id.display_name))
        if not self.auto_create_partner and not self._partner_remote_id(move.partner_id):
            errors.append(self._partner_missing_message(move.partner_id))
        errors += self._service_call("check_move", move)
        return errors

    def _remote_error_text(self, error):
        text = self.env._("%(service)s refused the invoice: %(msg)s",
                          service=self._service_label(), msg=error.remote_message or error)
        if error.field_errors:
            text += "\n" + "\n".join(
                f"- {field}: {'; '.join(msgs) if isinstance(msgs, list) else msgs}"
                for field, msgs in error.field_errors.items()
            )
        return text

    # ------------------------------------------------------------------ engine: sync back

    def _sync_remote_state(self):
        """Pull numbers and payment state back, in bulk."""
        self.ensure_one()
        if self.state != "linked" or self._is_paused():
            return
        client = self._client()
        try:
            waiting = self.env["account.move"].search([
                ("bookkeeping_backend_id", "=", self.id),
                ("bookkeeping_state", "=", "sent_draft"),
            ])
            if waiting:
                self._service_call("sync_numbers", client, waiting)
            self.last_number_sync = fields.Datetime.now()
            unpaid = self.env["account.move"].search([
                ("bookkeeping_backend_id", "=", self.id),
                ("bookkeeping_state", "in", ("done", "sent_draft")),
                ("bookkeeping_remote_payment_state", "!=", "paid"),
            ])
            if unpaid:
                self._service_call("sync_payments", client, unpaid)
            self.last_payment_sync = fields.Datetime.now()
        except (client_errors.AuthExpired, client_errors.AccessDenied,
                client_errors.RateLimited) as error:
            self._handle_backend_error(error)
        finally:
            self.env["bookkeeping.log"]._flush_collector(client)
            self._store_rate_snapshot(client.rate_limit_snapshot())

    # ------------------------------------------------------------------ crons

    @api.model
    def _cron_push_invoices(self):
        now = fields.Datetime.now()
        domain = [
            ("bookkeeping_backend_id.state", "=", "linked"),
            "|",
            ("bookkeeping_state", "in", ("to_send", "sending")),
            "&", "&",
            ("bookkeeping_state", "=", "error"),
            ("bookkeeping_error_retryable", "=", True),
            "|", ("bookkeeping_next_attempt", "=", False), ("bookkeeping_next_attempt", "<=", now),
        ]
        Move = self.env["account.move"]
        remaining = Move.search_count(domain)
        self.env["ir.cron"]._commit_progress(remaining=remaining)
        moves = Move.search(domain, limit=CRON_BATCH, order="bookkeeping_backend_id, id")
        handled = self._push_moves(moves)
        self.env["ir.cron"]._commit_progress(handled)
        if handled and remaining > len(moves):
            self.env.ref("account_bookkeeping_link.ir_cron_bookkeeping_push")._trigger()

    @api.model
    def _cron_sync_remote_state(self):
        for backend in self.search([("state", "=", "linked")]):
            backend._in_company_context()._sync_remote_state()
            self.env["ir.cron"]._commit_progress(1)

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
                backend._service_call("refresh_token")
            except client_errors.BookkeepingError as error:
                backend._handle_backend_error(error)
            self.env["ir.cron"]._commit_progress(1)


class BackendTokenStore:
    """``clients.oauth.TokenStore`` on the database.

    The lock is a row lock on the ``bookkeeping_token`` row taken on a separate cursor in
    READ COMMITTED, so the token is re-read *after* the lock is granted (the other worker's
    refresh is visible), and the rotated pair is committed the moment it is saved: a
    crash of the caller's transaction can never lose a refresh token.
    """

    def __init__(self, backend):
        self.backend_id = backend.id
        self.env = backend.env
        self._latest = None
        self._cr = None

    def read(self):
        if self._latest:
            return dict(self._latest)
        # Cached for the run: a token rotated by another worker is re-read under the lock
        # whenever ours is due or refused.
        token = self.env["bookkeeping.token"].sudo().search(
            [("backend_id", "=", self.backend_id)], limit=1)
        self._latest = token._as_dict() if token else None
        return dict(self._latest) if self._latest else None

    @contextmanager
    def locked(self):
        Token = self.env["bookkeeping.token"]
        if not Token._can_side_commit():
            # Tests: the test transaction cannot be committed; lock on it instead.
            self.env.cr.execute(SQL(
                "SELECT id FROM bookkeeping_token WHERE backend_id=%s FOR UPDATE",
                self.backend_id))
            self._cr = self.env.cr
            try:
                yield self._read_on(self.env.cr)
            finally:
                self._cr = None
            return
        with self.env.registry.cursor() as cr:
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cr.execute(SQL(
                "SELECT id FROM bookkeeping_token WHERE backend_id=%s FOR UPDATE",
                self.backend_id))
            self._cr = cr
            try:
                yield self._read_on(cr)
            finally:
                self._cr = None

    def _read_on(self, cr):
        cr.execute(SQL(
            "SELECT access_token, refresh_token, expires_at, obtained_at FROM bookkeeping_token"
            " WHERE backend_id=%s", self.backend_id))
        row = cr.fetchone()
        if not row:
            return None
        self._latest = dict(zip(("access_token", "refresh_token", "expires_at", "obtained_at"),
                                row, strict=True))
        return dict(self._latest)

    def save(self, token):
        cr = self._cr or self.env.cr
        self.env["bookkeeping.token"].sudo()._store(self.backend_id, token, cr)
        if cr is not self.env.cr:
            cr.commit()  # pylint: disable=invalid-commit
            self.env["bookkeeping.token"].invalidate_model()
        self._latest = dict(token)
