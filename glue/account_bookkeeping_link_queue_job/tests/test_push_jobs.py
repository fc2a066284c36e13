"""With queue_job, pushes are jobs on the link's channel; real HTTP to the Exact sandbox."""

from datetime import datetime, timedelta, timezone

from odoo import fields, sql_db
from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.models.bookkeeping_backend_push_cron import (
    MAX_PUSH_LANES,
)
from odoo.addons.account_bookkeeping_link.tests.common_exact import ExactCommon
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job

from ..models.bookkeeping_backend import LANE_LOCK_SPACE


@tagged("post_install", "-at_install")
class TestPushJobs(ExactCommon):
    def setUp(self):
        super().setUp()
        # The job commits per invoice on a cursor of its own in production; the test
        # transaction must stay one, so the job runs on the test's cursor here.
        function = self.env.ref("account_bookkeeping_link_queue_job.job_function_push_link")
        function.sudo().allow_commit = False
        self.backend.attach_pdf = False
        # The engine's short in-run back-off, in milliseconds for the test.
        self.env["ir.config_parameter"].sudo().set_param(
            "account_bookkeeping_link.retry_backoff_seconds", "0.01"
        )

    def jobs(self, states=("pending",)):
        return (
            self.env["queue.job"]
            .sudo()
            .search(
                [
                    ("model_name", "=", "bookkeeping.backend"),
                    ("method_name", "=", "_push_link_job"),
                    ("state", "in", list(states)),
                ]
            )
        )

    def perform(self, job):
        """What queue_job's runner does: mark the job started, perform it, mark it done."""
        job.state = "started"
        Job.load(self.env, job.uuid).perform()
        job.state = "done"

    def triggers(self):
        return (
            self.env["ir.cron.trigger"]
            .sudo()
            .search_count([("cron_id", "in", self.backend.sudo().push_cron_ids.ids)])
        )

    def test_posting_enqueues_one_job_on_the_links_channel(self):
        before = self.triggers()
        moves = self.env["account.move"]
        for n in range(12):
            moves |= self.invoice([(10.0 + n, 1.0)])
        self.assertEqual(set(moves.mapped("bookkeeping_state")), {"to_send"})
        job = self.jobs()
        self.assertEqual(len(job), 1, "a burst of posts makes one pending job per link")
        self.assertEqual(job.channel, f"root.bookkeeping.link_{self.backend.id}")
        self.assertEqual(job.records, self.backend)
        self.assertEqual(before, self.triggers(), "the job replaces the link's cron trigger")

    def test_each_lane_has_its_pending_job(self):
        self.backend.push_lanes = 2
        self.invoice([(10.0, 1.0)])
        self.invoice([(20.0, 1.0)])
        jobs = self.jobs().sorted("id")
        self.assertEqual(len(jobs), 2, "one pending job per lane")
        self.assertEqual([job.args for job in jobs], [[1], [2]])
        self.assertEqual(set(jobs.mapped("channel")), {f"root.bookkeeping.link_{self.backend.id}"})

    def test_a_busy_lane_postpones_the_job_without_counting_a_retry(self):
        """queue_job gives an unconfigured channel no capacity of its own: two jobs of one
        lane may be handed out at once. The second waits for the first's lock."""
        move = self.invoice([(10.0, 1.0)])
        job = self.jobs()
        with sql_db.db_connect(self.env.cr.dbname).cursor() as other:
            key = self.backend.id * MAX_PUSH_LANES
            other.execute("SELECT pg_advisory_lock(%s, %s)", (LANE_LOCK_SPACE, key))
            try:
                with self.assertRaises(RetryableJobError) as caught:
                    Job.load(self.env, job.uuid).perform()
            finally:
                other.execute("SELECT pg_advisory_unlock(%s, %s)", (LANE_LOCK_SPACE, key))
        self.assertTrue(caught.exception.ignore_retry, "a busy lane is no failure")
        self.assertEqual(move.bookkeeping_state, "to_send")
        self.assertFalse(self.remote_rows("salesentry/SalesEntries"), "nothing sent meanwhile")
        self.perform(job)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)

    def test_the_links_daily_cron_asks_for_a_job(self):
        move = self.invoice([(10.0, 1.0)])
        self.jobs().state = "done"  # as if the first job had been lost
        self.backend._cron_push_link()
        self.assertEqual(move.bookkeeping_state, "to_send", "the cron pushes nothing itself")
        self.assertEqual(len(self.jobs()), 1)

    def test_a_pending_job_does_not_swallow_the_resume_at_the_reset(self):
        self.invoice([(10.0, 1.0)])
        reset = fields.Datetime.now() + timedelta(minutes=10)
        self.backend._schedule_push(at=reset)
        self.backend._schedule_push(at=reset + timedelta(minutes=1))
        self.invoice([(20.0, 1.0)])
        jobs = self.jobs().sorted("id")
        self.assertEqual(len(jobs), 2, "one for now, one at the reset")
        self.assertFalse(jobs[0].eta)
        self.assertEqual(jobs[1].eta, reset)

    def test_the_job_pushes_the_links_invoices(self):
        moves = self.invoice([(10.0, 1.0)]) | self.invoice([(20.0, 1.0)])
        self.perform(self.jobs())
        self.assertEqual(
            set(moves.mapped("bookkeeping_state")), {"done"}, moves.mapped("bookkeeping_error")
        )
        self.assertEqual(len(self.remote_rows("salesentry/SalesEntries")), 2)
        self.assertFalse(self.jobs(), "nothing left: no new job")

    def test_a_run_that_leaves_work_enqueues_the_next_job(self):
        moves = self.invoice([(10.0, 1.0)]) | self.invoice([(20.0, 1.0)])
        job = self.jobs()
        job.state = "started"
        # The job's own run, one invoice per run.
        job.records.with_context(bookkeeping_cron_batch=1)._push_link_job()
        job.state = "done"
        self.assertEqual(sorted(moves.mapped("bookkeeping_state")), ["done", "to_send"])
        self.assertEqual(len(self.jobs()), 1, "the rest follows as the next job")

    def test_a_rate_limit_comes_back_as_a_job_at_the_reset(self):
        self.control("POST", "/exact/config", {"rate_limit_enabled": True, "daily_limit": 53})
        moves = self.invoice([(10.0, 1.0)]) | self.invoice([(20.0, 1.0)])
        moves |= self.invoice([(30.0, 1.0)])
        self.perform(self.jobs())
        self.assertIn("to_send", moves.mapped("bookkeeping_state"))
        later = self.jobs()
        self.assertEqual(len(later), 1)
        reset = self.backend._rate_limiter(("exact", 1001)).snapshot()["day_reset"]
        expected = datetime.fromtimestamp(reset, timezone.utc).replace(tzinfo=None)
        self.assertLess(abs((later.eta - expected).total_seconds()), 120, (later.eta, expected))

    def test_a_lost_response_makes_no_duplicate(self):
        """The create reaches Exact, its answer is lost: the job's run looks the invoice up
        before trying again, so Exact holds it once."""
        move = self.invoice([(10.0, 1.0)])
        self.faults(lose_next_creates=1)
        self.perform(self.jobs())
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(len(self.remote_rows("salesentry/SalesEntries", YourRef=move.name)), 1)

    def test_a_job_run_again_after_a_lost_response_makes_no_duplicate(self):
        """The job's first run loses the create's answer; queue_job runs the same job again
        (Requeue, or the dead-job requeuer after a worker died): it looks the invoice up
        before any new create."""
        move = self.invoice([(10.0, 1.0)])
        job = self.jobs()
        with self.backend._session() as client:  # the customer exists: the invoice's create
            self.backend._push_partner(client, move.partner_id)  # is the one that is lost
        self.faults(lose_next_creates=1)
        job.state = "started"
        job.records.with_context(bookkeeping_retries_in_run=0)._push_link_job(*job.args)
        self.assertTrue(move.bookkeeping_outcome_unknown, move.bookkeeping_error)
        self.assertEqual(len(self.remote_rows("salesentry/SalesEntries")), 1, "it reached Exact")
        move.bookkeeping_next_attempt = False  # its retry is due
        self.clear_stats()
        self.perform(job)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(len(self.remote_rows("salesentry/SalesEntries", YourRef=move.name)), 1)
        creates = [
            k for k in self.stats()["requests"] if k.startswith("POST ") and "SalesEntries" in k
        ]
        self.assertFalse(creates, "found by its reference, not created again")

    def test_an_outage_waits_for_the_dispatcher_and_then_goes_once(self):
        move = self.invoice([(10.0, 1.0)])
        self.faults(path_status={"POST salesentry/SalesEntries": 503})
        self.perform(self.jobs())
        self.assertTrue(move.bookkeeping_error_retryable, move.bookkeeping_error)
        self.assertFalse(self.jobs(), "the engine's back-off decides when, not queue_job")
        self.faults(path_status={})
        move.bookkeeping_next_attempt = False
        self.env["bookkeeping.backend"]._cron_push_invoices()  # the dispatcher's round
        self.perform(self.jobs())
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(len(self.remote_rows("salesentry/SalesEntries", YourRef=move.name)), 1)
