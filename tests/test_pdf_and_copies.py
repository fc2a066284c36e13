"""The PDF never blocks the booking (issue 7, point 18) and a copy of the database never
touches production (point 3)."""

from contextlib import contextmanager
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.modules import neutralize
from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.tests.common_asperion import AsperionCommon
from odoo.addons.account_bookkeeping_link.tests.common_exact import ExactCommon

MODULE = "account_bookkeeping_link"


@contextmanager
def without_wkhtmltopdf(env):
    """Odoo as it is on a server without wkhtmltopdf: its own report code refuses with
    "Unable to find Wkhtmltopdf". (In tests Odoo renders HTML instead of calling
    wkhtmltopdf; ``force_report_rendering`` makes it take the real path.)"""
    Report = type(env["ir.actions.report"])
    real = Report._pre_render_qweb_pdf

    def render(self, report_ref, res_ids=None, data=None):
        return real(self.with_context(force_report_rendering=True), report_ref, res_ids, data)

    with (
        patch.object(Report, "get_wkhtmltopdf_state", lambda self: "install"),
        patch.object(Report, "_pre_render_qweb_pdf", render),
    ):
        yield


@tagged("post_install", "-at_install")
class TestExactBookedWithoutPdf(ExactCommon):
    def test_booked_without_pdf_then_attached_by_a_later_run(self):
        self.assertTrue(self.backend.attach_pdf)
        move = self.invoice([(100.0, 1.0)])
        with without_wkhtmltopdf(self.env):
            self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(move.bookkeeping_pdf_state, "pending")
        self.assertIn("Wkhtmltopdf", move.bookkeeping_pdf_error)
        self.assertIn("without its PDF", " ".join(move.message_ids.mapped("body")))
        entry = self.remote_rows("salesentry/SalesEntries", YourRef=move.name)[0]
        self.assertFalse(entry.get("Document"))
        self.assertFalse(self.remote_rows("documents/Documents"))
        # Still no renderer: the next run tries, changes nothing remotely, keeps the flag.
        with without_wkhtmltopdf(self.env):
            self.backend._cron_push_link()
        self.assertEqual(move.bookkeeping_pdf_state, "pending")
        self.assertFalse(self.remote_rows("documents/Documents"))
        # The renderer is back: the cron attaches the PDF to the booked entry.
        self.backend._cron_push_link()
        self.assertEqual(move.bookkeeping_pdf_state, "attached")
        entry = self.remote_rows("salesentry/SalesEntries", YourRef=move.name)[0]
        self.assertTrue(entry["Document"])
        self.assertEqual(entry["Document"], move.bookkeeping_pdf_remote_id)
        self.assertTrue(
            self.remote_rows("documents/DocumentAttachments", Document=entry["Document"])
        )
        self.assertEqual(len(self.remote_rows("salesentry/SalesEntries", YourRef=move.name)), 1)

    def test_pdf_made_at_booking_is_marked_attached(self):
        move = self.send(self.invoice([(100.0, 1.0)]))
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(move.bookkeeping_pdf_state, "attached")


@tagged("post_install", "-at_install")
class TestAsperionBookedWithoutPdf(AsperionCommon):
    def test_booked_without_pdf_then_attached_by_a_later_run(self):
        move = self.invoice()
        with without_wkhtmltopdf(self.env):
            self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(move.bookkeeping_pdf_state, "pending")
        self.assertFalse(self.remote_state()["files"])
        self.backend._cron_push_link()
        self.assertEqual(move.bookkeeping_pdf_state, "attached")
        files = self.remote_state()["files"]
        self.assertEqual(len(files), 1)
        self.assertEqual(str(files[0]["salesInvoiceId"]), move.bookkeeping_remote_id)


@tagged("post_install", "-at_install")
class TestNeutralizedCopy(ExactCommon):
    def neutralize(self):
        """What ``odoo-bin neutralize -d COPY`` runs: every installed module's
        data/neutralize.sql (ours included), on the database."""
        self.env.flush_all()
        queries = list(neutralize.get_neutralization_queries([MODULE]))
        self.assertEqual(len(queries), 1, "data/neutralize.sql of the module")
        neutralize.neutralize_database(self.env.cr)
        self.env.invalidate_all()

    def test_a_neutralized_copy_sends_nothing_and_has_no_usable_token(self):
        self.backend.attach_pdf = False
        move = self.invoice([(10.0, 1.0)])
        self.assertEqual(move.bookkeeping_state, "to_send")
        self.assertTrue(self.backend.sudo().token_ids.refresh_token)
        self.neutralize()
        self.assertFalse(self.env["bookkeeping.token"].sudo().search([]))
        self.assertEqual(self.backend.state, "draft")
        self.assertIn("neutralized copy", self.backend.state_message)
        for xmlid in (
            "ir_cron_bookkeeping_push",
            "ir_cron_bookkeeping_sync",
            "ir_cron_bookkeeping_keep_alive",
        ):
            self.assertFalse(self.env.ref(f"{MODULE}.{xmlid}").active, xmlid)
        link_jobs = self.backend.sudo().with_context(active_test=False).push_cron_ids
        self.assertTrue(link_jobs)
        self.assertFalse(any(link_jobs.mapped("active")), "the link's own push jobs")
        self.clear_stats()
        # Whatever runs on the copy (the crons by hand, a sync) reaches nothing.
        Backend = self.env["bookkeeping.backend"]
        Backend._cron_push_invoices()
        Backend._cron_sync_remote_state()
        Backend._cron_keep_tokens_alive()
        self.backend._sync_remote_state()
        self.assertEqual(self.calls(), 0)
        self.assertEqual(move.bookkeeping_state, "to_send")
        # Pressing Send says why, without any call.
        with self.assertRaisesRegex(UserError, "neutralized copy"):
            move.action_bookkeeping_send()
        self.assertEqual(self.calls(), 0)
