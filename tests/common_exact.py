"""Shared set-up of the Exact Online tests: a real sandbox on loopback, a backend linked to
it through the real OAuth code flow, lists loaded and mapped. Nothing of our own is mocked:
every call is real HTTP to the simulator, faults are injected on its side."""

import threading
import time
from unittest.mock import patch

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.orm.environments import Transaction

from odoo.addons.account_bookkeeping_link.sandbox.exact.seed import seed_guid
from odoo.addons.account_bookkeeping_link.tests.common import SandboxCase, forget_budgets

DIVISION = 1001
INVOICE_DATE = fields.Date.from_string("2025-06-02")
# The sandbox checks the rate limit only when a test asks for it.
QUIET_CONFIG = {
    "rate_limit_enabled": False,
    "minute_window": 60,
    "daily_limit": 5000,
    "minutely_limit": 60,
}


class ExactCommon(SandboxCase):
    sandbox_service = "exact"
    # A Dutch company in EUR, like the sandbox divisions.
    country_code = "NL"
    chart_template = "generic_coa"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.control("POST", "/exact/config", QUIET_CONFIG)
        forget_budgets(cls.env)
        cls.env.user.group_ids |= cls.env.ref("account_bookkeeping_link.group_bookkeeping_manager")
        company = cls.company_data["company"]
        cls.nl = cls.env.ref("base.nl")
        company.country_id = cls.nl
        cls.partner_a.write(
            {
                "country_id": cls.nl.id,
                "email": "a@example.nl",
                "vat": "NL000099998B57",
                "street": "Dorpsstraat 1",
                "zip": "1234 AB",
                "city": "Utrecht",
            }
        )
        Tax = cls.env["account.tax"]
        cls.tax_21 = Tax.create(
            {
                "name": "BTW 21% (test)",
                "amount": 21,
                "type_tax_use": "sale",
                "company_id": company.id,
            }
        )
        cls.tax_9 = Tax.create(
            {"name": "BTW 9% (test)", "amount": 9, "type_tax_use": "sale", "company_id": company.id}
        )
        cls.tax_unmapped = Tax.create(
            {
                "name": "BTW 13% (unmapped)",
                "amount": 13,
                "type_tax_use": "sale",
                "company_id": company.id,
            }
        )
        cls.revenue = cls.company_data["default_account_revenue"]
        cls.revenue_unmapped = cls.revenue.copy({"code": "800999"})
        cls.backend = cls.env["bookkeeping.backend"].create(
            {
                "name": "Exact sandbox",
                "service": "exact",
                "company_id": company.id,
                "client_id": "sandbox-client",
                "client_secret": "sandbox-secret",
                "exact_location": "sandbox",
                "exact_base_url": f"{cls.url}/exact",
                "invoice_mode": "odoo",
            }
        )
        cls.link()
        cls.backend.exact_division_id = cls.option("administration", str(DIVISION))
        cls.backend.action_load_options()
        cls.map_defaults()

    def setUp(self):
        super().setUp()
        # Odoo rolls back every test, so the remote side starts afresh too (same numbers).
        self.control("POST", "/reset", {"service": "exact"})
        self.control("POST", "/exact/config", QUIET_CONFIG)
        forget_budgets(self.env)
        self.link()
        self.assertEqual(self.backend.state, "linked")
        self.clear_stats()

    # ------------------------------------------------------------------ sandbox

    def calls(self):
        return self.stats()["total"]

    def remote_rows(self, kind, **match):
        """Rows of one entity set of division 1001, as the simulator stores them."""
        state = self.control("GET", "/state/exact")
        rows = state.get(f"{DIVISION}/{kind}") or state.get(str(DIVISION), {}).get(kind) or []
        return [r for r in rows if all(r.get(k) == v for k, v in match.items())]

    # ------------------------------------------------------------------ link

    @classmethod
    def link(cls, backend=None):
        """The real OAuth code flow: signed state, the sandbox's consent, our exchange."""
        backend = backend or cls.backend
        state = backend._oauth_state()
        url = backend._service_authorization_url(state, backend.redirect_uri)
        assert url.startswith(f"{cls.url}/exact/api/oauth2/auth?"), url
        # The App Center registration holds our redirect URL (checked exactly).
        cls.control("POST", "/exact/clients", {"redirect_uri": backend.redirect_uri})
        answer = cls.control(
            "POST",
            "/exact/consent",
            {"client_id": "sandbox-client", "redirect_uri": backend.redirect_uri, "state": state},
        )
        assert backend._backend_from_oauth_state(state) == backend
        backend._finish_oauth(answer["code"])

    @classmethod
    def option(cls, kind, code):
        return (
            cls.env["bookkeeping.remote.option"]
            .with_context(active_test=False)
            .search([("backend_id", "=", cls.backend.id), ("kind", "=", kind), ("code", "=", code)])
        )

    @classmethod
    def map_defaults(cls):
        backend = cls.backend
        Mapping = cls.env["bookkeeping.mapping"]
        for tax, code in ((cls.tax_21, "2"), (cls.tax_9, "1")):
            mapping = backend.tax_mapping_ids.filtered(lambda m, t=tax: m.tax_id == t)
            if mapping:
                mapping.option_id = cls.option("vat_code", code)
            else:
                Mapping.create(
                    {
                        "backend_id": backend.id,
                        "mapping_type": "tax",
                        "tax_id": tax.id,
                        "option_id": cls.option("vat_code", code).id,
                    }
                )
        backend.tax_mapping_ids.filtered(lambda m: m.tax_id == cls.tax_unmapped).unlink()
        # Loading the lists mapped every income account to the default income account:
        # the tests choose their own, and keep one account unmapped.
        backend.account_mapping_ids.filtered(
            lambda m: m.account_id in (cls.revenue, cls.revenue_unmapped)
        ).unlink()
        Mapping.create(
            {
                "backend_id": backend.id,
                "mapping_type": "account",
                "account_id": cls.revenue.id,
                "option_id": cls.option("gl_account", "8000").id,
            }
        )
        backend.exact_journal_id = cls.option("journal", "70")
        backend.exact_item_id = cls.option("item", "CONSULT")

    # ------------------------------------------------------------------ invoices

    def invoice(
        self,
        lines=None,
        move_type="out_invoice",
        post=True,
        partner=None,
        currency=None,
        tax=None,
        account=None,
        extra_lines=(),
    ):
        """A posted invoice; ``lines`` are (price_unit, quantity) pairs."""
        lines = lines or [(100.0, 1.0)]
        line_cmds = [
            Command.create(
                {
                    "name": f"Line {n}",
                    "price_unit": price,
                    "quantity": qty,
                    "tax_ids": [Command.set((tax or self.tax_21).ids)],
                    "account_id": (account or self.revenue).id,
                }
            )
            for n, (price, qty) in enumerate(lines, 1)
        ]
        line_cmds += [Command.create(vals) for vals in extra_lines]
        move = self.env["account.move"].create(
            {
                "move_type": move_type,
                "partner_id": (partner or self.partner_a).id,
                "invoice_date": INVOICE_DATE,
                "date": INVOICE_DATE,
                "currency_id": (currency or self.company_data["currency"]).id,
                "invoice_line_ids": line_cmds,
            }
        )
        if post:
            move.action_post()
        return move

    def run_two_workers(self, work, patched_class, patched_method):
        """Run ``work(env)`` in two threads at the same moment, each on its own real
        database cursor, with ``patched_class.patched_method`` returning True (the
        production path that commits). Returns ({index: result}, [errors])."""
        registry = self.registry
        barrier = threading.Barrier(2)
        results, errors = {}, []

        def worker(index):
            try:
                with registry.cursor() as wcr:
                    # The test runner holds the registry lock: give the cursor its
                    # transaction directly instead of looking the registry up.
                    wcr.transaction = Transaction(registry)
                    env = api.Environment(wcr, SUPERUSER_ID, {})
                    results[index] = work(env, barrier)
            except Exception as error:  # noqa: BLE001 - reported by the caller's assertion
                errors.append(error)

        with patch.object(patched_class, patched_method, lambda self: True):
            threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        return results, errors

    def send(self, moves):
        # A short in-run back-off: a retried 5xx costs the test milliseconds, not seconds.
        self.backend.with_context(bookkeeping_retry_backoff=0.01)._push_moves(moves)
        return moves

    def wait_for_next_window(self):
        """Rate-limit windows follow the real clock; never sleep more than a few seconds."""
        time.sleep(0.1)

    def entry_guid(self, kind, code):
        return seed_guid(DIVISION, kind, code)
