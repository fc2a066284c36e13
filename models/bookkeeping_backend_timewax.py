"""Timewax service of the bookkeeping link: an import source, not a push target.

Timewax invoices (``invoicing/list``) become Odoo customer invoices; from there they are
booked like any other invoice by the company's bookkeeping link. The link reuses the
shared state, call log, token store (the Timewax token and its ``validUntil``), Test
connection and chatter. Facts: /work/shared/api/timewax.md, seed 003.
"""

import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..clients import errors as client_errors
from ..clients.timewax import TimewaxClient

_logger = logging.getLogger(__name__)

TIMEWAX_URL = "https://api.timewax.com"
# Any name: the prefix is what comes before the last digits. Odoo's own formats would read
# a year in "T-2026-0042" and refuse it on an invoice dated 2025-12-31; Timewax already
# gave the customer that number, so the journal must take it as it is.
KEEP_NUMBER_REGEX = r"^(?P<prefix1>.*?)(?P<seq>\d{0,9})(?P<suffix>\D*?)$"
IMPORT_CRON = "account_bookkeeping_link.ir_cron_timewax_import"
# One import run per link (advisory lock space; the engine lists the spaces in use).
IMPORT_LOCK_SPACE = 0x424B05


class BookkeepingBackend(models.Model):
    _inherit = "bookkeeping.backend"

    service = fields.Selection(
        selection_add=[("timewax", "Timewax")], ondelete={"timewax": "cascade"}
    )
    timewax_base_url = fields.Char(
        "Timewax URL",
        default=TIMEWAX_URL,
        help="The Timewax API; change it only for a test server.",
    )
    timewax_client = fields.Char(
        "Timewax environment",
        help="The client (environment) name: Timewax shows it in Settings as 'User - Client'.",
    )
    timewax_username = fields.Char(
        "API ID", help="Timewax: Masters > Resources > Data Security > API ID."
    )
    timewax_password = fields.Char("Timewax password", groups="base.group_system", copy=False)
    timewax_keep_numbers = fields.Boolean(
        "Keep Timewax numbers",
        default=True,
        help="The Timewax number is the legal number: the customer already received that "
        "invoice. On: invoices are posted under it in the journal below, so no second "
        "number reaches the bookkeeping. Off: Odoo numbers the invoice and the Timewax "
        "number goes in the reference.",
    )
    timewax_journal_id = fields.Many2one(
        "account.journal",
        "Timewax journal",
        check_company=True,
        domain="[('type', '=', 'sale')]",
        help="Sales journal of the imported invoices (a 'Timewax' journal is created when "
        "none is chosen and Timewax numbers are kept).",
    )
    timewax_post = fields.Boolean(
        "Post imported invoices",
        help="Post an imported invoice at once when Odoo's VAT and total equal Timewax's "
        "to the cent; any other stays a draft, flagged.",
    )
    timewax_create_partners = fields.Boolean(
        "Create contacts for new debtors",
        default=True,
        help="A debtor that matches no contact becomes a new company contact with its "
        "address and country. Off: that invoice stops with a message.",
    )
    timewax_create_analytic = fields.Boolean(
        "Create analytic accounts",
        default=True,
        help="A Timewax project with no analytic account gets one. Off: the project must "
        "be mapped on the Projects tab, or the invoice stops.",
    )
    timewax_analytic_plan_id = fields.Many2one(
        "account.analytic.plan", "Analytic plan for projects"
    )
    timewax_lookback_days = fields.Integer(
        "Daily import looks back (days)",
        default=14,
        help="The daily import asks Timewax for the invoices of this many past days.",
    )
    timewax_cron_active = fields.Boolean("Import daily", default=True)
    timewax_last_import = fields.Datetime("Last import", readonly=True, copy=False)
    timewax_last_result = fields.Text("Last import result", readonly=True, copy=False)
    timewax_vat_code_ids = fields.One2many(
        "bookkeeping.timewax.vat.code", "backend_id", "Timewax VAT codes"
    )
    timewax_project_ids = fields.One2many(
        "bookkeeping.timewax.project", "backend_id", "Timewax projects"
    )
    timewax_partner_ids = fields.One2many(
        "bookkeeping.timewax.partner", "backend_id", "Remembered debtors"
    )
    timewax_move_count = fields.Integer(compute="_compute_timewax_move_count")

    def _compute_timewax_move_count(self):
        groups = self.env["account.move"]._read_group(
            [("timewax_backend_id", "in", self.ids)], ["timewax_backend_id"], ["__count"]
        )
        counts = {backend.id: count for backend, count in groups}
        for backend in self:
            backend.timewax_move_count = counts.get(backend.id, 0)

    @api.model_create_multi
    def create(self, vals_list):
        backends = super().create(vals_list)
        for backend in backends.filtered(lambda b: b.service == "timewax"):
            backend.invoice_mode = "odoo"
            backend.push_on_post = False
        return backends

    # ------------------------------------------------------------------ hooks

    def _service_capabilities(self):
        if self.service != "timewax":
            return super()._service_capabilities()
        return frozenset({"import"})

    def _service_setup_check(self):
        if self.service != "timewax":
            return super()._service_setup_check()
        backend = self.sudo()
        missing = []
        if not (backend.timewax_client and backend.timewax_username and backend.timewax_password):
            missing.append(
                self.env._("Enter the Timewax environment (client) name, API ID and password.")
            )
        if backend.timewax_keep_numbers and not backend.timewax_journal_id:
            missing.append(
                self.env._("Choose the sales journal for invoices under their Timewax number.")
            )
        return missing

    def _service_make_client(self, on_call=None, **options):
        if self.service != "timewax":
            return super()._service_make_client(on_call=on_call, **options)
        backend = self.sudo()
        missing = [
            label
            for label, value in (
                (self.env._("environment"), backend.timewax_client),
                (self.env._("API ID"), backend.timewax_username),
                (self.env._("password"), backend.timewax_password),
            )
            if not value
        ]
        if missing:
            raise UserError(
                self.env._(
                    "Enter the Timewax %(missing)s on the link %(name)s first.",
                    missing=", ".join(missing),
                    name=self.name,
                )
            )
        return TimewaxClient(
            backend.timewax_base_url or TIMEWAX_URL,
            backend.timewax_client,
            backend.timewax_username,
            backend.timewax_password,
            on_call=on_call,
            token_store=self._token_store(),
        )

    def _service_test_connection(self):
        if self.service != "timewax":
            return super()._service_test_connection()
        with self._session() as client:
            client.token(login=True)  # a real login: the stored token may still be good
        self._timewax_linked()
        return self.env._(
            "Timewax environment %(client)s accepted the API ID %(user)s; the token is valid "
            "until %(until)s UTC.",
            client=self.timewax_client,
            user=self.timewax_username,
            until=fields.Datetime.to_string(
                fields.Datetime.now() + timedelta(seconds=client._token_expires - client.now())
            ),
        )

    def _service_refresh_token(self):
        if self.service != "timewax":
            return super()._service_refresh_token()
        return None  # nothing to keep alive: a token is asked for with the credentials

    def _service_authorization_url(self, state, redirect_uri):
        if self.service != "timewax":
            return super()._service_authorization_url(state, redirect_uri)
        raise UserError(
            self.env._(
                "Timewax needs no Connect: enter the environment, API ID and password and "
                "press Test connection."
            )
        )

    def _service_exchange_code(self, code, redirect_uri):
        if self.service != "timewax":
            return super()._service_exchange_code(code, redirect_uri)
        return self._service_authorization_url(None, redirect_uri)

    def _service_after_connect(self):
        if self.service != "timewax":
            return super()._service_after_connect()
        return None

    def _service_load_options(self):
        if self.service != "timewax":
            return super()._service_load_options()
        # VAT codes and projects are noted as the imports see them: nothing to load first.
        return None

    def _service_check_move(self, move):
        if self.service != "timewax":
            return super()._service_check_move(move)
        return [self.env._("Timewax imports invoices; it does not receive them.")]

    # An import source: the push, sync and customer hooks are not offered (no "push" or
    # "partners" capability); each answers that it is not supported, or nothing.

    def _service_push_move(self, client, move):
        if self.service != "timewax":
            return super()._service_push_move(client, move)
        return self._service_unsupported("push_move")

    def _service_find_move(self, client, move):
        if self.service != "timewax":
            return super()._service_find_move(client, move)
        return None

    def _service_attach_pdf(self, client, move, **options):
        if self.service != "timewax":
            return super()._service_attach_pdf(client, move, **options)
        return self._service_unsupported("attach_pdf")

    def _service_sync_numbers(self, client, moves):
        if self.service != "timewax":
            return super()._service_sync_numbers(client, moves)
        return None

    def _service_sync_payments(self, client, moves):
        if self.service != "timewax":
            return super()._service_sync_payments(client, moves)
        return None

    def _service_remote_url(self, move):
        if self.service != "timewax":
            return super()._service_remote_url(move)
        return False

    def _service_partner_vals(self, partner):
        if self.service != "timewax":
            return super()._service_partner_vals(partner)
        return {}

    def _service_push_partner(self, client, partner, vals, update):
        if self.service != "timewax":
            return super()._service_push_partner(client, partner, vals, update)
        return self._service_unsupported("push_partner")

    def _service_fetch_customers(self, client):
        if self.service != "timewax":
            return super()._service_fetch_customers(client)
        return self._service_unsupported("fetch_customers")

    def _service_partner_match_keys(self):
        if self.service != "timewax":
            return super()._service_partner_match_keys()
        return ["ref", "email", "name"]

    def _timewax_linked(self):
        """Credentials that work make the link 'linked' (the first time) or heal it."""
        vals = {"administration_code": self.timewax_client}
        if self.state == "draft":
            vals.update(state="linked", state_message=False)
        if self.administration_code != self.timewax_client or "state" in vals:
            self.write(vals)

    def _reconnect_message(self):
        if self.service != "timewax":
            return super()._reconnect_message()
        return self.env._(
            "Timewax refused the login of link %(name)s: check the environment, API ID and "
            "password, then press Test connection. Nothing was imported meanwhile.",
            name=self.name,
        )

    # ------------------------------------------------------------------ journal

    def _timewax_journal(self):
        """The journal of imported invoices: the link's, or a dedicated 'Timewax' sales
        journal (numbers kept) / the company's sales journal (Odoo numbers)."""
        self.ensure_one()
        if self.timewax_journal_id:
            return self.timewax_journal_id
        if not self.timewax_keep_numbers:
            return self.env["account.journal"].search(
                [("company_id", "=", self.company_id.id), ("type", "=", "sale")], limit=1
            )
        sales = self.env["account.journal"].search(
            [("company_id", "=", self.company_id.id), ("type", "=", "sale")], limit=1
        )
        journal = self.env["account.journal"].create(
            {
                "name": self.env._("Timewax"),
                "default_account_id": sales.default_account_id.id,
                "code": self._timewax_free_code(),
                "type": "sale",
                "company_id": self.company_id.id,
                # One series: Timewax numbers its credit notes in the same one.
                "refund_sequence": False,
                "sequence_override_regex": KEEP_NUMBER_REGEX,
            }
        )
        self.timewax_journal_id = journal
        return journal

    def _timewax_free_code(self):
        used = set(
            self.env["account.journal"]
            .search([("company_id", "=", self.company_id.id)])
            .mapped("code")
        )
        return next(
            code for code in ("TWX", *(f"TWX{n}" for n in range(2, 100))) if code not in used
        )

    # ------------------------------------------------------------------ actions

    def action_timewax_import(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Import from Timewax"),
            "res_model": "bookkeeping.timewax.import.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_backend_id": self.id},
        }

    def action_timewax_open_moves(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Imported from Timewax"),
            "res_model": "account.move",
            "view_mode": "list,form",
            "domain": [("timewax_backend_id", "=", self.id)],
        }

    def action_timewax_apply_suggestions(self):
        todo = self.timewax_vat_code_ids.filtered(lambda m: not m.tax_id and m.suggested_tax_id)
        todo._apply_suggestion()
        return self._notification(
            self.env._(
                "%(count)s Timewax VAT codes mapped to their suggested tax.", count=len(todo)
            )
            if todo
            else self.env._("No unmapped Timewax VAT code has a single suggestion."),
            kind="success" if todo else "info",
        )

    # ------------------------------------------------------------------ cron

    @api.model
    def _cron_timewax_import(self):
        """Daily: import what Timewax invoiced in the look-back window of every link."""
        today = fields.Date.context_today(self)
        backends = self.search(
            [
                ("service", "=", "timewax"),
                ("state", "in", ("linked", "error")),
                ("timewax_cron_active", "=", True),
            ]
        )
        for backend in backends:
            backend = backend._in_company_context()  # noqa: PLW2901
            date_from = today - timedelta(days=max(backend.timewax_lookback_days, 0))
            try:
                backend._timewax_import(date_from, today)
            except (UserError, client_errors.BookkeepingError) as error:
                # One link's failure (logged with its reasons) never stops the others.
                _logger.warning("%s: Timewax import failed: %s", backend.display_name, error)
            self._cron_progress(1)

    def _timewax_import(self, date_from, date_to, client_filter=None, project=None):
        """Fetch, plan and apply in one go (cron, scripts); returns the run's report. A
        Timewax refusal is a UserError that says what to fix, and is in the call log."""
        self.ensure_one()
        run = self.env["bookkeeping.timewax.run"]
        backend = self.with_context(bookkeeping_try_any_state=True)
        try:
            with backend._session() as client:
                plan = run._fetch_and_plan(client, self, date_from, date_to, client_filter, project)
                return run._apply(self, plan)
        except client_errors.BookkeepingError as error:
            self._handle_backend_error(error)
            message = self._remote_failure_text(self.env._("The Timewax import"), error)
            run._log_failure(
                self,
                {
                    "date_from": str(date_from),
                    "date_to": str(date_to),
                    "client": client_filter,
                    "project": project,
                },
                message,
            )
            raise UserError(message) from error

    def _timewax_lock(self):
        """One import per link at a time (a session lock, released by the run or by
        PostgreSQL when the worker dies); False when another run holds it."""
        self.env.cr.execute(SQL("SELECT pg_try_advisory_lock(%s, %s)", IMPORT_LOCK_SPACE, self.id))
        return self.env.cr.fetchone()[0]

    def _timewax_unlock(self):
        self.env.cr.execute(SQL("SELECT pg_advisory_unlock(%s, %s)", IMPORT_LOCK_SPACE, self.id))

    def _timewax_report_text(self, result):
        """'Timewax import: 3 created, 1 updated, 2 skipped, 1 failed (2 posted, 1
        flagged).' and one line per reason."""
        text = self.env._(
            "Timewax import: %(created)s created, %(updated)s updated, %(skipped)s skipped, "
            "%(failed)s failed (%(posted)s posted, %(flagged)s flagged).",
            **{
                key: result.get(key, 0)
                for key in ("created", "updated", "skipped", "failed", "posted", "flagged")
            },
        )
        reasons = result.get("reasons") or []
        return "\n".join([text, *(f"- {reason}" for reason in reasons)])
