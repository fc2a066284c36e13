"""Each pushing link has its own push job, so that Odoo's cron workers push links in parallel."""

import psycopg2

from odoo import Command
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.account_bookkeeping_link.tests.common_exact import ExactCommon


@tagged("post_install", "-at_install")
class TestPushJobPerLink(ExactCommon):
    def triggers(self, backend):
        crons = backend.sudo().push_cron_ids
        return self.env["ir.cron.trigger"].sudo().search([("cron_id", "in", crons.ids)])

    def other_link(self):
        """A link of a second company, as if linked to its own division (no token)."""
        company = self.setup_other_company(name="Other BV", country_id=self.nl.id)["company"]
        other = self.env["bookkeeping.backend"].create(
            {"name": "Exact other division", "service": "exact", "company_id": company.id}
        )
        other.sudo().write({"state": "linked", "administration_code": "2002"})
        return other

    def test_each_pushing_link_has_its_own_job(self):
        cron = self.backend.sudo().push_cron_ids
        self.assertEqual(len(cron), 1)
        self.assertTrue(cron.active)
        self.assertEqual(cron.model_id.model, "bookkeeping.backend")
        self.assertEqual(cron.code, f"model.browse({self.backend.id})._cron_push_link()")
        self.assertIn(self.backend.name, cron.name)
        other = self.other_link()
        self.assertNotEqual(other.sudo().push_cron_ids, cron)
        self.assertIn("other division", other.sudo().push_cron_ids.name)

    def test_an_import_link_has_no_push_job(self):
        timewax = self.env["bookkeeping.backend"].create(
            {"name": "Timewax", "service": "timewax", "company_id": self.backend.company_id.id}
        )
        self.assertFalse(timewax.sudo().push_cron_ids)

    def test_posting_wakes_the_links_own_job(self):
        self.triggers(self.backend).unlink()
        global_cron = self.env.ref("account_bookkeeping_link.ir_cron_bookkeeping_push")
        before = self.env["ir.cron.trigger"].sudo().search_count([("cron_id", "=", global_cron.id)])
        move = self.invoice([(10.0, 1.0)])
        self.assertEqual(move.bookkeeping_state, "to_send")
        self.assertTrue(self.triggers(self.backend))
        after = self.env["ir.cron.trigger"].sudo().search_count([("cron_id", "=", global_cron.id)])
        self.assertEqual(before, after, "the link's job is woken, not one job for every link")

    def test_the_dispatcher_wakes_only_links_with_work(self):
        other = self.other_link()
        self.invoice([(10.0, 1.0)])
        self.triggers(self.backend).unlink()
        self.triggers(other).unlink()
        self.env["bookkeeping.backend"]._cron_push_invoices()
        self.assertTrue(self.triggers(self.backend))
        self.assertFalse(self.triggers(other), "nothing waits for the other link")
        # Once sent, there is nothing left to wake.
        self.backend._cron_push_link()
        self.triggers(self.backend).unlink()
        self.env["bookkeeping.backend"]._cron_push_invoices()
        self.assertFalse(self.triggers(self.backend))

    def test_a_link_job_sends_only_its_own_links_invoices(self):
        other = self.other_link()
        mine = self.invoice([(10.0, 1.0)])
        theirs = (
            self.env["account.move"]
            .with_company(other.company_id)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": self.partner_a.id,
                    "invoice_date": mine.invoice_date,
                    "invoice_line_ids": [Command.create({"name": "Other", "price_unit": 20.0})],
                }
            )
        )
        theirs.action_post()
        theirs._bookkeeping_write(
            {"bookkeeping_backend_id": other.id, "bookkeeping_state": "to_send"}
        )
        self.backend._cron_push_link()
        self.assertEqual(mine.bookkeeping_state, "done", mine.bookkeeping_error)
        self.assertEqual(theirs.bookkeeping_state, "to_send")
        self.assertEqual(len(self.remote_rows("salesentry/SalesEntries")), 1)

    def test_a_run_that_leaves_work_wakes_itself_again(self):
        moves = self.invoice([(10.0, 1.0)]) | self.invoice([(20.0, 1.0)])
        self.triggers(self.backend).unlink()
        self.backend.with_context(bookkeeping_cron_batch=1)._cron_push_link()
        self.assertEqual(sorted(moves.mapped("bookkeeping_state")), ["done", "to_send"])
        self.assertTrue(self.triggers(self.backend), "the rest must follow without waiting")
        self.triggers(self.backend).unlink()
        self.backend.with_context(bookkeeping_cron_batch=1)._cron_push_link()
        self.assertEqual(set(moves.mapped("bookkeeping_state")), {"done"})
        self.assertFalse(self.triggers(self.backend), "nothing left: no wake-up")

    def test_archiving_and_deleting_a_link_stop_its_job(self):
        other = self.other_link()
        cron = other.sudo().push_cron_ids
        other.action_archive()
        self.assertFalse(cron.active)
        other.action_unarchive()
        self.assertTrue(cron.active)
        other.sudo().unlink()
        self.assertFalse(cron.exists())

    def test_a_link_made_before_the_jobs_existed_gets_one_when_woken(self):
        self.backend.sudo().push_cron_ids.unlink()
        self.invoice([(10.0, 1.0)])
        self.assertTrue(self.backend.sudo().push_cron_ids)
        self.assertTrue(self.triggers(self.backend))

    def test_parallel_pushes_wake_every_lane(self):
        self.backend.push_lanes = 3
        crons = self.backend.sudo().push_cron_ids
        self.assertEqual(len(crons), 3)
        self.assertEqual(len(set(crons.mapped("code"))), 1, "every lane runs the same link")
        self.triggers(self.backend).unlink()
        self.invoice([(10.0, 1.0)])
        self.assertEqual(self.triggers(self.backend).cron_id, crons)
        self.backend.push_lanes = 1
        self.assertEqual(len(crons.filtered("active")), 1, "the extra lanes rest")
        self.triggers(self.backend).unlink()
        self.invoice([(20.0, 1.0)])
        self.assertEqual(len(self.triggers(self.backend)), 1)

    def test_parallel_pushes_are_bounded(self):
        with self.assertRaises(psycopg2.errors.CheckViolation), mute_logger("odoo.sql_db"):
            self.backend.push_lanes = 0
            self.backend.flush_recordset()

    def test_an_invoice_another_worker_booked_meanwhile_costs_no_call(self):
        """Two lanes search the same waiting invoices; the one that claims later must not
        look up (or send) what the other booked after the search."""
        moves = self.invoice([(10.0, 1.0)]) | self.invoice([(20.0, 1.0)])
        moves.mapped("bookkeeping_state")  # this worker's search: both 'to send'
        other_lane = self.env["account.move"].browse(moves[0].id)
        self.backend._push_moves(other_lane)
        self.assertEqual(other_lane.bookkeeping_state, "done")
        # What our stale search still believes, as a recordset read before the other run.
        self.env.flush_all()
        self.env.cache.set(moves[0], moves._fields["bookkeeping_state"], "sending")
        self.clear_stats()
        self.backend._push_moves(moves)
        self.assertEqual(set(moves.mapped("bookkeeping_state")), {"done"})
        requests = self.stats()["requests"]
        self.assertEqual(sum(n for k, n in requests.items() if k.startswith("GET ")), 0, requests)
        self.assertEqual(len(self.remote_rows("salesentry/SalesEntries")), 2)
