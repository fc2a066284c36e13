"""Customer links (``bookkeeping.partner.link``): one per link and customer, each with its
own sync state, one remote customer per contact, and the migration from the per-service
company-dependent partner fields of 19.0.1.0.0."""

import importlib.util
import json
import pathlib

import psycopg2

from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

MIGRATION = (
    pathlib.Path(__file__).resolve().parent.parent / "migrations" / "19.0.1.1.0" / "post-migrate.py"
)


@tagged("post_install", "-at_install")
class TestPartnerLinks(AccountTestInvoicingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        company = cls.company_data["company"]
        services = [key for key, _ in cls.env["bookkeeping.backend"]._fields["service"].selection]
        cls.first, cls.second = cls.env["bookkeeping.backend"].create(
            [
                {"name": f"Link {service}", "service": service, "company_id": company.id}
                for service in services[:2]
            ]
        )
        cls.customer = cls.env["res.partner"].create({"name": "Klant BV", "is_company": True})
        cls.contact = cls.env["res.partner"].create({"name": "Jan", "parent_id": cls.customer.id})

    def test_each_link_keeps_its_own_state(self):
        self.first._store_partner_link(self.contact, {"remote_id": "A1", "state": "linked"})
        self.second._store_partner_link(self.customer, {"state": "error", "error": "refused"})
        # The contact's commercial partner carries the link, once per link.
        self.assertEqual(self.first._partner_remote_id(self.contact), "A1")
        self.assertEqual(self.first._partner_remote_id(self.customer), "A1")
        self.assertFalse(self.second._partner_remote_id(self.customer))
        self.assertEqual(self.customer.bookkeeping_link_ids.mapped("state"), ["linked", "error"])
        self.assertEqual(self.customer.bookkeeping_sync_state, "error")
        self.assertIn(
            self.customer,
            self.env["res.partner"].search([("bookkeeping_sync_state", "=", "error")]),
        )
        self.second._store_partner_link(self.customer, {"remote_id": "B7", "state": "linked"})
        self.customer.invalidate_recordset(["bookkeeping_sync_state"])
        self.assertEqual(self.customer.bookkeeping_sync_state, "linked")
        self.assertEqual(len(self.customer.bookkeeping_link_ids), 2)

    def test_a_remote_customer_is_linked_to_one_contact(self):
        other = self.env["res.partner"].create({"name": "Ander BV", "is_company": True})
        self.first._store_partner_link(self.customer, {"remote_id": "A1", "state": "linked"})
        self.assertEqual(self.first._partners_linked_to("A1"), self.customer)
        with self.assertRaises(psycopg2.IntegrityError), mute_logger("odoo.sql_db"):
            with self.env.cr.savepoint():
                self.first._store_partner_link(other, {"remote_id": "A1", "state": "linked"})
                self.env.flush_all()
        # The same remote id in another link is another customer record: allowed.
        self.second._store_partner_link(other, {"remote_id": "A1", "state": "linked"})
        self.assertEqual(self.second._partners_linked_to("A1"), other)

    def test_the_push_run_cache_answers_without_a_query_per_invoice(self):
        self.first._store_partner_link(self.customer, {"remote_id": "A1", "state": "linked"})
        cached = self.first.with_context(bookkeeping_partner_cache={})
        cached._cache_partner_links(self.contact | self.env.company.partner_id)
        with self.assertQueryCount(0):
            self.assertEqual(cached._partner_remote_id(self.contact), "A1")
            self.assertFalse(cached._partner_remote_id(self.env.company.partner_id))

    def test_migration_from_company_dependent_fields(self):
        """19.0.1.0.0 kept the ids in company-dependent JSONB columns per service."""
        spec = importlib.util.spec_from_file_location("abl_post_migrate", MIGRATION)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        backend = (self.first | self.second).filtered(lambda b: b.service in migration.OLD_COLUMNS)[
            :1
        ]
        id_column, code_column = migration.OLD_COLUMNS[backend.service]
        company = str(backend.company_id.id)
        cr = self.env.cr
        for column in (id_column, code_column):
            cr.execute(f"ALTER TABLE res_partner ADD COLUMN IF NOT EXISTS {column} jsonb")
        cr.execute(
            f"UPDATE res_partner SET {id_column} = %s, {code_column} = %s WHERE id = %s",
            (
                json.dumps({company: "GUID-1", "999999": "other company"}),
                json.dumps({company: "42"}),
                self.customer.id,
            ),
        )
        migration.migrate(cr, "19.0.1.0.0")
        self.env["bookkeeping.partner.link"].invalidate_model()
        link = backend._partner_link(self.customer)
        self.assertEqual((link.remote_id, link.remote_code, link.state), ("GUID-1", "42", "linked"))
        # Run twice (an interrupted upgrade): nothing doubles.
        migration.migrate(cr, "19.0.1.0.0")
        self.assertEqual(
            len(
                self.env["bookkeeping.partner.link"].search([("partner_id", "=", self.customer.id)])
            ),
            1,
        )
