"""Import Timewax invoices: a date range (and client/project), a preview per invoice, then
the import, in steps with a progress bar on long runs."""

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..models.bookkeeping_timewax_run import ACTIONS, from_json, to_json

# Invoices written per click on long runs: each step is one request and one transaction.
IMPORT_STEP = 200
PARTNER_HOW = {
    "memory": "remembered match",
    "debtor": "debtor number",
    "client": "client code",
    "email": "e-mail",
    "name": "name",
    "new": "new contact",
}


class BookkeepingTimewaxImportWizard(models.TransientModel):
    _name = "bookkeeping.timewax.import.wizard"
    _description = "Import Timewax invoices"

    backend_id = fields.Many2one(
        "bookkeeping.backend",
        "Timewax link",
        required=True,
        domain="[('service', '=', 'timewax')]",
        default=lambda self: self._default_backend(),
    )
    date_from = fields.Date(
        required=True, default=lambda self: fields.Date.context_today(self).replace(day=1)
    )
    date_to = fields.Date(required=True, default=fields.Date.context_today)
    client_filter = fields.Char("Client", help="Timewax client code or name (optional).")
    project = fields.Char(help="Timewax project code or name (optional).")
    state = fields.Selection(
        [("choose", "Choose"), ("preview", "Preview"), ("done", "Done")],
        default="choose",
        required=True,
    )
    invoices_data = fields.Json(help="The invoices Timewax sent for the preview.")
    line_ids = fields.One2many("bookkeeping.timewax.import.line", "wizard_id")
    total_count = fields.Integer(readonly=True)
    done_count = fields.Integer(readonly=True)
    progress = fields.Float(compute="_compute_progress")
    count_create = fields.Integer(compute="_compute_counts")
    count_update = fields.Integer(compute="_compute_counts")
    count_skip = fields.Integer(compute="_compute_counts")
    count_fail = fields.Integer(compute="_compute_counts")
    result_counts = fields.Json(readonly=True)
    result_text = fields.Text(readonly=True)

    @api.model
    def _default_backend(self):
        """The company's first link that imports invoices."""
        return (
            self.env["bookkeeping.backend"]
            .search([("company_id", "=", self.env.company.id)])
            .filtered(lambda b: "import" in b._service_capabilities())[:1]
        )

    @api.depends("total_count", "done_count")
    def _compute_progress(self):
        for wizard in self:
            wizard.progress = (
                100.0 * wizard.done_count / wizard.total_count if wizard.total_count else 0.0
            )

    @api.depends("line_ids.action")
    def _compute_counts(self):
        for wizard in self:
            actions = wizard.line_ids.mapped("action")
            wizard.count_create = actions.count("create")
            wizard.count_update = actions.count("update")
            wizard.count_skip = actions.count("skip")
            wizard.count_fail = actions.count("fail")

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Import from Timewax"),
        }

    def _backend(self):
        backend = self.backend_id
        if "import" not in backend._service_capabilities():
            raise UserError(self.env._("Choose a link that imports invoices (Timewax)."))
        return backend._in_company_context()

    def _plan(self, client):
        """The plan of the invoices fetched for the preview, made again now: a VAT code or
        project mapped since the preview counts."""
        backend = self._backend()
        Run = self.env["bookkeeping.timewax.run"]
        plan = Run._plan(backend, from_json(self.invoices_data or []))
        plan["client"] = client
        plan["params"] = {
            "date_from": str(self.date_from),
            "date_to": str(self.date_to),
            "client": self.client_filter or "",
            "project": self.project or "",
        }
        return plan

    def action_preview(self):
        self.ensure_one()
        backend = self._backend().with_context(bookkeeping_try_any_state=True)
        # A Timewax refusal is a notification that names the link, never a server error.
        return backend._remote_action(
            self.env._("The Timewax preview"), lambda: self._preview(backend)
        )

    def _preview(self, backend):
        with backend._session() as client:
            invoices = self.env["bookkeeping.timewax.run"]._fetch(
                client, backend, self.date_from, self.date_to, self.client_filter, self.project
            )
            self.write(
                {
                    "invoices_data": to_json(invoices),
                    "state": "preview",
                    "total_count": len(invoices),
                    "done_count": 0,
                    "result_counts": False,
                    "result_text": False,
                }
            )
            self._fill_lines(self._plan(client))
        return self._reopen()

    def _fill_lines(self, plan):
        self.line_ids.unlink()
        Partner = self.env["res.partner"]
        vals_list = []
        for seq, entry in enumerate(plan["entries"]):
            how = entry.get("partner_how")
            partner_label = (
                self.env._("new contact %(name)s", name=entry["debtor"])
                if how == "new"
                else f"{Partner.browse(entry['partner_id']).display_name} "
                f"({PARTNER_HOW.get(how, how)})"
                if entry.get("partner_id")
                else ""
            )
            vals_list.append(
                {
                    "wizard_id": self.id,
                    "sequence": seq,
                    "timewax_id": entry["timewax_id"],
                    "number": entry["number"],
                    "invoice_date": entry.get("invoice_date") or False,
                    "credit_note": entry["credit"],
                    "debtor": entry["debtor"],
                    "partner_label": partner_label,
                    "project": entry["project"],
                    "currency_code": entry["currency"],
                    "amount_tax": float(entry["amount_tax"] or 0),
                    "amount_total": float(entry["amount_total"] or 0),
                    "odoo_total": float(entry.get("odoo_total") or 0),
                    "lines_text": entry.get("lines_text") or "",
                    "action": entry["action"],
                    "reason": "\n".join(r for r in (entry.get("reason"), entry.get("check")) if r),
                    "move_id": entry.get("move_id") or False,
                }
            )
        self.env["bookkeeping.timewax.import.line"].create(vals_list)

    def action_import(self):
        """Import the previewed invoices; long runs go in steps of IMPORT_STEP, each click
        showing the progress."""
        self.ensure_one()
        if self.state != "preview":
            return self.backend_id._notification(
                self.env._("Press Preview first: the import writes what the preview shows."),
                kind="warning",
                reload=False,
            )
        backend = self._backend()
        with backend.with_context(bookkeeping_try_any_state=True)._session() as client:
            plan = self._plan(client)
            entries = plan["entries"][self.done_count : self.done_count + IMPORT_STEP]
            result = self.env["bookkeeping.timewax.run"]._apply(backend, plan, entries)
        totals = dict(self.result_counts or {})
        for key, value in result.items():
            if key == "reasons":
                totals[key] = (totals.get(key) or []) + value
            else:
                totals[key] = totals.get(key, 0) + value
        done = self.done_count + len(entries)
        vals = {
            "done_count": done,
            "result_counts": totals,
            "result_text": backend._timewax_report_text(totals),
        }
        if done >= self.total_count:
            vals["state"] = "done"
        self.write(vals)
        return self._reopen()

    def action_back(self):
        self.write({"state": "choose", "line_ids": [fields.Command.clear()]})
        return self._reopen()

    def action_open_moves(self):
        return self.backend_id.action_timewax_open_moves()


class BookkeepingTimewaxImportLine(models.TransientModel):
    _name = "bookkeeping.timewax.import.line"
    _description = "Timewax invoice in the import preview"
    _order = "sequence, id"

    wizard_id = fields.Many2one(
        "bookkeeping.timewax.import.wizard", required=True, ondelete="cascade"
    )
    sequence = fields.Integer()
    timewax_id = fields.Char("Timewax id")
    number = fields.Char()
    invoice_date = fields.Date()
    credit_note = fields.Boolean()
    debtor = fields.Char("Timewax debtor")
    partner_label = fields.Char("Odoo customer")
    project = fields.Char()
    currency_code = fields.Char("Currency")
    amount_tax = fields.Float("VAT (Timewax)", digits=(16, 2))
    amount_total = fields.Float("Total (Timewax)", digits=(16, 2))
    odoo_total = fields.Float("Total (Odoo)", digits=(16, 2))
    lines_text = fields.Text("Lines")
    action = fields.Selection(ACTIONS)
    reason = fields.Text("Why")
    move_id = fields.Many2one("account.move", "Odoo invoice")
