"""Timewax project -> Odoo analytic account, per link; created when the link allows it."""

from odoo import api, fields, models


class BookkeepingTimewaxProject(models.Model):
    _name = "bookkeeping.timewax.project"
    _description = "Timewax project mapping"
    _order = "code"
    _check_company_auto = True

    backend_id = fields.Many2one(
        "bookkeeping.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    code = fields.Char("Timewax project code", required=True)
    name = fields.Char("Timewax project name")
    analytic_account_id = fields.Many2one(
        "account.analytic.account", "Analytic account", required=True, ondelete="cascade"
    )

    _unique_code = models.Constraint(
        "unique(backend_id, code)", "A Timewax project is mapped once per link."
    )

    @api.model
    def _plan_for(self, backend):
        plan = backend.timewax_analytic_plan_id
        if not plan:
            plan = self.env["account.analytic.plan"].search(
                [("name", "=", "Timewax projects")], limit=1
            ) or self.env["account.analytic.plan"].create({"name": "Timewax projects"})
            backend.timewax_analytic_plan_id = plan
        return plan

    @api.model
    def _ensure(self, backend, code, name):
        """The analytic account of project ``code``: mapped, found by code in the plan, or
        created (the caller checked the setting). Remembered on the link."""
        plan = self._plan_for(backend)
        account = self.env["account.analytic.account"].search(
            [
                ("plan_id", "=", plan.id),
                ("code", "=", code),
                ("company_id", "in", (False, backend.company_id.id)),
            ],
            limit=1,
        ) or self.env["account.analytic.account"].create(
            {
                "name": name or code,
                "code": code,
                "plan_id": plan.id,
                "company_id": backend.company_id.id,
            }
        )
        self.create(
            {
                "backend_id": backend.id,
                "code": code,
                "name": name,
                "analytic_account_id": account.id,
            }
        )
        return account
