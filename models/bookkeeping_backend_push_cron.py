"""Each link pushes on its own cron, so that Odoo's cron workers push several links at once.

One cron job runs in one worker at a time: behind a single push cron, a hundred links wait
for each other although each has its own remote budget. A cron per link lets every cron
thread of every Odoo server take a different link (``ir.cron`` hands jobs out with
``SKIP LOCKED``), while the invoices stay claimed as before (SKIP LOCKED plus advisory
locks), so two workers never send one invoice.

The link's cron runs when it is triggered (an invoice posted, the dispatcher found work, a
rate limit lifts) and once a day as a safety net. The dispatcher, the module's own push
cron every five minutes, triggers the link crons that have work.
"""

from odoo import SUPERUSER_ID, api, fields, models


class BookkeepingBackendPushCron(models.Model):
    _inherit = "bookkeeping.backend"

    push_cron_id = fields.Many2one(
        "ir.cron",
        "Push job",
        copy=False,
        readonly=True,
        ondelete="set null",
        groups="base.group_system",
        help="The scheduled action that sends this link's invoices, in parallel with other links.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        backends = super().create(vals_list)
        backends._ensure_push_cron()
        return backends

    def write(self, vals):
        result = super().write(vals)
        if "active" in vals or "name" in vals:
            self._ensure_push_cron()
        return result

    def unlink(self):
        crons = self.sudo().push_cron_id
        result = super().unlink()
        crons.unlink()
        return result

    def _pushes(self):
        return "push" in self._service_capabilities()

    def _ensure_push_cron(self):
        """Give every pushing link its own cron, named after it, active while the link is."""
        Cron = self.env["ir.cron"].sudo()
        model_id = self.env["ir.model"]._get_id(self._name)
        for backend in self.sudo():
            if not backend._pushes():
                continue
            vals = {
                "name": self.env._(
                    "Bookkeeping link: send invoices of %(link)s", link=backend.name
                ),
                "active": backend.active,
            }
            if backend.push_cron_id:
                backend.push_cron_id.write(vals)
                continue
            backend.push_cron_id = Cron.create(
                {
                    **vals,
                    "model_id": model_id,
                    "state": "code",
                    "code": f"model.browse({backend.id})._cron_push_link()",
                    "interval_number": 1,
                    "interval_type": "days",
                    "user_id": SUPERUSER_ID,
                }
            )

    def _push_cron(self):
        """This link's push cron, made on first use (links made before it existed)."""
        self.ensure_one()
        if not self.sudo().push_cron_id:
            self._ensure_push_cron()
        return self.sudo().push_cron_id

    def _schedule_push(self, at=None):
        """Have these links' waiting invoices pushed soon (or at ``at``, UTC), each link on
        its own worker. A job runner (e.g. the queue_job glue) may take this over."""
        for backend in self:
            cron = backend._push_cron() if backend._pushes() else None
            if cron:
                cron._trigger(at=max(at, fields.Datetime.now()) if at else None)
