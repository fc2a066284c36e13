"""The link between one Odoo company and one remote bookkeeping administration.

Service-specific behaviour lives in ``bookkeeping_backend_<service>.py``: those files add
their service with ``selection_add`` and override the ``_service_<hook>`` methods declared
in ``bookkeeping_service_contract.py``. The engine (push, sync, crons) is in
``bookkeeping_engine.py``. Everything here is shared by all services.
"""

import hashlib
import json
import logging
import re
import secrets
import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import psycopg2

from odoo import api, fields, models, modules, tools
from odoo.exceptions import UserError
from odoo.tools import SQL, consteq

from ..clients import errors as client_errors

# Imported first: the link model inherits the contract and the engine defined there.
from . import bookkeeping_engine, bookkeeping_service_contract  # noqa: F401
from .bookkeeping_token import BackendTokenStore

_logger = logging.getLogger(__name__)


class BookkeepingBackend(models.Model):
    _name = "bookkeeping.backend"
    _description = "Bookkeeping link"
    _inherit = [
        "mail.thread",
        "mail.activity.mixin",
        "bookkeeping.service.contract",
        "bookkeeping.engine",
    ]
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
        "Redirect URL",
        compute="_compute_redirect_uri",
        help="Register this URL as the redirect URL of your app at the remote package.",
    )

    administration_code = fields.Char(
        "Administration",
        copy=False,
        tracking=True,
        help="The remote administration (division, administration or company) this link books in.",
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
        "Send on post",
        default=True,
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
        "Create missing customers",
        default=True,
        help="Create the customer remotely when an invoice is sent for a partner that is "
        "not linked yet. When off, such an invoice stops with an error.",
    )
    update_remote_partners = fields.Boolean(
        "Update existing customers from Odoo",
        default=False,
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
    partner_link_ids = fields.One2many("bookkeeping.partner.link", "backend_id", "Customers")
    options_loaded_at = fields.Datetime("Lists loaded", readonly=True, copy=False)
    tax_mapping_ids = fields.One2many(
        "bookkeeping.mapping",
        "backend_id",
        domain=[("mapping_type", "=", "tax")],
        string="VAT code mapping",
    )
    account_mapping_ids = fields.One2many(
        "bookkeeping.mapping",
        "backend_id",
        domain=[("mapping_type", "=", "account")],
        string="Account mapping",
    )
    default_income_option_id = fields.Many2one(
        "bookkeeping.remote.option",
        "Default income account",
        domain="[('backend_id', '=', id), ('kind', '=', 'gl_account'), ('is_income', '=', True)]",
        help="Chosen once: every Odoo income account without a remote account of the same "
        "code is mapped to it; refine per account on the Accounts tab.",
    )
    payment_term_mapping_ids = fields.One2many(
        "bookkeeping.mapping",
        "backend_id",
        domain=[("mapping_type", "=", "payment_term")],
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
                if token.expires_at
                else False
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
        # _origin: shown inside another form (the Settings block), the links are new
        # records whose ids are not the database ids.
        groups = self.env["account.move"]._read_group(
            [("bookkeeping_backend_id", "in", self._origin.ids)],
            ["bookkeeping_backend_id", "bookkeeping_state"],
            ["__count"],
        )
        counts = {(backend.id, state): count for backend, state, count in groups}
        for backend in self:
            key = backend._origin.id
            backend.move_count_to_send = counts.get((key, "to_send"), 0)
            backend.move_count_error = counts.get((key, "error"), 0)
            backend.move_count_waiting = counts.get((key, "sent_draft"), 0)

    # ------------------------------------------------------------------ service

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

    @api.model
    def _cron_progress(self, processed=0, remaining=None):
        """``ir.cron._commit_progress`` (it commits), guarded like ``_commit`` so that the
        crons can be run inside a test transaction."""
        if self._can_commit():
            self.env["ir.cron"]._commit_progress(processed, remaining=remaining)

    # ------------------------------------------------------------------ tokens

    def _token_store(self):
        self.ensure_one()
        return BackendTokenStore(self)

    def _save_tokens_here(self, token):
        """Store a token pair on the current cursor (the OAuth callback's transaction)."""
        self.ensure_one()
        self.env["bookkeeping.token"].sudo()._store(self.id, token, self.env.cr)

    # ------------------------------------------------------------------ client

    @contextmanager
    def _session(self, **options):
        """The service client for one piece of work, with the token store, the rate limiter
        and the call log attached. The calls are written to the log when the block ends,
        whatever happens, and the rate budget is shown on the link. ``options`` go to the
        service's ``_service_make_client`` (e.g. no administration chosen yet)."""
        self.ensure_one()
        if self.state == "needs_reconnect" and not self.env.context.get(
            "bookkeeping_try_any_state"
        ):
            raise UserError(self._reconnect_message())
        collector = self._log_collector()
        client = self._service_make_client(on_call=collector, **options)
        client.bookkeeping_log = collector
        try:
            yield client
        finally:
            self.env["bookkeeping.log"]._flush_collector(client)
            if collector.calls:
                self._store_rate_snapshot(client.rate_limit_snapshot())

    def _client(self):
        """A client whose calls are only logged when the caller flushes them: for the Odoo
        shell and tests. The product's code uses ``_session()``."""
        self.ensure_one()
        collector = self._log_collector()
        client = self._service_make_client(on_call=collector)
        client.bookkeeping_log = collector
        return client

    def _checkpoint(self, client):
        """Write the calls so far to the log and commit: what the remote package did is
        kept, whatever happens next."""
        self.env["bookkeeping.log"]._flush_collector(client)
        self._commit()

    def _not_ready_message(self):
        """Why this link cannot send now, or False when it can."""
        self.ensure_one()
        if self.state == "needs_reconnect":
            return self._reconnect_message()
        # A link in error (e.g. access to the administration refused) is tried again by
        # hand: the call either works and heals the link, or says why it does not.
        if self.state not in ("linked", "error"):
            return self.state_message or self.env._(
                "The link %(name)s is not connected yet: a manager must press Connect.",
                name=self.name,
            )
        if self._is_paused():
            return self.pause_reason
        return False

    def _stop_reason(self):
        """Why this link stopped sending (not linked, paused), or False while it works."""
        self.ensure_one()
        if self.state == "linked" and not self._is_paused():
            return False
        return self._not_ready_message() or self.state_message or self.pause_reason

    def _reconnect_message(self):
        return self.env._(
            "The link to %(service)s has expired or was revoked. A manager must press "
            "Connect on the link %(name)s to log in again; nothing is lost meanwhile.",
            service=self._service_label(),
            name=self.name,
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
        url = self._service_authorization_url(self._oauth_state(), self.redirect_uri)
        return {"type": "ir.actions.act_url", "url": url, "target": "self"}

    def _finish_oauth(self, code):
        """Exchange the authorization code (called by the controller, already checked)."""
        self.ensure_one()
        token = self._service_exchange_code(code, self.redirect_uri)
        self._save_tokens_here(token)
        was_linked = bool(self.administration_code)
        self.write({"state": "linked", "state_message": False})
        self.activity_unlink(["account_bookkeeping_link.mail_activity_reconnect"])
        if was_linked:
            # A reconnect keeps the administration, mappings and every partner/invoice link.
            self.message_post(body=self.env._("Reconnected; all existing links were kept."))
        else:
            self._service_after_connect()

    def _check_manager(self):
        if not self.env.user.has_group("account_bookkeeping_link.group_bookkeeping_manager"):
            raise UserError(self.env._("Only a Bookkeeping link manager can change the link."))

    # ------------------------------------------------------------------ actions

    def action_load_options(self):
        """(Re)load the remote lists: VAT codes, journals, accounts, items, ..."""
        self.ensure_one()
        self._check_manager()
        return self._remote_action(self.env._("Loading the lists"), self._load_options)

    def _load_options(self):
        self._service_load_options()
        self.options_loaded_at = fields.Datetime.now()
        filled = self._apply_suggestions()
        return self._notification(
            self.env._(
                "Loaded from %(admin)s: %(lists)s.",
                admin=self._admin_label(),
                lists=self._options_summary(),
            )
            + " "
            + self._mapping_summary(filled),
            title=self.env._("Lists loaded"),
        )

    def _options_summary(self):
        """'5 VAT codes, 4 journals, 8 ledger accounts, ...' (active entries)."""
        counts = defaultdict(int)
        for option in self.option_ids:
            counts[option.kind] += 1
        plural = self.env["bookkeeping.remote.option"]._kind_plurals()
        return ", ".join(
            self.env._("%(count)s %(kind)s", count=counts[kind], kind=label)
            for kind, label in plural.items()
            if counts.get(kind)
        ) or self.env._("nothing")

    def action_test_connection(self):
        self.ensure_one()
        # Tried even on a link marked 'needs reconnect': when the token works after all,
        # the link heals (one call; a dead token is refused again and nothing changes).
        backend = self.with_context(bookkeeping_try_any_state=True)
        return backend._remote_action(
            self.env._("Test connection"),
            lambda: self._notification(
                backend._service_test_connection(),
                title=self.env._("Connection works"),
                reload=False,
            ),
        )

    def action_disconnect(self):
        self._check_manager()
        self.sudo().token_ids.unlink()
        self.write({"state": "draft", "state_message": False})
        return self._notification(
            self.env._(
                "Disconnected: the tokens were removed. Press Connect to link again; invoices "
                "and customers keep their links."
            ),
            title=self.env._("Disconnected"),
        )

    def action_open_moves(self):
        self.ensure_one()
        state = self.env.context.get("bookkeeping_state")
        domain = [("bookkeeping_backend_id", "=", self.id)]
        if state:
            domain.append(("bookkeeping_state", "=", state))
        labels = dict(
            self.env["account.move"]._fields["bookkeeping_state"]._description_selection(self.env)
        )
        return {
            "type": "ir.actions.act_window",
            "name": labels.get(state) or self.env._("Invoices"),
            "res_model": "account.move",
            "view_mode": "list,form",
            "views": [
                (self.env.ref("account_bookkeeping_link.view_move_list_bookkeeping").id, "list"),
                (False, "form"),
            ],
            "domain": domain,
            "context": {"default_move_type": "out_invoice", "create": False},
        }

    def action_send_pending(self):
        self.ensure_one()
        moves = self.env["account.move"].search(
            [("bookkeeping_backend_id", "=", self.id), ("bookkeeping_state", "=", "to_send")]
        )
        if not moves:
            return self._notification(self.env._("No invoice is waiting to be sent."), kind="info")
        return moves._bookkeeping_push_and_report()

    def action_sync_numbers(self):
        """Button: pull numbers and payment state back now, and say what came back."""
        messages, kind = [], "success"
        for backend in self:
            summary = backend._in_company_context()._sync_remote_state()
            messages.append(backend._sync_summary_text(summary))
            if summary.get("failed"):
                kind = "warning" if summary.get("numbers") or summary.get("payments") else "danger"
        return self._notification(
            "\n".join(messages), kind=kind, title=self.env._("Numbers and payments")
        )

    def _sync_summary_text(self, summary):
        """'Exact Online administration 1001 (Demo BV): 3 numbers received, 2 payments
        updated.' plus what failed."""
        text = self.env._(
            "%(admin)s: %(numbers)s numbers received, %(payments)s payments updated.",
            admin=self._admin_label(),
            numbers=summary.get("numbers", 0),
            payments=summary.get("payments", 0),
        )
        if summary.get("skipped"):
            text += " " + summary["skipped"]
        for failure in summary.get("failed", []):
            text += " " + failure
        return text

    # ------------------------------------------------------------------ buttons: messages

    def _admin_name(self):
        """'1003 (Demo Holding)', or False when no administration is chosen."""
        self.ensure_one()
        code, name = self.administration_code, self.administration_name
        return f"{code} ({name})" if code and name and name != code else (code or name)

    def _admin_label(self):
        """'Exact Online administration 1003 (Demo Holding)': every remote message names the
        administration it concerns."""
        admin = self._admin_name()
        if not admin:
            return self.env._(
                "%(service)s (link %(name)s, no administration chosen yet)",
                service=self._service_label(),
                name=self.name,
            )
        return self.env._(
            "%(service)s administration %(admin)s", service=self._service_label(), admin=admin
        )

    def _remote_failure_text(self, what, error):
        if isinstance(error, client_errors.AuthExpired):
            detail = self._reconnect_message()
        elif isinstance(error, client_errors.AccessDenied):
            detail = self.state_message or str(error)
        else:
            detail = str(error)
        return self.env._(
            "%(what)s failed for %(admin)s: %(detail)s",
            what=what,
            admin=self._admin_label(),
            detail=detail,
        )

    def _remote_action(self, what, func):
        """Run a button that calls the remote package. A remote failure becomes a clear
        notification that names the administration, never a server error; the link state
        and the Reconnect activity it caused are kept (a raised error would roll them
        back with the request). A success heals a link that was in error."""
        self.ensure_one()
        try:
            result = func()
        except client_errors.BookkeepingError as error:
            self._handle_backend_error(error)
            return self._notification(
                self._remote_failure_text(what, error), kind="danger", title=what
            )
        self._link_works()
        return result

    @api.model
    def _notification(self, message, kind="success", title=None, reload=True):
        params = {"message": message, "type": kind, "sticky": kind in ("danger", "warning")}
        if title:
            params["title"] = title
        if reload:
            # The form shows the state, lists and counts that the action changed.
            params["next"] = {"type": "ir.actions.client", "tag": "soft_reload"}
        return {"type": "ir.actions.client", "tag": "display_notification", "params": params}

    def _link_works(self):
        """A call worked: a link in error (or marked for reconnecting) is linked again and
        its Reconnect activity is closed."""
        for backend in self.filtered(lambda b: b.state in ("error", "needs_reconnect")):
            backend.write({"state": "linked", "state_message": False})
            backend.activity_unlink(["account_bookkeeping_link.mail_activity_reconnect"])
            backend.message_post(
                body=self.env._(
                    "The link works again: %(admin)s answered.", admin=backend._admin_label()
                )
            )

    # ------------------------------------------------------------------ mappings

    def _suggest_tax_mappings(self):
        """A tax mapping line for every sale tax, and a remote VAT code on every line that
        has none yet, where one clearly fits: the same rate, the service's fit (price
        including or excluding VAT) and, for 0%, the same scope (domestic, EU, export,
        reverse charge) as Odoo knows it from the tax's report tags and names. When
        several still fit, the line lists them and waits for the manager's choice.
        Returns the number of lines that got a code."""
        Mapping = self.env["bookkeeping.mapping"]
        filled = 0
        for backend in self:
            taxes = self.env["account.tax"].search(
                [
                    ("company_id", "parent_of", backend.company_id.id),
                    ("type_tax_use", "=", "sale"),
                    ("amount_type", "=", "percent"),
                ]
            )
            codes = backend.option_ids.filtered(lambda o: o.kind == "vat_code" and o.active)
            Mapping.create(
                [
                    {"backend_id": backend.id, "mapping_type": "tax", "tax_id": tax.id}
                    for tax in taxes - backend.tax_mapping_ids.tax_id
                ]
            )
            for mapping in backend.tax_mapping_ids.filtered(lambda m: not m.option_id):
                candidates = backend._vat_code_candidates(mapping.tax_id, codes)
                vals = {"candidate_ids": [fields.Command.set(candidates.ids)]}
                if len(candidates) == 1:
                    vals["option_id"] = candidates.id
                    filled += 1
                mapping.write(vals)
        return filled

    def _vat_code_candidates(self, tax, codes):
        """The remote VAT codes that fit ``tax``; narrowed by scope when Odoo knows it."""
        candidates = codes.filtered(
            lambda c: (
                tools.float_compare(c.percentage, tax.amount, 2) == 0
                and self._service_vat_code_fits(tax, c)
            )
        )
        if len(candidates) > 1:
            scope = self._tax_scope(tax)
            same = candidates.filtered(lambda c: c.vat_scope == scope) if scope else None
            if same:
                candidates = same
        return candidates

    # Tags of the Dutch VAT return (l10n_nl): the box says where a 0% sale applies.
    TAX_TAG_SCOPES = (("3a", "export"), ("3b", "eu"), ("3c", "eu"))

    @api.model
    def _tax_scope(self, tax):
        """Where an Odoo sale tax applies: "domestic", "eu", "export", "reverse_charge",
        or False when Odoo does not say. Read from the VAT return tags of its base lines
        (3a export, 3b/3c EU), then from the words of its name and labels."""
        tags = tax.invoice_repartition_line_ids.filtered(
            lambda line: line.repartition_type == "base"
        ).tag_ids
        for tag in tags:
            for box, scope in self.TAX_TAG_SCOPES:
                if re.search(rf"(^|[^0-9a-z]){box}", (tag.name or "").lower()):
                    return scope
        words = " ".join(
            filter(
                None,
                [tax.name, tax.description, tax.invoice_label, tax.with_context(lang="en_US").name],
            )
        ).lower()
        scope = self._scope_from_words(words)
        if scope:
            return scope
        return "domestic" if tags and not tax.amount else False

    @api.model
    def _scope_from_words(self, text):
        """The scope a VAT code or tax description names, in Dutch or English, or False."""
        text = (text or "").lower()
        if re.search(r"verlegd|reverse|referred", text):
            return "reverse_charge"
        if re.search(r"buiten (de )?eu|outside (the )?eu|non-eu", text):
            return "export"
        if re.search(r"intra|icp|binnen (de )?eu|within (the )?eu|\beu\b", text):
            return "eu"
        if re.search(r"\bexport", text):
            return "export"
        if re.search(r"binnenland|domestic|nationaal", text):
            return "domestic"
        return False

    def _suggest_account_mappings(self):
        """Map every income account of the company: to the remote ledger account with the
        same code when there is one, else to the link's default income account (chosen
        once, refined per line afterwards). Never changes a chosen mapping. Returns the
        number of lines that got an account."""
        filled = 0
        for backend in self:
            accounts = (
                self.env["account.account"]
                .with_company(backend.company_id)
                .search(
                    [
                        ("company_ids", "in", backend.company_id.id),
                        ("account_type", "in", ("income", "income_other")),
                    ]
                )
            )
            remote = backend.option_ids.filtered(
                lambda o: o.kind == "gl_account" and o.active and o.is_income
            )
            by_code = {o.code: o for o in remote}
            default = backend.default_income_option_id
            existing = {m.account_id: m for m in backend.account_mapping_ids}
            vals_list = []
            for account in accounts:
                option = by_code.get(account.code) or default
                mapping = existing.get(account)
                if mapping:
                    if not mapping.option_id and option:
                        mapping.option_id = option
                        filled += 1
                    continue
                vals_list.append(
                    {
                        "backend_id": backend.id,
                        "mapping_type": "account",
                        "account_id": account.id,
                        "option_id": option.id if option else False,
                    }
                )
                filled += bool(option)
            self.env["bookkeeping.mapping"].create(vals_list)
        return filled

    def _suggest_payment_term_mappings(self):
        """Map payment terms to the remote payment condition with the same number of
        days (when the remote list says its days and exactly one fits)."""
        filled = 0
        for backend in self:
            conditions = backend.option_ids.filtered(
                lambda o: o.kind == "payment_condition" and o.active
            )
            by_days = defaultdict(list)
            for option in conditions:
                days = (option.extra or {}).get("days")
                if days is not None:
                    by_days[int(days)].append(option)
            terms = self.env["account.payment.term"].search(
                [("company_id", "in", (False, backend.company_id.id))]
            )
            mapped = backend.payment_term_mapping_ids.payment_term_id
            vals_list = []
            for term in terms - mapped:
                days = {int(line.nb_days) for line in term.line_ids}
                fit = by_days.get(days.pop()) if len(days) == 1 else None
                if fit and len(fit) == 1:
                    vals_list.append(
                        {
                            "backend_id": backend.id,
                            "mapping_type": "payment_term",
                            "payment_term_id": term.id,
                            "option_id": fit[0].id,
                        }
                    )
            self.env["bookkeeping.mapping"].create(vals_list)
            filled += len(vals_list)
        return filled

    def _suggest_default_income(self):
        """The remote income account to map Odoo's income accounts to, when none is
        chosen: the one with the code of the company's default income account, else the
        first income account of the remote list."""
        for backend in self.filtered(lambda b: not b.default_income_option_id):
            remote = backend.option_ids.filtered(
                lambda o: o.kind == "gl_account" and o.active and o.is_income
            )
            if not remote:
                continue
            income = (
                self.env["account.account"]
                .with_company(backend.company_id)
                .search(
                    [
                        ("company_ids", "in", backend.company_id.id),
                        ("account_type", "=", "income"),
                    ],
                    order="code",
                    limit=1,
                )
            )
            backend.default_income_option_id = (
                remote.filtered(lambda o, income=income: o.code == income.code)[:1] or remote[:1]
            )

    def action_apply_suggestions(self):
        """Button: fill every empty mapping with what clearly fits, and say what is left."""
        self.ensure_one()
        self._check_manager()
        filled = self._apply_suggestions()
        return self._notification(
            self._mapping_summary(filled), title=self.env._("Suggestions applied")
        )

    def _apply_suggestions(self):
        self._service_suggest_defaults()
        self._suggest_default_income()
        return (
            self._suggest_tax_mappings()
            + self._suggest_account_mappings()
            + self._suggest_payment_term_mappings()
        )

    def _mapping_summary(self, filled=None):
        """'12 mappings filled in. 2 taxes need your choice: 0% EU, 0% EX.'"""
        parts = []
        if filled is not None:
            parts.append(self.env._("%(count)s mappings filled in.", count=filled))
        choose = self.tax_mapping_ids.filtered("needs_choice")
        if choose:
            parts.append(
                self.env._(
                    "%(count)s taxes fit several remote VAT codes and need your choice: %(taxes)s.",
                    count=len(choose),
                    taxes=", ".join(choose.tax_id.mapped("display_name")),
                )
            )
        return " ".join(parts) or self.env._("Every mapping is filled in.")

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

    def _handle_backend_error(self, error, resume=None):
        """Errors that concern the whole link, not one invoice. ``resume``: called with
        the moment (UTC) a rate limit lifts, to have the work go on then."""
        self.ensure_one()
        if isinstance(error, client_errors.AuthExpired):
            self._set_needs_reconnect(str(error))
        elif isinstance(error, client_errors.AccessDenied):
            self._set_state_side(
                "error",
                self.env._(
                    "%(service)s refused access to administration %(admin)s: %(msg)s. Check "
                    "that the user still has access to it, or choose another administration.",
                    service=self._service_label(),
                    admin=self._admin_name() or self.name,
                    msg=error,
                ),
            )
        elif isinstance(error, client_errors.RateLimited):
            self._set_pause(error)
            if resume:
                self._resume_at_retry(error, resume)

    def _resume_at_retry(self, error, resume):
        """Resume at the moment the limit lifts, not at the next cron tick."""
        retry_at = getattr(error, "retry_at", None) or time.time() + 60
        at = datetime.fromtimestamp(retry_at + 1, timezone.utc).replace(tzinfo=None)
        resume(max(at, fields.Datetime.now()))
        _logger.info("%s: rate limited, work goes on at %s UTC", self.display_name, at)

    def _reconnect_managers(self):
        """Who gets the Reconnect activity: the link's managers of its company (the group
        directly or through Accounting administrator), real internal users only."""
        group = self.env.ref("account_bookkeeping_link.group_bookkeeping_manager")
        users = group.all_user_ids.filtered(
            lambda u: u.active and not u.share and self.company_id in u.company_ids
        )
        admin = self.env.ref("base.user_admin", raise_if_not_found=False)
        # The administrator first: most small companies have one manager, and that is it.
        return users.sorted(lambda u: (u != admin, u.id))

    def _set_needs_reconnect(self, message):
        self._set_state_side("needs_reconnect", message)
        activity_type = self.env.ref("account_bookkeeping_link.mail_activity_reconnect")
        existing = self.sudo().activity_ids.filtered(lambda a: a.activity_type_id == activity_type)
        if not existing:
            for user in self._reconnect_managers()[:5]:
                self.sudo().activity_schedule(
                    "account_bookkeeping_link.mail_activity_reconnect",
                    user_id=user.id,
                    note=self._reconnect_message(),
                )
        # The activity must outlive whatever the caller does next (a cron may fail later).
        self._commit()

    def _set_state_side(self, state, message):
        """Set the link state and commit it at once, so the next worker sees it."""
        self.write({"state": state, "state_message": message})
        self._commit()

    def _set_pause(self, error):
        until = (
            fields.Datetime.to_datetime(
                fields.Datetime.now() + timedelta(seconds=max(1, error.retry_at - time.time()))
            )
            if getattr(error, "retry_at", None)
            else False
        )
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
            when = (
                datetime.fromtimestamp(reset, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
                if reset
                else "?"
            )
            parts.append(
                self.env._(
                    "%(scope)s: %(left)s of %(limit)s calls left (reset %(when)s UTC)",
                    scope=label,
                    left=remaining,
                    limit=limit or "?",
                    when=when,
                )
            )
        return "; ".join(parts) or self.env._("No limit reported by the service.")

    def _store_rate_snapshot(self, snapshot):
        """Show the budget on the form. Kept on the token row, written on a side cursor:
        updating the backend row itself there would make every open transaction that
        references the backend (call log rows) fail to serialize."""
        if not snapshot:
            return
        text = self._rate_text(snapshot)
        query = SQL(
            "UPDATE bookkeeping_token SET rate_limit_info=%s WHERE backend_id=%s", text, self.id
        )
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

    def _partner_link(self, partner):
        """The customer link record of ``partner``'s commercial partner (may be empty)."""
        self.ensure_one()
        return (
            self.env["bookkeeping.partner.link"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", self.id),
                    ("partner_id", "=", partner.commercial_partner_id.id),
                ],
                limit=1,
            )
        )

    def _partner_remote_id(self, partner):
        """The remote customer id of ``partner`` for this link, or False. Inside a push
        run it comes from the run's cache (one query per chunk, not per invoice)."""
        partner = partner.commercial_partner_id
        cache = self.env.context.get("bookkeeping_partner_cache")
        if cache is not None and partner.id in cache:
            return cache[partner.id]
        return self._partner_link(partner).remote_id or False

    def _cache_partner_links(self, partners):
        """Fill the run's cache with the remote ids of ``partners`` in one query."""
        cache = self.env.context.get("bookkeeping_partner_cache")
        if cache is None:
            return
        partners = partners.commercial_partner_id
        cache.update(dict.fromkeys(partners.ids, False))
        self.env["bookkeeping.partner.link"].flush_model()
        self.env.cr.execute(
            SQL(
                "SELECT partner_id, remote_id FROM bookkeeping_partner_link"
                " WHERE backend_id = %s AND partner_id = ANY(%s)",
                self.id,
                partners.ids,
            )
        )
        cache.update(
            {partner_id: remote_id or False for partner_id, remote_id in self.env.cr.fetchall()}
        )

    def _partner_remote_ids(self):
        """{partner id: remote id} of every customer linked by this link."""
        self.ensure_one()
        self.env["bookkeeping.partner.link"].flush_model()
        self.env.cr.execute(
            SQL(
                "SELECT partner_id, remote_id FROM bookkeeping_partner_link"
                " WHERE backend_id = %s AND remote_id IS NOT NULL",
                self.id,
            )
        )
        return dict(self.env.cr.fetchall())

    def _partners_linked_to(self, remote_id):
        """The partners linked to the remote customer ``remote_id`` by this link."""
        return (
            self.env["bookkeeping.partner.link"]
            .sudo()
            .search([("backend_id", "=", self.id), ("remote_id", "=", str(remote_id))])
            .partner_id.sudo(False)
        )

    def _store_partner_link(self, partner, values):
        """Create or update the customer link of ``partner`` with ``values`` (remote_id,
        remote_code, state, error, sent_hash)."""
        partner = partner.commercial_partner_id
        link = self._partner_link(partner)
        if "remote_code" in values:
            values = dict(values, remote_code=(values["remote_code"] or "").strip() or False)
        if link:
            link.write(values)
        else:
            link = link.create(dict(values, backend_id=self.id, partner_id=partner.id))
        cache = self.env.context.get("bookkeeping_partner_cache")
        if cache is not None and "remote_id" in values:
            cache[partner.id] = values["remote_id"] or False
        return link

    def _partner_fingerprint(self, vals):
        """A digest of what Odoo would send for a customer, to send it only once."""
        digest = hashlib.sha1(
            json.dumps(vals, sort_keys=True, default=str).encode(), usedforsecurity=False
        )
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
            raise UserError(
                self.env._(
                    "The customer %(partner)s has no country: set it on the contact.",
                    partner=partner.display_name,
                )
            )
        vals = self._service_partner_vals(partner)
        fingerprint = self._partner_fingerprint(vals)
        synced = self._partner_link(partner).sent_hash if remote_id and changed_only else None
        if remote_id and changed_only and (not update or synced == fingerprint):
            return {"remote_id": remote_id, "outcome": "unchanged"}
        log = client.bookkeeping_log
        invoice, log.record = log.record, partner  # calls made now concern the partner
        try:
            remote = self._service_push_partner(client, partner, vals, update)
        except client_errors.ValidationError as error:
            message = str(error.remote_message or error)[:250]
            self._store_partner_link(partner, {"state": "error", "error": message})
            partner._message_log(
                body=self.env._(
                    "%(admin)s refused the customer: %(msg)s",
                    admin=self._admin_label(),
                    msg=message,
                )
            )
            raise
        finally:
            log.record = invoice
        link_vals = {
            "remote_id": str(remote["remote_id"]),
            "state": "linked",
            "error": False,
            "last_sync": fields.Datetime.now(),
        }
        if "code" in remote:
            link_vals["remote_code"] = remote["code"]
        if remote["outcome"] in ("created", "updated", "unchanged"):
            # Odoo's values are in the remote package now: an invoice need not send them.
            link_vals["sent_hash"] = fingerprint
        self._store_partner_link(partner, link_vals)
        if remote["outcome"] in ("created", "linked", "updated"):
            # The customer's chatter tells when it was linked, created or sent, and where.
            partner._message_log(
                body=self.env._(
                    "%(message)s (%(admin)s, number %(code)s)",
                    message=partner._bookkeeping_sync_message(self, partner, remote),
                    admin=self._admin_label(),
                    code=link_vals.get("remote_code") or "-",
                )
            )
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
            service=self._service_label(),
        )
