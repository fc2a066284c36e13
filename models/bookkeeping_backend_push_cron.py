"""Each link pushes on its own cron, so that Odoo's cron workers push several links at once.

One cron job runs in one worker at a time: behind a single push cron, a hundred links wait
for each other although each has its own remote budget. A cron per link lets every cron
thread of every Odoo server take a different link (``ir.cron`` hands jobs out with
``SKIP LOCKED``), while the invoices stay claimed as before (SKIP LOCKED plus advisory
locks), so two workers never send one invoice.

The link's cron runs when it is triggered (an invoice posted, the dispatcher found work, a
rate limit lifts) and once a day as a safety net. The dispatcher, the module's own push
cron every five minutes, triggers the link crons that have work.

A link may also push on several crons at once (``push_lanes``), for an administration
whose budget one worker cannot spend (Visma's 600 calls a minute per endpoint). The lanes
take different invoices (the claim) and share the one budget (bookkeeping_rate_budget.py).
"""

from odoo import SUPERUSER_ID, api, fields, models

MAX_PUSH_LANES = 8


class BookkeepingBackendPushCron(models.Model):
    _inherit = "bookkeeping.backend"

    push_cron_ids = fields.Many2many(
        "ir.cron",
        "bookkeeping_backend_push_cron_rel",
        "backend_id",
        "cron_id",
        "Push jobs",
        copy=False,
        readonly=True,
        groups="base.group_system",
        help="The scheduled actions that send this link's invoices, in parallel with other links.",
    )
    push_lanes = fields.Integer(
        "Parallel pushes",
        default=1,
        help="How many workers may send this link's invoices at the same time. They share "
        "the administration's budget; more than one helps only when one worker cannot spend "
        "it.",
    )

    _push_lanes_range = models.Constraint(
        f"CHECK(push_lanes BETWEEN 1 AND {MAX_PUSH_LANES})",
        f"Parallel pushes must be between 1 and {MAX_PUSH_LANES}.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        backends = super().create(vals_list)
        backends._ensure_push_cron()
        return backends

    def write(self, vals):
        result = super().write(vals)
        if {"active", "name", "push_lanes"} & set(vals):
            self._ensure_push_cron()
        return result

    def unlink(self):
        crons = self.sudo().with_context(active_test=False).push_cron_ids
        result = super().unlink()
        crons.unlink()
        return result

    def _pushes(self):
        return "push" in self._service_capabilities()

    def _ensure_push_cron(self):
        """Give every pushing link its own crons (one per lane), named after it, active while
        the link is."""
        Cron = self.env["ir.cron"].sudo()
        model_id = self.env["ir.model"]._get_id(self._name)
        # Resting lanes and an archived link's crons are inactive: they must be found too.
        for backend in self.sudo().with_context(active_test=False):
            if not backend._pushes():
                continue
            crons = backend.push_cron_ids.sorted("id")
            lanes = max(1, backend.push_lanes or 1)
            for lane, cron in enumerate(crons, 1):
                vals = {"name": backend._push_cron_name(lane, lanes), "active": backend.active}
                if lane > lanes:
                    vals["active"] = False  # kept, not deleted: its history stays readable
                cron.write(vals)
            for lane in range(len(crons) + 1, lanes + 1):
                backend.push_cron_ids |= Cron.create(
                    {
                        "name": backend._push_cron_name(lane, lanes),
                        "active": backend.active,
                        "model_id": model_id,
                        "state": "code",
                        "code": f"model.browse({backend.id})._cron_push_link()",
                        "interval_number": 1,
                        "interval_type": "days",
                        "user_id": SUPERUSER_ID,
                    }
                )

    def _push_cron_name(self, lane, lanes):
        name = self.env._("Bookkeeping link: send invoices of %(link)s", link=self.name)
        return name if lanes == 1 else f"{name} ({lane}/{lanes})"

    def _push_crons(self):
        """This link's active push crons, made on first use (links made before they existed)."""
        self.ensure_one()
        crons = self.sudo().with_context(active_test=False).push_cron_ids
        if not crons:
            self._ensure_push_cron()
            crons = self.sudo().with_context(active_test=False).push_cron_ids
        return crons.filtered("active")

    def _schedule_push(self, at=None):
        """Have these links' waiting invoices pushed soon (or at ``at``, UTC), each link on
        its own workers. A job runner (e.g. the queue_job glue) may take this over."""
        for backend in self:
            if not backend._pushes():
                continue
            for cron in backend._push_crons():
                cron._trigger(at=max(at, fields.Datetime.now()) if at else None)
