"""The setup assistant, step by step, against the sandbox: the consent page and our real
callback ("Connected to <administration>"), the lists loaded with the suggested mappings
(0% by scope, income accounts to the default), the connection tested, every invoice of the
company ready to send. And the Settings block that leads there."""

import ast
from urllib.parse import parse_qs, urlsplit

import requests
from lxml import etree

from odoo import Command
from odoo.tests import HttpCase, tagged

from odoo.addons.account.tests.common import AccountTestInvoicingCommon
from odoo.addons.account_bookkeeping_link.sandbox.core.server import start_in_thread
from odoo.addons.account_bookkeeping_link.tests.common import forget_budgets


class SetupCommon(AccountTestInvoicingCommon, HttpCase):
    country_code = "NL"
    chart_template = "generic_coa"

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        if isinstance(kw.get("timeout"), tuple):
            kw["timeout"] = max(10, *(t for t in kw["timeout"] if t))
        return super()._request_handler(s, r, **kw)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = start_in_thread()
        cls.addClassCleanup(cls.sandbox.stop)
        forget_budgets(cls.env)
        cls.env.user.group_ids |= cls.env.ref("account_bookkeeping_link.group_bookkeeping_manager")
        company = cls.company_data["company"]
        company.country_id = cls.env.ref("base.nl")
        # The manager who goes through the consent page and our callback in the browser.
        cls.env.ref("base.user_admin").write(
            {
                "company_ids": [Command.link(company.id)],
                "group_ids": [
                    Command.link(
                        cls.env.ref("account_bookkeeping_link.group_bookkeeping_manager").id
                    )
                ],
            }
        )
        cls.partner_a.write(
            {"country_id": cls.env.ref("base.nl").id, "vat": False, "email": "a@example.nl"}
        )
        Tax = cls.env["account.tax"]
        sale = {"type_tax_use": "sale", "company_id": company.id}
        cls.tax_21 = Tax.create({"name": "BTW 21% (setup)", "amount": 21, **sale})
        cls.tax_9 = Tax.create({"name": "BTW 9% (setup)", "amount": 9, **sale})
        cls.tax_0_eu = Tax.create({"name": "0% EU (setup)", "amount": 0, **sale})
        cls.tax_0_export = Tax.create({"name": "0% export outside the EU", "amount": 0, **sale})
        # Odoo's Dutch VAT return says it: box 3b is an intra-community supply.
        tag = cls.env["account.account.tag"].create(
            {
                "name": "3b (omzet) setup",
                "applicability": "taxes",
                "country_id": cls.env.ref("base.nl").id,
            }
        )
        cls.tax_0_tagged = Tax.create({"name": "Nul (setup)", "amount": 0, **sale})
        cls.tax_0_tagged.invoice_repartition_line_ids.filtered(
            lambda line: line.repartition_type == "base"
        ).tag_ids = tag
        cls.tax_0_plain = Tax.create({"name": "Nothing said (setup)", "amount": 0, **sale})

    def setUp(self):
        super().setUp()
        requests.post(f"{self.sandbox.url}/_sandbox/reset", json={}, timeout=10)
        forget_budgets(self.env)

    def start(self, service, **vals):
        """What the Settings button opens, saved as the form saves it."""
        action = (
            self.env["res.config.settings"]
            .create({})
            .with_context(bookkeeping_service=service)
            .action_bookkeeping_link()
        )
        self.assertEqual(action["context"]["default_service"], service)
        self.assertEqual(action["context"]["default_setup_step"], "credentials")
        Backend = self.env["bookkeeping.backend"].with_context(**action["context"])
        backend = Backend.create(
            {
                "name": f"{service} (setup)",
                "client_id": "sandbox-client",
                "client_secret": "sandbox-secret",
                **vals,
            }
        )
        self.assertEqual(backend.setup_step, "credentials")
        return backend

    def connect(self, backend, form):
        """Connect in the assistant, the consent page posted like a browser, and our
        callback: it brings the manager back to the assistant."""
        requests.post(
            f"{self.sandbox.url}/_sandbox/{backend.service}/clients",
            json={"redirect_uri": backend.redirect_uri},
            timeout=10,
        )
        action = backend.action_setup_connect()
        hidden = {k: v[0] for k, v in parse_qs(urlsplit(action["url"]).query).items()}
        answer = requests.post(
            action["url"], data=dict(hidden, **form), allow_redirects=False, timeout=10
        )
        self.assertEqual(answer.status_code, 302, answer.text[:300])
        self.authenticate("admin", "admin")
        response = self.url_open(answer.headers["Location"], allow_redirects=False)
        self.assertIn(response.status_code, (302, 303), response.text[:300])
        self.assertIn(backend._setup_url(), response.headers["Location"])
        backend.invalidate_recordset()
        self.assertEqual(backend.state, "linked")
        self.assertEqual(backend.setup_step, "administration")

    def mapping(self, backend, tax):
        return backend.tax_mapping_ids.filtered(lambda m: m.tax_id == tax)

    def invoices(self, taxes):
        moves = self.env["account.move"]
        for tax in taxes:
            moves |= self.env["account.move"].create(
                {
                    "move_type": "out_invoice",
                    "partner_id": self.partner_a.id,
                    "invoice_date": "2025-06-02",
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "name": "Advies",
                                "price_unit": 100.0,
                                "quantity": 1,
                                "tax_ids": [Command.set(tax.ids)],
                            }
                        )
                    ],
                }
            )
        return moves


@tagged("post_install", "-at_install")
class TestSetupAssistantExact(SetupCommon):
    def test_from_nothing_to_a_working_exact_link(self):
        moves = self.invoices(self.tax_21 | self.tax_9)
        backend = self.start(
            "exact",
            exact_location="sandbox",
            exact_base_url=f"{self.sandbox.url}/exact",
            push_on_post=False,
        )
        self.connect(backend, {"action": "allow", "division": ["1001"]})
        self.assertEqual(backend.administration_code, "1001")
        self.assertIn("Connected to Exact Online administration 1001", backend.last_action_message)
        self.assertTrue(any("Connected to" in m.body for m in backend.message_ids))

        result = backend.action_setup_load()
        message = result["params"]["message"]
        self.assertEqual(result["params"]["type"], "success", message)
        self.assertRegex(message, r"\d+ VAT codes, \d+ journals")
        self.assertEqual(backend.setup_step, "mappings")
        # Rates fit one code each; 0% by its scope: the name, or the VAT return's box.
        codes = {
            tax: self.mapping(backend, tax).option_id.code
            for tax in (
                self.tax_21,
                self.tax_9,
                self.tax_0_eu,
                self.tax_0_export,
                self.tax_0_tagged,
            )
        }
        self.assertEqual(
            codes,
            {
                self.tax_21: "2",
                self.tax_9: "1",
                self.tax_0_eu: "4",
                self.tax_0_export: "5",
                self.tax_0_tagged: "4",
            },
        )
        # Odoo says nothing of where this 0% applies: the manager chooses, and is told.
        plain = self.mapping(backend, self.tax_0_plain)
        self.assertFalse(plain.option_id)
        self.assertTrue(plain.needs_choice)
        self.assertIn(self.tax_0_plain.display_name, message)
        # Income accounts: all mapped to the default income account chosen for them.
        self.assertEqual(backend.default_income_option_id.code, "8000")
        self.assertTrue(backend.default_income_option_id.is_income)
        revenue = self.company_data["default_account_revenue"]
        self.assertEqual(
            backend.account_mapping_ids.filtered(lambda m: m.account_id == revenue).option_id,
            backend.default_income_option_id,
        )
        self.assertEqual(backend.exact_journal_id.code, "70")

        result = backend.action_setup_test()
        self.assertEqual(result["params"]["type"], "success", result["params"]["message"])
        self.assertEqual(backend.setup_step, "test")
        self.assertIn("1001", backend.last_action_message)
        self.assertTrue(backend.setup_ready, backend.setup_missing)
        # Every invoice of the company can go: nothing left to fix before a call.
        moves.action_post()
        for move in moves:
            move.bookkeeping_backend_id = backend
            self.assertEqual(backend._check_move(move), [], move.name)
        action = backend.action_setup_finish()
        self.assertEqual(action["res_id"], backend.id)
        self.assertEqual(backend.setup_step, "done")

    def test_a_choice_of_the_default_income_account_follows_into_the_lines(self):
        backend = self.start(
            "exact", exact_location="sandbox", exact_base_url=f"{self.sandbox.url}/exact"
        )
        self.connect(backend, {"action": "allow", "division": ["1001"]})
        backend.action_setup_load()
        other = backend.option_ids.filtered(lambda o: o.kind == "gl_account" and o.code == "8010")
        refined = backend.account_mapping_ids[:1]
        refined.option_id = backend.option_ids.filtered(
            lambda o: o.kind == "gl_account" and o.code == "8100"
        )
        backend.default_income_option_id = other
        self.assertEqual(
            set((backend.account_mapping_ids - refined).option_id.mapped("code")), {"8010"}
        )
        self.assertEqual(refined.option_id.code, "8100", "a refined line keeps its choice")

    def test_the_remote_lists_read_in_words(self):
        backend = self.start(
            "exact", exact_location="sandbox", exact_base_url=f"{self.sandbox.url}/exact"
        )
        self.connect(backend, {"action": "allow", "division": ["1001"]})
        backend.action_setup_load()
        journal = backend.option_ids.filtered(lambda o: o.kind == "journal" and o.code == "70")
        self.assertEqual(journal.type_label, "Sales journal")
        code = backend.option_ids.filtered(lambda o: o.kind == "vat_code" and o.code == "0")
        self.assertEqual((code.type_label, code.vat_scope), ("Excluding VAT", "domestic"))
        account = backend.option_ids.filtered(lambda o: o.kind == "gl_account" and o.code == "1300")
        self.assertEqual(account.type_label, "Accounts receivable")
        self.assertFalse(account.is_income)
        # The drop-down of a 21% tax offers the 21% codes only.
        mapping = self.mapping(backend, self.tax_21)
        self.assertIn("('percentage', '=', tax_rate)", mapping._fields["option_id"].domain)
        self.assertEqual(mapping.tax_rate, 21.0)


@tagged("post_install", "-at_install")
class TestSetupAssistantAsperion(SetupCommon):
    def test_from_nothing_to_a_working_asperion_link(self):
        moves = self.invoices(self.tax_21 | self.tax_9 | self.tax_0_eu)
        backend = self.start(
            "asperion",
            asperion_environment="sandbox",
            push_on_post=False,
            asperion_identity_url=f"{self.sandbox.url}/asperion/identity",
            asperion_api_url=f"{self.sandbox.url}/asperion/api",
        )
        self.connect(
            backend, {"username": "demo@sandbox.test", "password": "sandbox", "consent": "yes"}
        )
        # Two administrations: the manager chooses one.
        with self.assertRaisesRegex(Exception, "Choose the administration"):
            backend.action_setup_load()
        backend.asperion_administration_option_id = backend.option_ids.filtered(
            lambda o: o.kind == "administration" and o.code == "101"
        )
        result = backend.action_setup_load()
        self.assertEqual(result["params"]["type"], "success", result["params"]["message"])
        self.assertIn("sales types", result["params"]["message"])
        codes = {
            tax: self.mapping(backend, tax).option_id.code
            for tax in (
                self.tax_21,
                self.tax_9,
                self.tax_0_eu,
                self.tax_0_export,
                self.tax_0_tagged,
            )
        }
        self.assertEqual(
            codes,
            {
                self.tax_21: "VH",
                self.tax_9: "VL",
                self.tax_0_eu: "VEU",
                self.tax_0_export: "VEX",
                self.tax_0_tagged: "VEU",
            },
        )
        self.assertTrue(self.mapping(backend, self.tax_0_plain).needs_choice)
        self.assertTrue(backend.default_income_option_id.is_income)
        # Payment terms follow the remote conditions with the same days.
        term_30 = self.env.ref("account.account_payment_term_30days")
        self.assertEqual(
            backend.payment_term_mapping_ids.filtered(
                lambda m: m.payment_term_id == term_30
            ).option_id.code,
            "2",
        )
        backend.action_setup_test()
        self.assertEqual(backend.setup_step, "test")
        self.assertIn("101", backend.last_action_message)
        self.assertTrue(backend.setup_ready, backend.setup_missing)
        moves.action_post()
        for move in moves:
            move.bookkeeping_backend_id = backend
            self.assertEqual(backend._check_move(move), [], move.name)


@tagged("post_install", "-at_install")
class TestSettingsBlock(SetupCommon):
    def test_settings_show_the_links_and_a_button_per_service(self):
        backend = self.env["bookkeeping.backend"].create(
            {"name": "Linked", "service": "exact", "company_id": self.env.company.id}
        )
        settings = self.env["res.config.settings"].create({})
        self.assertIn(backend, settings.bookkeeping_backend_ids)
        # As the Settings form shows it (a new record): the invoices in error are counted,
        # so the link is not plain green.
        move = self.invoices(self.tax_21)
        move.bookkeeping_backend_id = backend
        move.bookkeeping_state = "error"
        spec = {"bookkeeping_backend_ids": {"fields": {"state": {}, "move_count_error": {}}}}
        commands = self.env["res.config.settings"].onchange({}, [], spec)["value"][
            "bookkeeping_backend_ids"
        ]
        counts = {}
        for command in commands:  # (4, id, values) then updates (1, id, values)
            counts.update(
                {command[1]: command[2]["move_count_error"]}
                if "move_count_error" in command[2]
                else {}
            )
        self.assertEqual(counts[backend.id], 1, commands)
        arch = etree.fromstring(
            self.env["res.config.settings"].get_view(
                self.env.ref("base.res_config_settings_view_form").id
            )["arch"]
        )
        block = arch.xpath("//block[@id='bookkeeping_link']")
        self.assertTrue(block)
        # Every service that takes invoices has its button.
        services = {
            key
            for key, _label in backend._fields["service"].selection
            if "push" in backend.new({"service": key})._service_capabilities()
        }
        buttons = block[0].xpath(".//button[@name='action_bookkeeping_link']")
        self.assertEqual(
            {ast.literal_eval(b.get("context"))["bookkeeping_service"] for b in buttons}, services
        )
        searchable = " ".join(block[0].xpath(".//span/@searchableText"))
        for word in ("Exact", "Asperion", "boekhouding"):
            self.assertIn(word, searchable)
