"""The setup assistant: one person goes from nothing to a working link in a few clicks.

The assistant is a form of the link itself (``bookkeeping_backend_view_form_setup``) with a
step: the link is what is being set up, so the OAuth callback, the service's own fields
(each service's views add theirs to the steps) and the mappings need no copy in a wizard.
Steps: service, credentials (with the redirect URL to copy) and Connect, administration,
lists loaded with the suggested defaults and mappings applied, Test connection, done.
"""

from odoo import api, fields, models
from odoo.exceptions import UserError

SETUP_STEPS = [
    ("service", "Service"),
    ("credentials", "Credentials"),
    ("administration", "Administration"),
    ("mappings", "Mappings"),
    ("test", "Test"),
    ("done", "Done"),
]
SETUP_ACTION = "account_bookkeeping_link.bookkeeping_setup_action"


class BookkeepingBackend(models.Model):
    _inherit = "bookkeeping.backend"

    setup_step = fields.Selection(
        SETUP_STEPS,
        default="done",
        required=True,
        copy=False,
        help="Where the setup assistant is; links made outside it are 'done'.",
    )
    last_action_message = fields.Text(
        "Last result",
        copy=False,
        readonly=True,
        help="What the last Connect or assistant step did, shown until dismissed.",
    )
    setup_missing = fields.Text("Still to do", compute="_compute_setup_missing")
    setup_ready = fields.Boolean(compute="_compute_setup_missing")

    @api.depends(
        "service",
        "state",
        "administration_code",
        "tax_mapping_ids.option_id",
        "account_mapping_ids.option_id",
        "invoice_mode",
    )
    def _compute_setup_missing(self):
        for backend in self:
            missing = backend._setup_missing() if backend.service else []
            backend.setup_missing = "\n".join(f"- {line}" for line in missing) or False
            backend.setup_ready = not missing

    def _setup_missing(self):
        """What the link still needs before the company's invoices can go: the service's
        own list, then the taxes and income accounts in use that have no remote code."""
        self.ensure_one()
        if self.state == "draft":
            return [
                self.env._(
                    "Press Connect and log in at %(service)s.", service=self._service_label()
                )
            ]
        missing = list(self._service_setup_check())
        used = self.env["account.move.line"].search(
            [
                ("company_id", "=", self.company_id.id),
                ("move_id.move_type", "in", ("out_invoice", "out_refund")),
                ("display_type", "=", "product"),
            ],
            limit=2000,
        )
        taxes = used.tax_ids.filtered(lambda t: t.type_tax_use == "sale")
        mapped = self.tax_mapping_ids.filtered("option_id").tax_id
        if taxes - mapped:
            missing.append(
                self.env._(
                    "Map these taxes to a remote VAT code (tab VAT codes): %(taxes)s.",
                    taxes=", ".join((taxes - mapped).mapped("display_name")),
                )
            )
        accounts = used.account_id
        mapped_accounts = self.account_mapping_ids.filtered("option_id").account_id
        if accounts - mapped_accounts and not self.default_income_option_id:
            missing.append(
                self.env._(
                    "Choose the default income account, or map these accounts (tab Accounts): "
                    "%(accounts)s.",
                    accounts=", ".join((accounts - mapped_accounts).mapped("display_name")),
                )
            )
        return missing

    @api.model
    def default_get(self, fields_list):
        # The assistant names the link itself: the manager need not invent a name.
        values = super().default_get(fields_list)
        if "name" in fields_list and not values.get("name") and values.get("service"):
            values["name"] = self._default_link_name(values["service"], values.get("company_id"))
        return values

    @api.model
    def _default_link_name(self, service, company_id=None):
        label = dict(self._fields["service"]._description_selection(self.env)).get(service, service)
        company = self.env["res.company"].browse(company_id or self.env.company.id)
        return self.env._("%(service)s - %(company)s", service=label, company=company.name)

    @api.onchange("service")
    def _onchange_service_name(self):
        if self.service and not self.name:
            self.name = self._default_link_name(self.service, self.company_id.id)

    def write(self, vals):
        # The default income account follows into the lines that had the old default.
        previous = (
            {b.id: b.default_income_option_id for b in self}
            if "default_income_option_id" in vals
            else {}
        )
        result = super().write(vals)
        for backend in self.filtered(lambda b: b.id in previous):
            old, new = previous[backend.id], backend.default_income_option_id
            if new and old != new:
                backend.account_mapping_ids.filtered(
                    lambda m, old=old: not m.option_id or m.option_id == old
                ).write({"option_id": new.id})
        return result

    # ------------------------------------------------------------------ entry points

    @api.model
    def action_setup_start(self, service=None):
        """Open the assistant on a new link; with ``service`` its first step is done."""
        service = service or self.env.context.get("bookkeeping_service")
        context = {
            "default_setup_step": "credentials" if service else "service",
            "default_company_id": self.env.company.id,
        }
        if service:
            context["default_service"] = service
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Link a bookkeeping package"),
            "res_model": "bookkeeping.backend",
            "view_mode": "form",
            "views": [
                (
                    self.env.ref("account_bookkeeping_link.bookkeeping_backend_view_form_setup").id,
                    "form",
                )
            ],
            "target": "current",
            "context": context,
        }

    def action_setup_resume(self):
        """Open this link in the assistant again (e.g. from the link form)."""
        self.ensure_one()
        if self.setup_step == "done":
            self.setup_step = "administration" if self.state != "draft" else "credentials"
        action = self.action_setup_start()
        action.update(res_id=self.id, context={})
        return action

    def _setup_url(self):
        return f"/odoo/action-{SETUP_ACTION}/{self.id}"

    # ------------------------------------------------------------------ steps

    def _setup_reload(self):
        return {"type": "ir.actions.client", "tag": "soft_reload"}

    def action_setup_choose_service(self):
        self.ensure_one()
        if not self.service:
            raise UserError(self.env._("Choose the bookkeeping package first."))
        self.setup_step = "credentials"
        return self._setup_reload()

    def action_setup_connect(self):
        """Connect: the login and consent page; the callback brings the browser back to
        the assistant's next step ('Connected to ...')."""
        self.ensure_one()
        if self.setup_step in ("service", "done"):
            self.setup_step = "credentials"
        return self.action_connect()

    def _after_connect_message(self):
        """Called by the OAuth callback once the tokens are stored."""
        self.ensure_one()
        message = self.env._("Connected to %(admin)s.", admin=self._admin_label())
        vals = {"last_action_message": message}
        if self.setup_step in ("service", "credentials"):
            vals["setup_step"] = "administration"
        self.write(vals)
        self.message_post(body=message)
        return message

    def action_setup_load(self):
        """Administration chosen: load the lists, apply the suggested defaults and
        mappings, and go on to the mappings."""
        self.ensure_one()
        self._check_manager()
        if not self.administration_code:
            raise UserError(self.env._("Choose the administration first."))
        result = self._remote_action(self.env._("Loading the lists"), self._load_options)
        if result.get("params", {}).get("type") != "danger":
            self.write(
                {"setup_step": "mappings", "last_action_message": result["params"]["message"]}
            )
        return result

    def action_setup_test(self):
        """Mappings checked: test the connection and show what is still missing."""
        self.ensure_one()
        result = self.action_test_connection()
        if result.get("params", {}).get("type") != "danger":
            self.write({"setup_step": "test", "last_action_message": result["params"]["message"]})
            # The form shows the new step and the sentence of the test.
            result["params"]["next"] = self._setup_reload()
        return result

    def action_setup_finish(self):
        self.ensure_one()
        self.write({"setup_step": "done", "last_action_message": False})
        return {
            "type": "ir.actions.act_window",
            "res_model": "bookkeeping.backend",
            "res_id": self.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
        }

    def action_setup_back(self):
        self.ensure_one()
        steps = [key for key, _label in SETUP_STEPS]
        index = steps.index(self.setup_step)
        if index > 0:
            self.setup_step = steps[index - 1]
        return self._setup_reload()

    def action_dismiss_message(self):
        self.write({"last_action_message": False})
        return self._setup_reload()
