"""Collective booking to the Asperion sandbox over HTTP: one final sales invoice per day and
journal on the default debtor, our reference as its invoiceNumber, totals to the cent, a
correcting entry, and no double count after a lost response or a crash."""

from datetime import timedelta

from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.tests.common_asperion import AsperionCommon


@tagged("post_install", "-at_install")
class TestAsperionCollective(AsperionCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.private = cls.env["res.partner"].create(
            {"name": "Anna de Vries", "country_id": cls.nl.id}
        )
        cls.backend.write({"collective_booking": True, "attach_pdf": False})

    def setUp(self):
        super().setUp()
        with self.backend._session() as client:
            debtor = client.create_debtor(
                {"name": "Particulieren webshop", "debtorKindId": "DEB", "countryCode": "NL"}
            )
        self.backend.collective_customer_code = str(debtor["customerNumber"])
        self.debtor_id = debtor["id"]
        self.clear_stats()

    def b2c(self, amounts=(100.0,), move_type="out_invoice", taxes=None):
        return self.invoice(amounts, move_type=move_type, partner=self.private, taxes=taxes)

    def remote_invoices(self, reference=None):
        return [
            invoice
            for invoice in self.remote_state()["salesinvoices"]
            if (invoice.get("invoiceNumber") or "").startswith("VB")
            and reference in (None, invoice["invoiceNumber"])
        ]

    def entries(self):
        return self.backend.collective_entry_ids.sorted("sequence")

    def test_one_entry_on_the_default_debtor_to_the_cent_then_a_correction(self):
        moves = self.b2c([0.10]) | self.b2c([0.10]) | self.b2c([0.10], taxes=self.tax_9)
        moves |= self.b2c([19.99, 5.01])
        self.backend._push_collective_entries()
        entry = self.entries()
        self.assertEqual(entry.state, "done", entry.error)
        remote = self.remote_invoices(entry.reference)
        self.assertEqual(len(remote), 1)
        self.assertEqual(str(remote[0]["debtorId"]), str(self.debtor_id))
        odoo_total = round(sum(moves.mapped("amount_total_signed")), 2)
        self.assertAlmostEqual(remote[0]["amountInclVat"], odoo_total, places=2)
        # 0.02 + 0.02 VAT at 21% (0.042 on the summed base would round to 0.04 too), 0.01 at
        # 9%, 5.25 on 25.00: the VAT of the invoices, not of the summed lines.
        self.assertAlmostEqual(
            remote[0]["vatAmount"], round(sum(moves.mapped("amount_tax_signed")), 2), places=2
        )
        self.assertEqual(len(remote[0]["lines"]["_data"]), 2)  # high and low VAT code

        credit = self.b2c([25.0], move_type="out_refund")
        self.backend._push_collective_entries()
        correction = self.entries()[1]
        self.assertEqual(correction.sequence, 2)
        self.assertEqual(correction.move_ids, credit)
        remote = self.remote_invoices(correction.reference)
        self.assertAlmostEqual(remote[0]["amountInclVat"], -30.25, places=2)

    def test_no_double_count_after_a_lost_response(self):
        move = self.b2c([10.0])
        with self.backend._session() as client:
            self.backend._collective_customer(client)
        self.faults(lose_next_creates=1)
        self.backend._push_collective_entries()
        entry = self.entries()
        self.assertTrue(entry.outcome_unknown)
        entry.action_book_now()
        self.assertEqual(entry.state, "done", entry.error)
        self.assertEqual(len(self.remote_invoices(entry.reference)), 1)
        self.assertEqual(move.bookkeeping_state, "done")

    def test_no_double_count_after_a_crash_between_call_and_commit(self):
        self.b2c([10.0])
        self.backend._push_collective_entries()
        entry = self.entries()
        remote_id = entry.remote_id
        entry.write({"state": "sending", "remote_id": False})
        self.backend._push_collective_entries()
        self.assertEqual(entry.state, "done", entry.error)
        self.assertEqual(entry.remote_id, remote_id)
        self.assertEqual(len(self.remote_invoices(entry.reference)), 1)

    def test_not_before_the_day_is_over(self):
        move = self.init_invoice(
            "out_invoice",
            partner=self.private,
            invoice_date=self.backend._collective_today() + timedelta(days=2),
            amounts=[10.0],
            taxes=self.tax_21,
            post=True,
        )
        self.assertTrue(move.bookkeeping_collective)
        self.backend._push_collective_entries()
        self.assertFalse(self.entries())
        self.assertEqual(move.bookkeeping_state, "to_send")
