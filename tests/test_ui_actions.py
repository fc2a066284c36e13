"""Every server action and button of the module, run the way the web client runs it
(issue 7, point 17): the result must be an action the web client can execute (a dict with a
type; ``clean_action`` as ``/web/action/run`` applies it), never True."""

from lxml import etree

from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.tests.common_exact import ExactCommon
from odoo.addons.web.controllers.utils import clean_action

MODULE = "account_bookkeeping_link"


@tagged("post_install", "-at_install")
class TestEveryActionAnswers(ExactCommon):
    def setUp(self):
        super().setUp()
        self.backend.attach_pdf = False
        self.sent = self.send(self.invoice([(10.0, 1.0)]))
        self.waiting = self.invoice([(20.0, 1.0)])

    def import_link(self):
        """A link that imports (on the same sandbox), for the import wizard's buttons."""
        return self.env["bookkeeping.backend"].create(
            {
                "name": "Import link",
                "service": "timewax",
                "company_id": self.backend.company_id.id,
                "timewax_base_url": f"{self.url}/timewax",
                "timewax_client": "sandbox",
                "timewax_username": "api-user",
                "timewax_password": "secret",
            }
        )

    def collective_entry(self):
        """A collective entry of a private person's invoice, collected but not booked."""
        self.backend.collective_booking = True
        private = self.env["res.partner"].create({"name": "Anna", "country_id": self.nl.id})
        self.invoice([(10.0, 1.0)], partner=private)
        self.backend._collect_invoices()
        return self.backend.collective_entry_ids

    def module_records(self, model):
        data = self.env["ir.model.data"].search([("module", "=", MODULE), ("model", "=", model)])
        return self.env[model].browse(data.mapped("res_id"))

    def assert_action(self, result, label):
        self.assertIsInstance(result, dict, f"{label} returned {result!r}, not an action")
        self.assertTrue(result.get("type"), f"{label}: {result}")
        # What /web/action/run does with the result; it crashed on True.
        clean_action(dict(result), self.env)
        if result.get("tag") == "display_notification":
            self.assertTrue(result["params"].get("message"), f"{label} says nothing")

    def test_every_server_action_returns_an_action(self):
        # The list actions (the crons' own server actions are run by the cron runner).
        actions = self.module_records("ir.actions.server").filtered("binding_model_id")
        self.assertGreaterEqual(len(actions), 2)
        moves = self.sent | self.waiting
        for action in actions:
            result = action.with_context(
                active_model=action.model_id.model, active_ids=moves.ids, active_id=moves[:1].id
            ).run()
            self.assert_action(result, action.name)

    def test_the_sync_list_action_says_what_came_back(self):
        action = self.env.ref(f"{MODULE}.action_bookkeeping_sync_moves")
        self.control("POST", f"/exact/receivables/{self.sent.bookkeeping_remote_id}/pay")
        result = action.with_context(active_model="account.move", active_ids=self.sent.ids).run()
        self.assert_action(result, action.name)
        self.assertIn("1 payments updated", result["params"]["message"])
        self.assertEqual(self.sent.bookkeeping_remote_payment_state, "paid")

    def test_every_object_button_of_our_views_returns_an_action(self):
        records = {
            "account.move": self.sent | self.waiting,
            "bookkeeping.backend": self.backend,
            "res.partner": self.partner_a,
            "res.config.settings": self.env["res.config.settings"].create({}),
            "bookkeeping.log": self.env["bookkeeping.log"].search(
                [("backend_id", "=", self.backend.id), ("res_id", "!=", False)], limit=1
            ),
        }
        buttons = set()
        for view in self.module_records("ir.ui.view"):
            for node in etree.fromstring(view.arch_db).iter("button"):
                if node.get("type") == "object":
                    buttons.add((view.model, node.get("name")))
        self.assertIn(("account.move", "action_bookkeeping_sync"), buttons)
        self.assertIn(("bookkeeping.backend", "action_load_options"), buttons)
        for model, method in sorted(buttons):
            if model == "bookkeeping.partner.sync.wizard" and model not in records:
                records[model] = self.env[model].create({"backend_id": self.backend.id})
            if model == "bookkeeping.collective.entry" and model not in records:
                records[model] = self.collective_entry()
            if model == "bookkeeping.timewax.import.wizard" and model not in records:
                records[model] = self.env[model].create({"backend_id": self.import_link().id})
            record = records[model]
            self.assertTrue(record, model)
            for one in record:
                result = getattr(one, method)()
                self.assert_action(result, f"{model}.{method}")
