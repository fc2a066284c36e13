"""With queue_job, a link's pushes are jobs on a channel of its own instead of its cron.

The engine is unchanged: a job runs the link's push run (``_cron_push_link``), which claims
its invoices, commits per invoice and asks for more (``_schedule_push``) when work is left.
Only who runs it changes: queue_job's runner, with its channels' capacities, retries view and
job list, which Odoo integrators already operate for scale-out.
"""

from odoo import fields, models

from odoo.addons.queue_job.job import identity_exact

CHANNEL = "root.bookkeeping"


class BookkeepingBackend(models.Model):
    _inherit = "bookkeeping.backend"

    def _push_channel(self):
        """The link's own channel below ``root.bookkeeping``. A channel that is not
        configured takes its capacity from the closest configured parent: with
        ``channels = root:4,root.bookkeeping:4``, four links push at once."""
        self.ensure_one()
        return f"{CHANNEL}.link_{self.id}"

    def _schedule_push(self, at=None):
        """A job per link instead of a cron trigger. ``identity_exact``: a burst of posts
        leaves one pending job per link, not one per invoice; a job already running
        leaves room for one more, which takes what the first did not."""
        for backend in self:
            if not backend._pushes():
                continue
            backend.with_delay(
                channel=backend._push_channel(),
                eta=max(at, fields.Datetime.now()) if at else None,
                identity_key=identity_exact,
                description=self.env._("Send the invoices of %(link)s", link=backend.name),
            )._push_link_job()

    def _push_link_job(self):
        """The job: one push run of the link. It never raises for an invoice or a rate
        limit: the engine keeps each invoice's error and next attempt, and a limit comes
        back as a job with an ETA (``_schedule_push(at=...)``). queue_job's own retries
        would only repeat what the engine already scheduled."""
        self.ensure_one()
        self._in_company_context()._cron_push_link()
