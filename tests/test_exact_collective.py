"""Collective booking ("verzamelboeking") of B2C invoices to the Exact sandbox over HTTP:
one SalesEntry per day and journal on the default customer, lines per VAT code and GL
account, correcting entries, totals to the cent, and no double count after faults."""

from datetime import timedelta

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.models.bookkeeping_collective import ENTRY_LOCK_SPACE
from odoo.addons.account_bookkeeping_link.tests.common_exact import INVOICE_DATE, ExactCommon

DAY_2 = INVOICE_DATE + timedelta(days=1)


@tagged("post_install", "-at_install")
class TestExactCollective(ExactCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.private = cls.env["res.partner"].create(
            {"name": "Anna de Vries", "country_id": cls.nl.id, "email": "anna@example.nl"}
        )
        cls.private_2 = cls.env["res.partner"].create(
            {"name": "Bram Visser", "country_id": cls.nl.id}
        )
        cls.backend.write({"collective_booking": True, "attach_pdf": False})

    def setUp(self):
        super().setUp()
        # The default debtor of the webshop, as the accountant made it in Exact.
        with self.backend._session() as client:
            account = client.create_account({"Name": "Particulieren webshop", "Status": "C"})
        self.backend.collective_customer_code = account["Code"].strip()
        self.customer_guid = account["ID"]
        self.clear_stats()

    # ------------------------------------------------------------------ helpers

    def b2c(self, lines=None, date=INVOICE_DATE, partner=None, move_type="out_invoice", tax=None):
        move = self.invoice(
            lines=lines, partner=partner or self.private, move_type=move_type, tax=tax, post=False
        )
        move.write({"invoice_date": date, "date": date})
        move.action_post()
        return move

    def run_collective(self):
        return self.backend._push_collective_entries()

    def entries(self):
        return self.env["bookkeeping.collective.entry"].search(
            [("backend_id", "=", self.backend.id)], order="date, sequence"
        )

    def remote_entries(self, **match):
        return [
            row
            for row in self.remote_rows("salesentry/SalesEntries", **match)
            if (row.get("YourRef") or "").startswith("VB")
        ]

    def remote_lines(self, entry_row):
        return self.remote_rows("salesentry/SalesEntryLines", EntryID=entry_row["EntryID"])

    # ------------------------------------------------------------------ grouping

    def test_one_entry_per_day_and_journal_b2b_one_by_one(self):
        day1 = [self.b2c([(100.0, 1.0)]), self.b2c([(50.0, 2.0)], tax=self.tax_9)]
        day1.append(self.b2c([(19.99, 3.0)], partner=self.private_2))
        day2 = [self.b2c([(10.0, 1.0)], date=DAY_2), self.b2c([(5.0, 1.0)], date=DAY_2)]
        b2b = self.invoice()  # partner_a: a company with a VAT number, same day
        moves = self.env["account.move"].concat(*day1, *day2)
        self.assertEqual(set(moves.mapped("bookkeeping_collective")), {True})
        self.assertFalse(b2b.bookkeeping_collective)
        # The one-by-one path sends the B2B invoice and never takes the B2C ones.
        self.send(moves | b2b)
        self.assertEqual(b2b.bookkeeping_state, "done", b2b.bookkeeping_error)
        self.assertEqual(len(self.remote_rows("salesentry/SalesEntries", YourRef=b2b.name)), 1)
        self.assertEqual(set(moves.mapped("bookkeeping_state")), {"to_send"})
        self.clear_stats()

        self.backend._cron_push_link()

        # One look-up of the default customer and one entry per day: nothing per invoice.
        self.assertEqual(self.calls(), 3)
        entries = self.entries()
        self.assertEqual(entries.mapped("date"), [INVOICE_DATE, DAY_2])
        self.assertEqual(entries.mapped("sequence"), [1, 1])
        self.assertEqual(set(entries.mapped("state")), {"done"})
        self.assertEqual(entries[0].move_ids, self.env["account.move"].concat(*day1))
        self.assertEqual(len(self.remote_entries()), 2)
        first = self.remote_entries(YourRef=entries[0].reference)[0]
        self.assertEqual(first["Customer"], self.customer_guid)
        self.assertEqual(first["EntryDate"][:10], str(INVOICE_DATE))
        # One line per VAT code and GL account: 21% and 9% on account 8000.
        lines = self.remote_lines(first)
        self.assertEqual(sorted(line["VATCode"].strip() for line in lines), ["1", "2"])
        for move in moves:
            self.assertEqual(move.bookkeeping_state, "done")
            self.assertEqual(
                move.bookkeeping_remote_number,
                str(move.bookkeeping_collective_entry_id.remote_number),
            )
            self.assertIn(move.bookkeeping_collective_entry_id.reference, move.message_ids[0].body)

    def test_totals_to_the_cent_where_summed_lines_would_lose_one(self):
        # 0.10 at 21% is 0.021: Odoo books 0.02 VAT per invoice, 0.20 for ten. VAT on the
        # summed base (1.00 x 21%) would be 0.21: a cent that is no invoice's.
        moves = self.env["account.move"].concat(*(self.b2c([(0.10, 1.0)]) for _i in range(10)))
        self.assertEqual(set(moves.mapped("amount_tax")), {0.02})
        self.run_collective()
        entry = self.entries()
        self.assertEqual(entry.state, "done", entry.error)
        remote = self.remote_entries(YourRef=entry.reference)[0]
        odoo_total = sum(moves.mapped("amount_total_signed"))
        self.assertAlmostEqual(odoo_total, 1.20, places=2)
        self.assertAlmostEqual(remote["AmountFC"], odoo_total, places=2)
        self.assertAlmostEqual(remote["VATAmountFC"], 0.20, places=2)
        self.assertAlmostEqual(entry.amount_total, odoo_total, places=2)
        self.assertAlmostEqual(entry.remote_amount, odoo_total, places=2)

    def test_credit_note_and_late_invoice_go_into_a_correcting_entry(self):
        first = self.b2c([(100.0, 1.0)])
        same_day_credit = self.b2c([(10.0, 1.0)], move_type="out_refund")
        self.run_collective()
        day = self.entries()
        self.assertEqual(day.move_ids, first | same_day_credit)
        # Not booked yet that day: the credit note is negative in the day's own entry.
        remote_day = self.remote_entries(YourRef=day.reference)[0]
        self.assertAlmostEqual(remote_day["AmountFC"], 121.0 - 12.1, places=2)

        late = self.b2c([(30.0, 1.0)])
        credit = self.b2c([(100.0, 1.0)], move_type="out_refund")
        self.run_collective()
        entries = self.entries()
        self.assertEqual(entries.mapped("sequence"), [1, 2])
        correction = entries[1]
        self.assertTrue(correction.is_correction)
        self.assertEqual(correction.move_ids, late | credit)
        self.assertEqual(correction.state, "done", correction.error)
        remote = self.remote_entries(YourRef=correction.reference)[0]
        self.assertAlmostEqual(remote["AmountFC"], 36.3 - 121.0, places=2)
        self.assertAlmostEqual(correction.amount_total, 36.3 - 121.0, places=2)
        self.assertEqual(remote["Type"], 21)  # Exact: a credit entry by its negative total
        # The day's entry was not touched.
        self.assertAlmostEqual(
            self.remote_entries(YourRef=day.reference)[0]["AmountFC"], 108.9, places=2
        )

    def test_not_booked_before_the_day_is_over(self):
        today = self.backend._collective_today()
        move = self.b2c([(10.0, 1.0)], date=today + timedelta(days=2))
        self.run_collective()
        self.assertFalse(self.entries())
        self.assertEqual(move.bookkeeping_state, "to_send")
        self.assertFalse(move.bookkeeping_collective_entry_id)

    # ------------------------------------------------------------------ bad input

    def test_bad_input_is_refused_before_any_call(self):
        good = self.b2c([(10.0, 1.0)])
        bad = self.b2c([(10.0, 1.0)], tax=self.tax_unmapped)
        self.backend._collect_invoices()
        self.assertEqual(self.calls(), 0)
        self.assertEqual(bad.bookkeeping_state, "error")
        self.assertIn(self.tax_unmapped.name, bad.bookkeeping_error)
        self.assertIn("map it on the link", bad.bookkeeping_error)
        self.assertFalse(bad.bookkeeping_collective_entry_id)
        self.assertTrue(good.bookkeeping_collective_entry_id)
        self.assertEqual(self.entries().move_ids, good)

    def test_missing_default_customer_says_what_to_fill_in(self):
        self.backend.collective_customer_code = False
        move = self.b2c([(10.0, 1.0)])
        self.run_collective()
        entry = self.entries()
        self.assertEqual(entry.state, "error")
        self.assertIn("default customer", entry.error)
        self.assertEqual(move.bookkeeping_state, "error")
        self.assertFalse(self.remote_entries())
        # Fixed: Book now books it (a refusal is not retried by the cron on its own).
        self.backend.collective_customer_code = "does-not-exist"
        entry.action_book_now()
        self.assertIn("does-not-exist", entry.error)
        self.backend.collective_customer_code = self.remote_rows(
            "crm/Accounts", ID=self.customer_guid
        )[0]["Code"].strip()
        answer = entry.action_book_now()
        self.assertEqual(entry.state, "done", entry.error)
        self.assertEqual(answer["params"]["type"], "success")
        self.assertEqual(move.bookkeeping_state, "done")
        self.assertEqual(len(self.remote_entries()), 1)

    def test_held_invoice_cannot_be_reset_to_draft(self):
        move = self.b2c([(10.0, 1.0)])
        self.backend._collect_invoices()
        self.assertFalse(move.show_reset_to_draft_button)
        with self.assertRaisesRegex(UserError, "collective entry"):
            move.button_draft()

    # ------------------------------------------------------------------ no double count

    def _no_double_count_after(self, **fault):
        move = self.b2c([(10.0, 1.0)])
        with self.backend._session() as client:
            self.backend._collective_customer(client)  # the fault hits the create
        self.faults(**fault)
        self.run_collective()
        entry = self.entries()
        self.assertEqual(entry.state, "error")
        self.assertTrue(entry.error_retryable)
        self.assertTrue(entry.outcome_unknown)
        self.assertIn(entry.reference, entry.error)
        self.assertEqual(move.bookkeeping_state, "error")
        # The retry is due later; Book now (or the cron once due) looks it up first.
        entry.action_book_now()
        self.assertEqual(entry.state, "done", entry.error)
        self.assertEqual(len(self.remote_entries(YourRef=entry.reference)), 1)
        self.assertEqual(move.bookkeeping_state, "done")

    def test_no_double_count_after_a_lost_response(self):
        self._no_double_count_after(lose_next_creates=1)

    def test_no_double_count_after_a_5xx(self):
        self._no_double_count_after(fail_next=1)

    def test_no_double_count_after_a_crash_between_call_and_commit(self):
        move = self.b2c([(10.0, 1.0)])
        self.run_collective()
        entry = self.entries()
        remote_id = entry.remote_id
        self.assertTrue(remote_id)
        # What a crash after the create but before our commit leaves: 'sending', committed
        # before the call, and nothing of the answer.
        entry.write({"state": "sending", "remote_id": False, "remote_number": False})
        move.write({"bookkeeping_state": "sending", "bookkeeping_remote_id": False})
        self.run_collective()
        self.assertEqual(entry.state, "done")
        self.assertEqual(entry.remote_id, remote_id)
        self.assertEqual(len(self.remote_entries(YourRef=entry.reference)), 1)
        self.assertEqual(move.bookkeeping_state, "done")

    def test_two_runs_at_once_book_an_entry_once(self):
        self.b2c([(10.0, 1.0)])
        self.backend._collect_invoices()
        entry = self.entries()
        # A second worker holds the entry's claim: this run skips it, no call.
        with self.registry.cursor() as other:
            other.execute("SELECT pg_advisory_lock(%s, %s)", (ENTRY_LOCK_SPACE, entry.id))
            try:
                self.backend._send_collective_entries(entry)
            finally:
                other.execute("SELECT pg_advisory_unlock(%s, %s)", (ENTRY_LOCK_SPACE, entry.id))
        self.assertEqual(entry.state, "draft")
        self.assertFalse(self.remote_entries())
        self.backend._send_collective_entries(entry)
        self.assertEqual(entry.state, "done")
        self.assertEqual(len(self.remote_entries()), 1)

    # ------------------------------------------------------------------ where offered

    def test_not_offered_where_the_service_has_no_entry_type(self):
        self.assertTrue(self.backend.collective_supported)
        company = self.company_data["company"]
        asperion = self.env["bookkeeping.backend"].new({"name": "a", "service": "asperion"})
        self.assertTrue(asperion.collective_supported)
        # Visma: no entry type that is safe enough (doc/collective.md).
        backend = self.env["bookkeeping.backend"].create(
            {"name": "Visma", "service": "visma", "company_id": company.id}
        )
        self.assertFalse(backend.collective_supported)
        with self.assertRaisesRegex(ValidationError, "not offered"):
            backend.collective_booking = True
        move = self.invoice(partner=self.private, post=False)
        move.bookkeeping_backend_id = backend
        self.assertFalse(backend._collective_applies(move))

    def test_send_button_queues_for_the_entry(self):
        self.backend.push_on_post = False
        move = self.b2c([(10.0, 1.0)])
        self.assertEqual(move.bookkeeping_state, "not_applicable")
        answer = move.action_bookkeeping_send()
        self.assertEqual(answer["params"]["type"], "info")
        self.assertTrue(move.bookkeeping_collective)
        self.assertEqual(move.bookkeeping_state, "to_send")
        self.assertEqual(self.calls(), 0)
        self.backend.action_book_collective()
        self.assertEqual(move.bookkeeping_state, "done")

    def test_foreign_currency_and_company_go_one_by_one(self):
        company_partner = self.env["res.partner"].create(
            {"name": "Winkel BV", "is_company": True, "country_id": self.nl.id}
        )
        move = self.invoice(partner=company_partner)
        self.assertFalse(move.bookkeeping_collective)
        usd = self.setup_other_currency("USD")
        foreign = self.invoice(partner=self.private, currency=usd)
        self.assertFalse(foreign.bookkeeping_collective)

    def test_the_dispatcher_wakes_a_link_with_a_closed_day(self):
        Backend = self.env["bookkeeping.backend"]
        today = self.backend._collective_today()
        self.b2c([(10.0, 1.0)], date=today + timedelta(days=2))
        self.assertNotIn(self.backend, Backend._collective_work())
        self.b2c([(10.0, 1.0)])
        self.assertIn(self.backend, Backend._collective_work())
        triggers = self.env["ir.cron.trigger"].sudo()
        before = triggers.search_count([("cron_id", "in", self.backend.sudo().push_cron_ids.ids)])
        Backend._cron_push_invoices()
        after = triggers.search_count([("cron_id", "in", self.backend.sudo().push_cron_ids.ids)])
        self.assertGreater(after, before)
        self.run_collective()
        self.assertNotIn(self.backend, Backend._collective_work())
