"""End to end: Timewax sandbox -> Odoo (posted under the Timewax number) -> Exact sandbox,
all real HTTP on loopback, one sandbox serving both services."""

from odoo import fields
from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.tests.common import forget_budgets
from odoo.addons.account_bookkeeping_link.tests.common_exact import ExactCommon


@tagged("post_install", "-at_install")
class TestTimewaxToExact(ExactCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.timewax = cls.env["bookkeeping.backend"].create(
            {
                "name": "Timewax sandbox",
                "service": "timewax",
                "company_id": cls.company_data["company"].id,
                "timewax_base_url": f"{cls.url}/timewax",
                "timewax_client": "sandbox",
                "timewax_username": "api-user",
                "timewax_password": "secret",
                "timewax_post": True,
            }
        )
        cls.env["bookkeeping.timewax.vat.code"].create(
            [
                {"backend_id": cls.timewax.id, "code": "21", "tax_id": cls.tax_21.id},
                {"backend_id": cls.timewax.id, "code": "9", "tax_id": cls.tax_9.id},
            ]
        )

    def setUp(self):
        super().setUp()
        self.control("POST", "/reset", {"service": "timewax"})
        forget_budgets(self.env)

    def test_imported_invoices_are_booked_in_exact_under_the_timewax_number(self):
        result = self.timewax._timewax_import(
            fields.Date.from_string("2026-01-01"), fields.Date.from_string("2026-01-31")
        )
        self.assertEqual((result["created"], result["posted"]), (2, 2), result)
        moves = self.env["account.move"].search([("timewax_backend_id", "=", self.timewax.id)])
        # Queued for Exact, never for the Timewax link (an import source).
        self.assertEqual(moves.bookkeeping_backend_id, self.backend)
        self.assertEqual(set(moves.mapped("bookkeeping_state")), {"to_send"})
        self.send(moves)
        for move in moves:
            self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
            entries = self.remote_rows("salesentry/SalesEntries", YourRef=move.timewax_number)
            self.assertEqual(len(entries), 1, move.timewax_number)
            self.assertEqual(move.name, move.timewax_number)  # no second number
            self.assertAlmostEqual(abs(entries[0]["AmountFC"]), move.amount_total, places=2)
            self.assertAlmostEqual(abs(entries[0]["VATAmountFC"]), move.amount_tax, places=2)
        # a second import and a second send change nothing in Exact
        again = self.timewax._timewax_import(
            fields.Date.from_string("2026-01-01"), fields.Date.from_string("2026-01-31")
        )
        self.assertEqual((again["created"], again["updated"]), (0, 0))
        self.send(moves)
        self.assertEqual(len(self.remote_rows("salesentry/SalesEntries")), 2)
