"""Shared set-up of the Asperion tests: a real sandbox on loopback, a backend linked to it
through the real OAuth code flow, lists loaded and mapped. Nothing of our own is mocked."""

from odoo import fields

from odoo.addons.account_bookkeeping_link.tests.common import SandboxCase

INVOICE_DATE = fields.Date.from_string("2025-06-02")


class AsperionCommon(SandboxCase):
    sandbox_service = "asperion"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.group_ids |= cls.env.ref("account_bookkeeping_link.group_bookkeeping_manager")
        company = cls.company_data["company"]
        cls.nl = cls.env.ref("base.nl")
        company.country_id = cls.nl
        cls.partner_a.write({"country_id": cls.nl.id, "email": "a@example.nl", "vat": False})
        cls.tax_21 = cls.env["account.tax"].create(
            {
                "name": "BTW 21% (test)",
                "amount": 21,
                "type_tax_use": "sale",
                "company_id": company.id,
            }
        )
        cls.tax_9 = cls.env["account.tax"].create(
            {"name": "BTW 9% (test)", "amount": 9, "type_tax_use": "sale", "company_id": company.id}
        )
        cls.revenue = cls.company_data["default_account_revenue"]
        cls.backend = cls.env["bookkeeping.backend"].create(
            {
                "name": "Asperion sandbox",
                "service": "asperion",
                "company_id": company.id,
                "client_id": "sandbox-client",
                "client_secret": "sandbox-secret",
                "asperion_environment": "sandbox",
                "asperion_identity_url": f"{cls.url}/asperion/identity",
                "asperion_api_url": f"{cls.url}/asperion/api",
                "invoice_mode": "odoo",
            }
        )
        cls.link()
        cls.backend.asperion_administration_option_id = cls.option("administration", "101")
        cls.backend.action_load_options()
        cls.map_defaults()

    def setUp(self):
        super().setUp()
        self.fresh_linked_start()

    # ------------------------------------------------------------------ sandbox

    def remote_state(self):
        return self.control("GET", "/state/asperion")["administrations"]["101"]

    def calls(self, method, pattern_part):
        return sum(
            count
            for key, count in self.stats()["requests"].items()
            if key.startswith(method + " ") and pattern_part in key.lower()
        )

    # ------------------------------------------------------------------ link

    @classmethod
    def link(cls):
        """The real code flow: consent (non-interactive "Yes, Allow") then the callback's
        code exchange. The app registration holds our redirect URL (checked exactly)."""
        cls.control("POST", "/asperion/clients", {"redirect_uri": cls.backend.redirect_uri})
        consent = cls.control(
            "POST",
            "/asperion/consent",
            {
                "client_id": "sandbox-client",
                "redirect_uri": cls.backend.redirect_uri,
                "state": cls.backend._oauth_state(),
            },
        )
        cls.backend._finish_oauth(consent["code"])

    @classmethod
    def option(cls, kind, code):
        option = (
            cls.env["bookkeeping.remote.option"]
            .with_context(active_test=False)
            .search([("backend_id", "=", cls.backend.id), ("kind", "=", kind), ("code", "=", code)])
        )
        assert option, f"option {kind} {code} not loaded"
        return option

    @classmethod
    def map_defaults(cls):
        cls.backend.write(
            {
                "asperion_debtor_kind_id": cls.option("debtor_kind", "DEB").id,
                "asperion_sales_type_id": cls.option("sales_type", "1").id,
                "asperion_payment_condition_id": cls.option("payment_condition", "2").id,
            }
        )
        cls.map("tax", cls.tax_21, cls.option("vat_code", "VH"))
        cls.map("tax", cls.tax_9, cls.option("vat_code", "VL"))
        cls.map("account", cls.revenue, cls.option("gl_account", "8000"))

    @classmethod
    def map(cls, mapping_type, record, option):
        field = {"tax": "tax_id", "account": "account_id", "payment_term": "payment_term_id"}
        Mapping = cls.env["bookkeeping.mapping"]
        mapping = Mapping.search(
            [("backend_id", "=", cls.backend.id), (field[mapping_type], "=", record.id)]
        )
        if mapping:
            mapping.option_id = option
        else:
            Mapping.create(
                {
                    "backend_id": cls.backend.id,
                    "mapping_type": mapping_type,
                    field[mapping_type]: record.id,
                    "option_id": option.id,
                }
            )

    # ------------------------------------------------------------------ invoices

    def invoice(self, amounts=(100.0,), taxes=None, move_type="out_invoice", partner=None):
        move = self.init_invoice(
            move_type,
            partner=partner or self.partner_a,
            invoice_date=INVOICE_DATE,
            amounts=list(amounts),
            taxes=taxes or self.tax_21,
            post=True,
        )
        self.assertEqual(move.bookkeeping_backend_id, self.backend)
        return move

    def send(self, moves):
        # A short in-run back-off: a retried 5xx costs the test milliseconds, not seconds.
        self.backend.with_context(bookkeeping_retry_backoff=0.01)._push_moves(moves)
        return moves

    def remote_invoice(self, move):
        for invoice in self.remote_state()["salesinvoices"]:
            if str(invoice["id"]) == move.bookkeeping_remote_id:
                return invoice
        return None
