"""Bulk customer sync: link existing remote customers, import missing ones, push the rest.

The preview proposes an action per line; only unique matches link automatically, every
ambiguous line waits for a manual choice. Long runs continue in a cron, with progress on
the wizard.
"""

import re

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..clients import errors as client_errors

# Lines applied in the request itself; longer runs go to the cron, which commits per chunk.
INLINE_LIMIT = 100
CHUNK = 50
# What a customer is matched on; the labels are what the user reads.
MATCH_KEYS = [
    ("code", "Customer number"),
    ("vat", "VAT number"),
    ("coc", "Chamber of Commerce number"),
    ("email", "E-mail address"),
    ("name", "Name"),
]


def _norm(key, value):
    """Normalise a match key: VAT without spaces/dots and country-insensitive digits,
    e-mail lower-case, names case- and space-insensitive."""
    if not value:
        return False
    value = str(value).strip()
    if key == "vat":
        return re.sub(r"[^0-9A-Z]", "", value.upper())
    if key == "coc":
        return re.sub(r"\D", "", value).lstrip("0")
    if key == "email":
        return value.lower()
    if key == "name":
        return " ".join(value.lower().split())
    return value.strip().lstrip("0") if key == "code" else value


class BookkeepingPartnerSyncWizard(models.TransientModel):
    _name = "bookkeeping.partner.sync.wizard"
    _description = "Sync customers with the bookkeeping package"

    backend_id = fields.Many2one(
        "bookkeeping.backend",
        required=True,
        domain="[('state', '=', 'linked'), ('company_id', 'in', allowed_company_ids)]",
        default=lambda self: (
            self.env["bookkeeping.backend"]
            .search([("state", "=", "linked"), ("company_id", "=", self.env.company.id)])
            .filtered(lambda b: "partners" in b._service_capabilities())[:1]
        ),
    )
    push_unmatched = fields.Boolean(
        "Create Odoo customers remotely",
        default=True,
        help="Propose to create every Odoo customer that has no remote match.",
    )
    import_unmatched = fields.Boolean(
        "Import remote customers",
        default=True,
        help="Propose to create an Odoo contact for every remote customer without a match.",
    )
    state = fields.Selection(
        [("draft", "Choose"), ("preview", "Preview"), ("running", "Running"), ("done", "Done")],
        default="draft",
    )
    line_ids = fields.One2many("bookkeeping.partner.sync.line", "wizard_id")
    progress = fields.Float(compute="_compute_progress")
    summary = fields.Text(readonly=True)

    @api.depends("line_ids.done", "line_ids.action")
    def _compute_progress(self):
        for wizard in self:
            todo = wizard.line_ids.filtered(lambda line: line.action != "skip")
            wizard.progress = 100.0 * len(todo.filtered("done")) / len(todo) if todo else 0.0

    # ------------------------------------------------------------------ preview

    def action_preview(self):
        self.ensure_one()
        backend = self.backend_id
        try:
            with backend._session() as client:
                remote_rows = backend._service_fetch_customers(client)
        except client_errors.BookkeepingError as error:
            backend._handle_backend_error(error)
            raise UserError(
                backend._remote_failure_text(self.env._("Reading the customers"), error)
            ) from error
        self.line_ids.unlink()
        self.env["bookkeeping.partner.sync.line"].create(self._preview_lines(remote_rows))
        self.state = "preview"
        return self._reopen()

    def _preview_lines(self, remote_rows):
        backend = self.backend_id
        keys = backend._service_partner_match_keys()
        partners = self.env["res.partner"].search(
            [
                ("parent_id", "=", False),
                ("company_id", "in", [False, backend.company_id.id]),
            ]
        )
        linked = {}
        index = {key: {} for key in keys}
        remote_ids = backend._partner_remote_ids()
        for partner in partners:
            remote_id = remote_ids.get(partner.id)
            if remote_id:
                linked[str(remote_id)] = partner
            for key in keys:
                value = _norm(key, self._partner_key(partner, key))
                if value:
                    index[key].setdefault(value, self.env["res.partner"])
                    index[key][value] |= partner
        lines = []
        used = self.env["res.partner"]
        for row in remote_rows:
            remote_id = str(row["remote_id"])
            base = {
                "wizard_id": self.id,
                "remote_id": remote_id,
                "remote_code": row.get("code"),
                "remote_name": row.get("name"),
                "remote_vat": row.get("vat"),
                "remote_email": row.get("email"),
                "remote_coc": row.get("coc"),
                "remote_street": row.get("street"),
                "remote_zip": row.get("zip"),
                "remote_city": row.get("city"),
                "remote_country_code": row.get("country_code"),
            }
            if remote_id in linked:
                used |= linked[remote_id]
                lines.append(
                    dict(
                        base,
                        partner_id=linked[remote_id].id,
                        action="skip",
                        reason=self.env._("Already linked"),
                    )
                )
                continue
            match, key = self._match(index, keys, row, remote_ids)
            label = self._match_label(key)
            if len(match) == 1:
                used |= match
                lines.append(
                    dict(
                        base,
                        partner_id=match.id,
                        action="link",
                        match_key=key,
                        reason=self.env._("%(key)s matches", key=label),
                    )
                )
            elif match:
                lines.append(
                    dict(
                        base,
                        candidate_ids=[fields.Command.set(match.ids)],
                        action="skip",
                        match_key=key,
                        reason=self.env._(
                            "%(count)s contacts match on %(key)s: choose one",
                            count=len(match),
                            key=label,
                        ),
                    )
                )
            else:
                lines.append(
                    dict(
                        base,
                        action="import" if self.import_unmatched else "skip",
                        reason=self.env._("No matching contact"),
                    )
                )
        if self.push_unmatched:
            customers = partners.filtered(
                lambda p: p.customer_rank > 0 and p not in used and p.id not in remote_ids
            )
            for partner in customers - used:
                ready = bool(partner.country_id)
                lines.append(
                    {
                        "wizard_id": self.id,
                        "partner_id": partner.id,
                        "action": "push" if ready else "skip",
                        "reason": self.env._("Not found remotely")
                        if ready
                        else self.env._(
                            "Not found remotely; set a country on the contact to create it"
                        ),
                    }
                )
        return lines

    @api.model
    def _match_label(self, key):
        """The match key in words, in the user's language (never the key itself)."""
        Line = self.env["bookkeeping.partner.sync.line"]
        return dict(Line._fields["match_key"]._description_selection(self.env)).get(key, "")

    @api.model
    def _partner_key(self, partner, key):
        return {
            "vat": partner.vat,
            "coc": partner.company_registry,
            "email": partner.email,
            "name": partner.name,
            "code": partner.ref,
        }.get(key)

    def _match(self, index, keys, row, remote_ids):
        """First key that finds anything decides; only a unique hit links."""
        for key in keys:
            value = _norm(key, row.get(key))
            if not value:
                continue
            hits = index[key].get(value)
            if hits:
                # A contact linked to another remote customer is not matched again.
                hits = hits.filtered(lambda p: p.id not in remote_ids)
                if hits:
                    return hits, key
        return self.env["res.partner"], False

    # ------------------------------------------------------------------ apply

    def action_apply(self):
        self.ensure_one()
        todo = self.line_ids.filtered(lambda line: line.action != "skip" and not line.done)
        if len(todo) > INLINE_LIMIT and self.backend_id._can_commit():
            self.state = "running"
            self.env.ref("account_bookkeeping_link.ir_cron_bookkeeping_partner_sync")._trigger()
            return self._reopen()
        try:
            self._apply_lines(todo)
        except (
            client_errors.AuthExpired,
            client_errors.AccessDenied,
            client_errors.RateLimited,
        ) as error:
            # The whole link stopped: a clear message that names the administration.
            self.backend_id._handle_backend_error(error)
            raise UserError(
                self.backend_id._remote_failure_text(
                    self.env._("Applying the customer sync"), error
                )
            ) from error
        return self._reopen()

    def _apply_lines(self, lines):
        """Each line in its own savepoint: a line that fails leaves nothing behind (no
        half-imported contact), and the lines before and after it still apply."""
        backend = self.backend_id
        with backend._session() as client:
            for line in lines:
                line._apply(backend, client)
        self._update_summary()

    def _update_summary(self):
        for wizard in self:
            todo = wizard.line_ids.filtered(lambda line: line.action != "skip")
            failed = todo.filtered("error")
            wizard.summary = self.env._(
                "%(done)s of %(count)s lines applied, %(failed)s failed.",
                done=len(todo.filtered("done")) - len(failed),
                count=len(todo),
                failed=len(failed),
            )
            flagged = todo.filtered("warning")
            if flagged:
                wizard.summary += "\n" + self.env._(
                    "%(count)s imported without their VAT number, which Odoo's VAT check "
                    "refused: see the lines and the contacts' notes.",
                    count=len(flagged),
                )
            if all(todo.mapped("done")):
                wizard.state = "done"

    @api.model
    def _cron_apply_running(self):
        for wizard in self.search([("state", "=", "running")]):
            todo = wizard.line_ids.filtered(lambda line: line.action != "skip" and not line.done)
            self.env["ir.cron"]._commit_progress(remaining=len(todo))
            while todo:
                chunk, todo = todo[:CHUNK], todo[CHUNK:]
                wizard._apply_lines(chunk)
                if not self.env["ir.cron"]._commit_progress(len(chunk)):
                    break
            wizard._update_summary()

    def action_refresh(self):
        return self._reopen()

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Sync customers"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }


class BookkeepingPartnerSyncLine(models.TransientModel):
    _name = "bookkeeping.partner.sync.line"
    _description = "Customer sync proposal"

    wizard_id = fields.Many2one(
        "bookkeeping.partner.sync.wizard", required=True, ondelete="cascade"
    )
    partner_id = fields.Many2one("res.partner", "Odoo contact")
    candidate_ids = fields.Many2many("res.partner", string="Candidates")
    remote_id = fields.Char("Remote id")
    remote_code = fields.Char("Remote code")
    remote_name = fields.Char("Remote name")
    remote_vat = fields.Char("Remote VAT")
    remote_email = fields.Char("Remote e-mail")
    remote_coc = fields.Char("Remote KvK")
    remote_street = fields.Char()
    remote_zip = fields.Char()
    remote_city = fields.Char()
    remote_country_code = fields.Char()
    action = fields.Selection(
        [
            ("link", "Link"),
            ("import", "Import into Odoo"),
            ("push", "Create remotely"),
            ("skip", "Skip"),
        ],
        required=True,
        default="skip",
    )
    match_key = fields.Selection(MATCH_KEYS, "Matched on", readonly=True)
    reason = fields.Char()
    done = fields.Boolean(readonly=True)
    error = fields.Char(readonly=True)
    warning = fields.Char(readonly=True, help="Applied, with something to check.")

    @api.onchange("partner_id")
    def _onchange_partner_id(self):
        if self.partner_id and self.remote_id and self.action == "skip":
            self.action = "link"

    def _apply(self, backend, client):
        """Apply this line in its own savepoint: when it fails, everything it did in Odoo
        (a contact created, a link stored) is rolled back and only the error stays."""
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                warning = self._apply_action(backend, client)
        except (client_errors.ValidationError, client_errors.NotFound, UserError) as error:
            # UserError covers Odoo's ValidationError (a constraint, a VAT check, ...).
            self.write({"done": True, "error": str(error)[:250], "warning": False})
            return
        self.write({"done": True, "error": False, "warning": warning or False})

    def _apply_action(self, backend, client):
        if self.action == "link":
            if not self.partner_id:
                raise UserError(self.env._("Choose the Odoo contact to link."))
            self._link(backend, self.partner_id)
        elif self.action == "import":
            return self._import_partner(backend)
        elif self.action == "push":
            backend._push_partner(client, self.partner_id)
        return False

    def _link(self, backend, partner):
        """Store the link to the remote customer; nothing is sent, nothing overwritten."""
        others = backend._partners_linked_to(self.remote_id) - partner
        if others:
            raise UserError(
                self.env._(
                    "The remote customer %(remote)s is already linked to %(partner)s. Unlink it "
                    "there first, or skip this line.",
                    remote=self.remote_name or self.remote_code or self.remote_id,
                    partner=others[0].display_name,
                )
            )
        backend._store_partner_link(
            partner,
            {
                "remote_id": self.remote_id,
                "remote_code": self.remote_code,
                "state": "linked",
                "error": False,
                "last_sync": fields.Datetime.now(),
            },
        )
        partner._message_log(
            body=self.env._(
                "Linked to the existing customer %(code)s in %(admin)s by the customer sync; its "
                "data there was left as it is.",
                code=self.remote_code or self.remote_id,
                admin=backend._admin_label(),
            )
        )

    def _import_partner(self, backend):
        """Create the Odoo contact of a remote customer and link it. A VAT number that
        Odoo's VAT check refuses is left out and flagged (on the line and in the contact's
        notes): real administrations hold many of those, and the customer still counts."""
        country = self.env["res.country"].search(
            [("code", "=", (self.remote_country_code or "").strip().upper())], limit=1
        )
        name = self.remote_name or self.remote_code or self.remote_id
        vat, warning = self._checked_vat(country, name)
        partner = self.env["res.partner"].create(
            {
                "name": name,
                "is_company": True,
                "vat": vat,
                "email": self.remote_email or False,
                "company_registry": self.remote_coc or False,
                "street": self.remote_street or False,
                "zip": self.remote_zip or False,
                "city": self.remote_city or False,
                "country_id": country.id or False,
                "customer_rank": 1,
                "company_id": False,
            }
        )
        self.partner_id = partner
        if warning:
            partner._message_log(body=warning)
        self._link(backend, partner)
        return warning

    def _checked_vat(self, country, name):
        """(vat, warning): the remote VAT number as Odoo's active VAT check (base_vat,
        when installed) formats it, or (False, a warning) when that check refuses it."""
        vat = (self.remote_vat or "").strip()
        if not vat:
            return False, False
        try:
            checked, _country_code = self.env["res.partner"]._run_vat_checks(
                country, vat, partner_name=name
            )
        except ValidationError:
            return False, self.env._(
                "Imported without the VAT number %(vat)s from %(service)s: Odoo's VAT check "
                "refused it. Check the number and enter it on the contact.",
                vat=vat,
                service=self.wizard_id.backend_id._service_label(),
            )
        return checked or vat, False
