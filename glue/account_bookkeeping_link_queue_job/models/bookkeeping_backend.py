"""With queue_job, a link's pushes are jobs on a channel of its own instead of its cron.

The engine is unchanged: a job runs the link's push run (``_cron_push_link``), which claims
its invoices, commits per invoice and asks for more (``_schedule_push``) when work is left.
Only who runs it changes: queue_job's runner, with its channels' capacities, retries view and
job list, which Odoo integrators already operate for scale-out.

A job per lane (``push_lanes``) stands for a cron per lane: one lane's jobs run one at a
time, as one cron never runs twice at once. queue_job cannot say so by itself (a channel
without configuration has no capacity limit of its own, see doc/volume.md), so each job
holds its lane's advisory lock while it runs.
"""

from contextlib import contextmanager

from odoo import fields, models, sql_db

from odoo.addons.account_bookkeeping_link.models.bookkeeping_backend_push_cron import (
    MAX_PUSH_LANES,
)
from odoo.addons.queue_job.exception import RetryableJobError

CHANNEL = "root.bookkeeping"
# Advisory lock space of the push lanes (the engine's invoices use 0x424B01, the collective
# entries 0x424B02 and 0x424B03). The second key is link id * MAX_PUSH_LANES + lane.
LANE_LOCK_SPACE = 0x424B04
# A job whose lane is busy comes back this much later; the running one may finish first.
BUSY_RETRY_SECONDS = 30


class BookkeepingBackend(models.Model):
    _inherit = "bookkeeping.backend"

    def _push_channel(self):
        """The link's own channel below ``root.bookkeeping``: its jobs are easy to find, to
        hold and to give a capacity of their own (``root.bookkeeping.link_7:1``)."""
        self.ensure_one()
        return f"{CHANNEL}.link_{self.id}"

    def _push_lane_count(self):
        return max(1, self.push_lanes or 1)

    def _push_job_key(self, lane, later):
        """One pending job per link and lane, and one more for a resume at a time (a rate
        limit's reset): a job for now must not swallow the one that waits for the reset,
        or a paused link would wait for the dispatcher."""
        return f"bookkeeping.backend({self.id})._push_link_job({lane}){'@' if later else ''}"

    def _schedule_push(self, at=None):
        """A job per lane instead of a cron trigger. A burst of posts leaves one pending job
        per lane, not one per invoice; a job already running leaves room for one more,
        which takes what the first did not."""
        for backend in self:
            if not backend._pushes():
                continue
            eta = max(at, fields.Datetime.now()) if at else None
            for lane in range(1, backend._push_lane_count() + 1):
                backend.with_delay(
                    channel=backend._push_channel(),
                    eta=eta,
                    identity_key=backend._push_job_key(lane, bool(at)),
                    description=self.env._("Send the invoices of %(link)s", link=backend.name),
                )._push_link_job(lane)

    def _cron_push_link(self):
        """The link's own cron still runs once a day as a safety net: with queue_job it
        asks for a job, so that every push of the link goes through its lanes."""
        if self.env.context.get("bookkeeping_push_job"):
            return super()._cron_push_link()
        self._schedule_push()

    def _push_link_job(self, lane=1):
        """The job: one push run of the link on ``lane``. It never raises for an invoice or
        a rate limit: the engine keeps each invoice's error and next attempt, and a limit
        comes back as a job with an ETA (``_schedule_push(at=...)``). queue_job's own
        retries would only repeat what the engine already scheduled. The one retry is a
        busy lane's, which is no failure (``ignore_retry``)."""
        self.ensure_one()
        with self._push_lane(lane) as free:
            if not free:
                raise RetryableJobError(
                    self.env._(
                        "Another job is sending the invoices of %(link)s: tried again later.",
                        link=self.name,
                    ),
                    seconds=BUSY_RETRY_SECONDS,
                    ignore_retry=True,
                )
            self.with_context(bookkeeping_push_job=True)._in_company_context()._cron_push_link()

    @contextmanager
    def _push_lane(self, lane):
        """Hold the lane's advisory lock, on a connection of its own: the job's cursor
        commits per invoice and may end in a failed transaction, where no unlock can run.
        PostgreSQL drops the lock when a worker dies."""
        key = self.id * MAX_PUSH_LANES + lane - 1
        with sql_db.db_connect(self.env.cr.dbname).cursor() as lock_cr:
            lock_cr.execute("SELECT pg_try_advisory_lock(%s, %s)", (LANE_LOCK_SPACE, key))
            free = lock_cr.fetchone()[0]
            lock_cr.commit()  # the lock is the session's: no transaction stays open meanwhile
            try:
                yield free
            finally:
                if free:
                    lock_cr.execute("SELECT pg_advisory_unlock(%s, %s)", (LANE_LOCK_SPACE, key))
