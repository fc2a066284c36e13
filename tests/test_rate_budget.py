"""The remote budget is kept in PostgreSQL: every worker of every server sees one count."""

import threading

from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.clients.errors import RateLimited
from odoo.addons.account_bookkeeping_link.clients.exact import ExactClient
from odoo.addons.account_bookkeeping_link.clients.oauth import MemoryTokenStore
from odoo.addons.account_bookkeeping_link.models.bookkeeping_rate_budget import (
    RESERVATION_TTL,
    SharedRateLimiter,
)
from odoo.addons.account_bookkeeping_link.tests.common import forget_budgets
from odoo.addons.account_bookkeeping_link.tests.common_exact import (
    DIVISION,
    QUIET_CONFIG,
    ExactCommon,
)


class Clock:
    def __init__(self, start=1_800_000_000.0):
        self.time = start

    def now(self):
        return self.time

    def sleep(self, seconds):
        self.time += seconds


@tagged("post_install", "-at_install")
class TestSharedBudget(ExactCommon):
    def setUp(self):
        super().setUp()
        self.addCleanup(forget_budgets, self.env)
        self.clock = Clock()

    def worker(self, key=("exact", 4242), **options):
        """A limiter as another worker or server would have it: its own object, its own
        database connection; only PostgreSQL is shared."""
        return SharedRateLimiter(
            key,
            cursor_factory=self.registry.cursor,
            now=self.clock.now,
            sleep=self.clock.sleep,
            **options,
        )

    def test_a_budget_told_to_one_worker_holds_for_the_others(self):
        first, second = self.worker(max_wait=5), self.worker(max_wait=5)
        first.update(minute_remaining=2, minute_reset=self.clock.now() + 30)
        second.acquire()
        second.acquire()
        # Two calls under way use the two calls left: a third waits for the reset, and
        # here the reset is further away than this worker may wait.
        with self.assertRaises(RateLimited) as caught:
            first.acquire()
        self.assertEqual(caught.exception.scope, "minute")
        self.assertEqual(first.snapshot()["in_flight"], 2)

    def test_the_answer_is_recorded_and_the_slot_given_back_at_once(self):
        first, second = self.worker(), self.worker()
        first.acquire()
        self.assertEqual(second.snapshot()["in_flight"], 1)
        reset_ms = int((self.clock.now() + 40) * 1000)
        first.settle(
            {"X-RateLimit-Minutely-Remaining": "7", "X-RateLimit-Minutely-Reset": str(reset_ms)},
            ExactClient.rate_policy,
        )
        seen = second.snapshot()
        self.assertEqual(seen["in_flight"], 0)
        self.assertEqual(seen["minute_remaining"], 7)
        self.assertAlmostEqual(seen["minute_reset"], self.clock.now() + 40, places=2)

    def test_the_slot_of_a_worker_that_died_comes_back(self):
        dead, alive = self.worker(), self.worker(max_wait=5)
        alive.update(minute_remaining=1, minute_reset=self.clock.now() + 3 * RESERVATION_TTL)
        dead.acquire()  # ... and the worker dies before its answer
        with self.assertRaises(RateLimited):
            alive.acquire()
        self.clock.sleep(RESERVATION_TTL + 1)
        self.assertEqual(alive.snapshot()["in_flight"], 0)
        alive.acquire()

    def test_a_429_blocks_every_worker_until_its_time(self):
        first, second = self.worker(), self.worker(max_wait=5)
        first.update_from_retry_after("600")
        with self.assertRaises(RateLimited):
            second.acquire()
        self.clock.sleep(601)
        second.acquire()

    def test_pacing_is_kept_across_workers(self):
        first, second = self.worker(min_interval=0.5), self.worker(min_interval=0.5)
        first.acquire()
        second.acquire()
        self.assertAlmostEqual(second.waited, 0.5, places=3)

    def test_budgets_are_kept_apart(self):
        first, other = self.worker(("exact", 1)), self.worker(("exact", 2), max_wait=5)
        first.update(minute_remaining=0, minute_reset=self.clock.now() + 30)
        other.acquire()  # another division's budget is untouched
        with self.registry.cursor() as cr:  # the budgets are committed on their own
            cr.execute(
                "SELECT key FROM bookkeeping_rate_budget WHERE key IN ('exact|1', 'exact|2')"
            )
            self.assertEqual(len(cr.fetchall()), 2)

    def test_workers_pushing_one_division_together_collect_no_429(self):
        """Three workers, each with its own limiter and database connection, spend one
        Exact division's minutely budget together: they wait for the windows, not for 429s."""
        self.control(
            "POST",
            "/exact/config",
            {"rate_limit_enabled": True, "minutely_limit": 6, "minute_window": 2},
        )
        self.addCleanup(self.control, "POST", "/exact/config", QUIET_CONFIG)
        forget_budgets(self.env)
        token = self.backend._token_store().read()
        errors, answers = [], []

        def work():
            client = ExactClient(
                self.backend._exact_host(),
                DIVISION,
                self.backend._exact_oauth(MemoryTokenStore(token)),
                limiter=SharedRateLimiter(("exact", DIVISION), cursor_factory=self.registry.cursor),
                max_429_retries=0,
            )
            try:
                for _ in range(5):
                    answers.append(len(client.vat_codes()))
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                errors.append(error)

        self.clear_stats()
        threads = [threading.Thread(target=work) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        self.assertFalse(errors, errors)
        self.assertEqual(len(answers), 15)
        stats = self.stats()
        self.assertEqual(stats["throttled"], 0, stats)
