"""Shared set-up of the Visma eAccounting tests: the real simulator on loopback, a link made
through the real OAuth code flow (consent, code exchange with Basic client auth, company
check), lists loaded and mapped. Nothing of our own is mocked."""

from odoo import fields

from odoo.addons.account_bookkeeping_link.sandbox.visma import seed
from odoo.addons.account_bookkeeping_link.tests.common import SandboxCase

INVOICE_DATE = fields.Date.from_string("2026-03-02")
COMPANY = seed.COMPANY_IDS[0]


class VismaCommon(SandboxCase):
    sandbox_service = "visma"
    invoice_mode = "remote"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.group_ids |= cls.env.ref("account_bookkeeping_link.group_bookkeeping_manager")
        cls.env.user.group_ids |= cls.env.ref("base.group_multi_currency")
        company = cls.company_data["company"]
        cls.nl = cls.env.ref("base.nl")
        company.country_id = cls.nl
        # eAccounting's company books in euros (seed): so does the Odoo company.
        cls.eur = cls.env.ref("base.EUR")
        cls.eur.active = True
        company.currency_id = cls.eur
        cls.partner_a.write(
            {
                "country_id": cls.nl.id,
                "email": "a@example.nl",
                "vat": False,
                "is_company": True,
                "zip": "1011 AB",
                "city": "Amsterdam",
                "street": "Damrak 1",
            }
        )
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
        cls.product_advies = cls.env["product.product"].create(
            {
                "name": "Advies",
                "default_code": "ADVIES",
                "lst_price": 95.0,
                "taxes_id": [(6, 0, cls.tax_21.ids)],
            }
        )
        cls.product_new = cls.env["product.product"].create(
            {
                "name": "Nieuw product",
                "default_code": "NIEUW-1",
                "lst_price": 12.5,
                "taxes_id": [(6, 0, cls.tax_9.ids)],
            }
        )
        cls.backend = cls.env["bookkeeping.backend"].create(
            {
                "name": "Visma sandbox",
                "service": "visma",
                "company_id": company.id,
                "client_id": "sandbox-client",
                "client_secret": "sandbox-secret",
                "visma_environment": "sandbox",
                "visma_identity_url": f"{cls.url}/visma/identity",
                "visma_api_url": f"{cls.url}/visma/api",
                "invoice_mode": cls.invoice_mode,
            }
        )
        cls.link()
        cls.map_defaults()

    def setUp(self):
        super().setUp()
        self.fresh_linked_start()

    # ------------------------------------------------------------------ sandbox

    def remote_state(self):
        return self.control("GET", "/state/visma")["companies"][COMPANY]

    def config(self, **values):
        return self.control("POST", "/visma/config", values)

    def calls(self, method, pattern_part):
        return sum(
            count
            for key, count in self.stats()["requests"].items()
            if key.startswith(method + " ") and pattern_part in key.lower()
        )

    def api_calls(self):
        return sum(
            count for key, count in self.stats()["requests"].items() if " /api/v2/" in key.lower()
        )

    # ------------------------------------------------------------------ link

    @classmethod
    def consent(cls, company=COMPANY):
        cls.control("POST", "/visma/clients", {"redirect_uri": cls.backend.redirect_uri})
        return cls.control(
            "POST",
            "/visma/consent",
            {
                "client_id": "sandbox-client",
                "redirect_uri": cls.backend.redirect_uri,
                "state": cls.backend._oauth_state(),
                "company": company,
            },
        )["code"]

    @classmethod
    def link(cls, company=COMPANY):
        """The real code flow: consent (the user picks the company) then the callback's
        code exchange."""
        cls.backend._finish_oauth(cls.consent(company))

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
                "visma_terms_of_payment_id": cls.option(
                    "payment_condition", seed.sid("terms:30")
                ).id,
                "visma_unit_id": cls.option("unit", seed.sid("unit:st")).id,
                "visma_receivable_account_id": cls.option("gl_account", "1300").id,
                "visma_journal_id": cls.company_data["default_journal_sale"].id,
            }
        )
        cls.map("tax", cls.tax_21, cls.option("vat_code", seed.sid("vat:21")))
        cls.map("tax", cls.tax_9, cls.option("vat_code", seed.sid("vat:9")))
        cls.map("account", cls.revenue, cls.option("gl_account", "8000"))
        cls.tax_mapping(cls.tax_21).write(
            {
                "visma_coding_id": cls.option("article_coding", seed.sid("coding:21")).id,
                "visma_article_id": cls.option("item", "ADVIES").id,
            }
        )
        cls.tax_mapping(cls.tax_9).write(
            {
                "visma_coding_id": cls.option("article_coding", seed.sid("coding:9")).id,
                "visma_article_id": cls.option("item", "BROOD").id,
            }
        )

    @classmethod
    def tax_mapping(cls, tax):
        return cls.env["bookkeeping.mapping"].search(
            [("backend_id", "=", cls.backend.id), ("tax_id", "=", tax.id)]
        )

    @classmethod
    def map(cls, mapping_type, record, option):
        field = {
            "tax": "tax_id",
            "account": "account_id",
            "payment_term": "payment_term_id",
            "unit": "uom_id",
        }
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

    def invoice(
        self,
        amounts=(100.0,),
        taxes=None,
        move_type="out_invoice",
        partner=None,
        post=True,
        **kwargs,
    ):
        move = self.init_invoice(
            move_type,
            partner=partner or self.partner_a,
            invoice_date=INVOICE_DATE,
            amounts=list(amounts),
            taxes=taxes or self.tax_21,
            post=post,
            **kwargs,
        )
        if post:
            self.assertEqual(move.bookkeeping_backend_id, self.backend)
        return move

    def send(self, moves):
        # A short in-run back-off: a retried 5xx costs the test milliseconds, not seconds.
        self.backend.with_context(bookkeeping_retry_backoff=0.01)._push_moves(moves)
        return moves

    def remote(self, kind):
        return self.remote_state().get(kind, [])

    def remote_doc(self, kind, remote_id):
        for doc in self.remote(kind):
            if str(doc["Id"]).lower() == str(remote_id).lower():
                return doc
        return None
