"""Invoices to Exact Online, against the real simulator over HTTP."""

import uuid

from odoo import SUPERUSER_ID, Command, api
from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.sandbox.exact.seed import seed_guid

from .common_exact import DIVISION, INVOICE_DATE, ExactCommon


@tagged("post_install", "-at_install")
class TestExactInvoices(ExactCommon):
    # ------------------------------------------------------------------ odoo numbers

    def test_odoo_mode_invoice_with_pdf(self):
        move = self.invoice([(100.0, 2.0), (50.0, 1.0)], post=False)
        move.invoice_line_ids[1].tax_ids = [Command.set(self.tax_9.ids)]
        move.action_post()
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        entries = self.remote_rows("salesentry/SalesEntries", YourRef=move.name)
        self.assertEqual(len(entries), 1)
        entry = entries[0]
        self.assertEqual(move.bookkeeping_remote_id, entry["EntryID"])
        self.assertEqual(move.bookkeeping_remote_number, str(entry["EntryNumber"]))
        self.assertAlmostEqual(entry["AmountFC"], move.amount_total, places=2)
        self.assertAlmostEqual(entry["VATAmountFC"], move.amount_tax, places=2)
        self.assertEqual(entry["Journal"], "70")
        lines = self.remote_rows("salesentry/SalesEntryLines", EntryID=entry["EntryID"])
        self.assertEqual(sorted(line["VATCode"].strip() for line in lines), ["1", "2"])
        self.assertEqual(sorted(line["AmountFC"] for line in lines), [50.0, 200.0])
        # The customer was created once, with its address and VAT number.
        accounts = self.remote_rows("crm/Accounts", VATNumber=self.partner_a.vat)
        self.assertEqual(len(accounts), 1)
        self.assertEqual(self.backend._partner_remote_id(self.partner_a), accounts[0]["ID"])
        # PDF: a sales invoice document with the file, linked to the entry.
        self.assertTrue(entry["Document"])
        docs = self.remote_rows("documents/Documents", ID=entry["Document"])
        self.assertEqual(docs[0]["Type"], 10)
        self.assertTrue(
            self.remote_rows("documents/DocumentAttachments", Document=entry["Document"])
        )
        self.assertIn(move.bookkeeping_remote_id, move.bookkeeping_remote_url)

    def test_credit_note_negative(self):
        move = self.invoice([(80.0, 1.0)], move_type="out_refund")
        self.backend.attach_pdf = False
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        entry = self.remote_rows("salesentry/SalesEntries", YourRef=move.name)[0]
        self.assertAlmostEqual(entry["AmountFC"], -96.8, places=2)
        self.assertEqual(entry["Type"], 21)
        self.assertAlmostEqual(move.bookkeeping_remote_amount, 96.8, places=2)

    def test_foreign_currency_with_rate(self):
        usd = self.setup_other_currency("USD", rates=[("2025-01-01", 1.25)])
        move = self.invoice([(100.0, 1.0)], currency=usd)
        self.backend.attach_pdf = False
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        entry = self.remote_rows("salesentry/SalesEntries", YourRef=move.name)[0]
        self.assertEqual(entry["Currency"], "USD")
        self.assertAlmostEqual(entry["Rate"], 0.8, places=6)
        self.assertAlmostEqual(entry["AmountFC"], 121.0, places=2)
        self.assertAlmostEqual(entry["AmountDC"], 96.8, places=2)

    def test_totals_equal_to_the_cent(self):
        """Per-line VAT (what Exact computes) drifts from Odoo's global rounding:
        3 x 0.50 at 21% is 3 x 0.105; Odoo rounds the sum (0.32), per line it is 0.33."""
        self.company_data["company"].tax_calculation_rounding_method = "round_globally"
        move = self.invoice([(0.5, 1.0), (0.5, 1.0), (0.5, 1.0), (0.1, 1.0)])
        self.backend.attach_pdf = False
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        entry = self.remote_rows("salesentry/SalesEntries", YourRef=move.name)[0]
        self.assertEqual(round(entry["AmountFC"], 2), round(move.amount_total, 2))
        self.assertEqual(round(entry["VATAmountFC"], 2), round(move.amount_tax, 2))
        lines = self.remote_rows("salesentry/SalesEntryLines", EntryID=entry["EntryID"])
        self.assertEqual(
            round(sum(line["VATAmountFC"] for line in lines), 2), round(move.amount_tax, 2)
        )

    def test_note_lines_odoo_mode(self):
        move = self.invoice(
            [(10.0, 1.0)],
            extra_lines=[
                {"display_type": "line_section", "name": "Werkzaamheden juni", "sequence": 1},
                {"display_type": "line_note", "name": "Zie bijlage", "sequence": 99},
            ],
        )
        self.backend.attach_pdf = False
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        entry = self.remote_rows("salesentry/SalesEntries", YourRef=move.name)[0]
        lines = self.remote_rows("salesentry/SalesEntryLines", EntryID=entry["EntryID"])
        self.assertEqual(len(lines), 1, "no zero-amount line is sent")
        self.assertIn("Zie bijlage", lines[0]["Notes"])

    # ------------------------------------------------------------------ remote numbers

    def test_remote_mode_draft_then_number_sync(self):
        self.backend.invoice_mode = "remote"
        move = self.invoice(
            [(95.0, 2.0)],
            extra_lines=[{"display_type": "line_note", "name": "Periode juni", "sequence": 99}],
        )
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "sent_draft", move.bookkeeping_error)
        invoice = self.remote_rows("salesinvoice/SalesInvoices", YourRef=move.name)[0]
        self.assertEqual(move.bookkeeping_remote_id, invoice["InvoiceID"])
        self.assertEqual(move.bookkeeping_remote_ref, str(invoice["OrderNumber"]))
        self.assertFalse(move.bookkeeping_remote_number)
        self.assertAlmostEqual(invoice["AmountFC"], move.amount_total, places=2)
        lines = self.remote_rows("salesinvoice/SalesInvoiceLines", InvoiceID=invoice["InvoiceID"])
        self.assertEqual(len(lines), 2, "the note goes as a text line")
        self.assertIn("Periode juni", [line["Description"] for line in lines])
        # The user processes it in Exact; the number comes back with the sync.
        printed = self.control("POST", f"/exact/salesinvoices/{invoice['InvoiceID']}/print")
        self.backend._sync_remote_state()
        self.assertEqual(move.bookkeeping_state, "done")
        self.assertEqual(move.bookkeeping_remote_number, str(printed["InvoiceNumber"]))
        self.assertEqual(move.bookkeeping_remote_status, "booked")

    def test_remote_mode_print_at_once_credit_note(self):
        self.backend.write({"invoice_mode": "remote", "exact_print_invoices": True})
        move = self.invoice([(25.0, 2.0)], move_type="out_refund")
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        invoice = self.remote_rows("salesinvoice/SalesInvoices", YourRef=move.name)[0]
        self.assertEqual(invoice["Status"], 50)
        self.assertEqual(move.bookkeeping_remote_number, str(invoice["InvoiceNumber"]))
        self.assertAlmostEqual(invoice["AmountFC"], -60.5, places=2)

    # ------------------------------------------------------------------ bad input

    def test_bad_input_stops_that_invoice_only_without_calls(self):
        self.backend.attach_pdf = False
        self.backend.tax_mapping_ids.filtered(lambda m: m.tax_id == self.tax_unmapped).unlink()
        good = self.invoice([(10.0, 1.0)])
        no_vat_code = self.invoice([(10.0, 1.0)], tax=self.tax_unmapped)
        no_gl = self.invoice([(10.0, 1.0)], account=self.revenue_unmapped)
        zero = self.invoice([(10.0, 1.0), (0.0, 1.0)])
        self.send(good)
        self.assertEqual(good.bookkeeping_state, "done", good.bookkeeping_error)
        self.clear_stats()
        bad = no_vat_code | no_gl | zero
        self.send(bad)
        self.assertEqual(self.calls(), 0, "bad input never makes a call")
        self.assertEqual(set(bad.mapped("bookkeeping_state")), {"error"})
        self.assertFalse(any(bad.mapped("bookkeeping_error_retryable")))
        self.assertIn(self.tax_unmapped.name, no_vat_code.bookkeeping_error)
        self.assertIn("GL account", no_gl.bookkeeping_error)
        self.assertIn("zero or negative", zero.bookkeeping_error)

    def test_bad_input_link_defaults(self):
        self.backend.attach_pdf = False
        move = self.invoice([(10.0, 1.0)])
        self.backend.exact_journal_id = False
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "error")
        self.assertIn("sales journal", move.bookkeeping_error)
        self.backend.write(
            {
                "exact_journal_id": self.option("journal", "70").id,
                "invoice_mode": "remote",
                "exact_item_id": False,
            }
        )
        move2 = self.invoice([(10.0, 1.0)])
        self.send(move2)
        self.assertIn("no Exact item", move2.bookkeeping_error)
        self.assertEqual(self.calls(), 0)

    def test_bad_input_partner_and_currency(self):
        self.backend.write({"attach_pdf": False, "auto_create_partner": False})
        move = self.invoice([(10.0, 1.0)])
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "error")
        self.assertIn("not linked", move.bookkeeping_error)
        # The division's currency list (loaded from general/Currencies) has no CHF.
        chf = self.setup_other_currency("CHF", rates=[("2025-01-01", 0.95)])
        self.backend.auto_create_partner = True
        move2 = self.invoice([(10.0, 1.0)], currency=chf)
        self.send(move2)
        self.assertIn("currency CHF is not known", move2.bookkeeping_error)
        self.assertEqual(self.calls(), 0)

    def test_exact_error_text_shown_in_dutch(self):
        """A payment condition removed in Exact after the lists were loaded: nothing here
        can know it, Exact refuses with a 500 that is a validation error, and its own
        (Dutch) words end up on the invoice, not retried."""
        self.backend.attach_pdf = False
        stale = self.env["bookkeeping.remote.option"].create(
            {
                "backend_id": self.backend.id,
                "kind": "payment_condition",
                "code": "99",
                "name": "Vervallen conditie",
            }
        )
        term = self.env.ref("account.account_payment_term_30days")
        # Loading the lists suggested Exact's own 30-day condition: replace it.
        self.backend.payment_term_mapping_ids.filtered(lambda m: m.payment_term_id == term).unlink()
        self.env["bookkeeping.mapping"].create(
            {
                "backend_id": self.backend.id,
                "mapping_type": "payment_term",
                "payment_term_id": term.id,
                "option_id": stale.id,
            }
        )
        move = self.invoice([(10.0, 1.0)], post=False)
        move.invoice_payment_term_id = term
        move.action_post()
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "error")
        self.assertIn("Ongeldige referentie: Betalingsconditie", move.bookkeeping_error)
        self.assertFalse(move.bookkeeping_error_retryable)
        log = self.env["bookkeeping.log"].search(
            [("res_id", "=", move.id), ("res_model", "=", "account.move")]
        )
        logged = " ".join(filter(None, log.mapped("message") + log.mapped("response_excerpt")))
        self.assertIn("Ongeldige referentie", logged)

    # ------------------------------------------------------------------ no duplicates

    # ------------------------------------------------------------------ limits and link

    def test_429_waits_without_storm(self):
        self.backend.attach_pdf = False
        self.control("POST", "/exact/config", {"minute_window": 2})
        move = self.invoice([(10.0, 1.0)])
        self.faults(throttle_next=1)
        self.send(move)
        self.assertEqual(move.bookkeeping_state, "done", move.bookkeeping_error)
        self.assertEqual(self.stats()["throttled"], 1)

    def test_daily_budget_pauses_with_reason(self):
        self.backend.attach_pdf = False
        self.control("POST", "/exact/config", {"rate_limit_enabled": True, "daily_limit": 53})
        moves = (
            self.invoice([(10.0, 1.0)]) | self.invoice([(20.0, 1.0)]) | self.invoice([(30.0, 1.0)])
        )
        self.send(moves)
        self.assertTrue(self.backend.paused_until)
        self.assertIn("daily budget", self.backend.pause_reason)
        self.assertIn("to_send", moves.mapped("bookkeeping_state"))
        self.assertEqual(self.stats()["throttled"], 0, "stopped before Exact refused")
        # Paused: nothing more is attempted.
        self.clear_stats()
        self.send(moves.filtered(lambda m: m.bookkeeping_state == "to_send"))
        self.assertEqual(self.calls(), 0)

    # ------------------------------------------------------------------ sync back

    def test_number_and_payment_sync_in_bulk(self):
        self.backend.write({"invoice_mode": "remote", "attach_pdf": False})
        count = 85
        moves = self.env["account.move"]
        for n in range(count):
            moves |= self.invoice([(10.0 + n, 1.0)], post=False)
        moves.action_post()
        self.send(moves)
        self.assertEqual(set(moves.mapped("bookkeeping_state")), {"sent_draft"})
        for move in moves[:60]:
            self.control("POST", f"/exact/salesinvoices/{move.bookkeeping_remote_id}/print")
        self.control("POST", f"/exact/receivables/{moves[0].bookkeeping_remote_id}/pay")
        self.control(
            "POST", f"/exact/receivables/{moves[1].bookkeeping_remote_id}/pay", {"amount": 5.0}
        )
        self.clear_stats()
        self.backend._sync_remote_state()
        stats = self.stats()
        # Two bulk calls for 85 numbers (~80 GUIDs fit in a URL), one for the 60
        # receivables, one for the open amount of the partly paid one.
        self.assertLessEqual(stats["total"], 4, stats["requests"])
        self.assertEqual(set(moves[:60].mapped("bookkeeping_state")), {"done"})
        self.assertEqual(set(moves[60:].mapped("bookkeeping_state")), {"sent_draft"})
        self.assertTrue(all(moves[:60].mapped("bookkeeping_remote_number")))
        self.assertEqual(moves[0].bookkeeping_remote_payment_state, "paid")
        self.assertEqual(moves[1].bookkeeping_remote_payment_state, "partial")
        self.assertAlmostEqual(
            moves[1].bookkeeping_remote_residual, moves[1].amount_total - 5.0, places=2
        )
        self.assertEqual(moves[2].bookkeeping_remote_payment_state, "open")

    def test_bulk_sync_of_1000_invoices_fits_in_30_calls(self):
        """The filters stay under Exact's URL limit and need few calls for 1000 keys."""
        client = self.backend._client()
        guids = [str(uuid.uuid4()) for _n in range(1000)]
        groups = self.backend._exact_filter_groups(
            client, "bulk/SalesInvoice/SalesInvoices", "InvoiceID", guids, "InvoiceID"
        )
        receivables = self.backend._exact_filter_groups(
            client,
            "bulk/Cashflow/Receivables",
            "TransactionEntryID",
            guids,
            "ID,TransactionEntryID,IsFullyPaid,AmountFC,LastPaymentDate",
        )
        self.assertLessEqual(len(groups) + len(receivables), 30)
        # The longest filter is accepted by the simulator's 6000-character check.
        longest = max(groups, key=len)
        rows = list(
            client._collection(
                "bulk/SalesInvoice/SalesInvoices", select="InvoiceID", filter=longest
            )
        )
        self.assertEqual(rows, [])

    def test_payment_sync_odoo_mode(self):
        self.backend.attach_pdf = False
        moves = self.invoice([(10.0, 1.0)]) | self.invoice([(20.0, 1.0)])
        self.send(moves)
        self.control("POST", f"/exact/receivables/{moves[0].bookkeeping_remote_id}/pay")
        self.clear_stats()
        self.backend._sync_remote_state()
        self.assertEqual(self.calls(), 1)
        self.assertEqual(moves.mapped("bookkeeping_remote_payment_state"), ["paid", "open"])

    # ------------------------------------------------------------------ concurrency

    def test_two_workers_never_push_the_same_invoice(self):
        """Two workers, each with its own database cursor, pick the same invoice at the
        same moment: the row lock lets one send it; the other skips it."""
        registry = self.registry
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            ids = self._committed_invoice(env)
        self.addCleanup(self._drop_committed, ids)
        self.faults(latency_ms=300)  # the first worker still holds the lock meanwhile

        def push(env, barrier):
            move = env["account.move"].browse(ids["move"])
            move.bookkeeping_state  # noqa: B018 - start the snapshot before racing
            barrier.wait(10)
            return env["bookkeeping.backend"]._push_moves(move)

        # Real cursors, not the test transaction: the production path that commits after
        # marking 'sending' and after storing the result.
        handled, errors = self.run_two_workers(
            push, type(self.env["bookkeeping.backend"]), "_can_commit"
        )
        # The loser of the race skips the invoice quietly: no error, no duplicate.
        self.assertFalse(errors, errors)
        self.assertEqual(list(handled.values()).count(1), 1, handled)
        state = self.control("GET", "/state/exact")
        entries = [
            r
            for r in state.get(f"{DIVISION}/salesentry/SalesEntries", [])
            if r["YourRef"] == ids["name"]
        ]
        self.assertEqual(len(entries), 1)
        with registry.cursor() as cr:
            cr.execute(
                "SELECT bookkeeping_state, bookkeeping_remote_id FROM account_move WHERE id = %s",
                [ids["move"]],
            )
            self.assertEqual(cr.fetchone(), ("done", entries[0]["EntryID"]))

    def _committed_invoice(self, env):
        """A linked backend and a posted invoice in the main company, committed."""
        company = env.ref("base.main_company")
        env = env(context={"allowed_company_ids": [company.id]})
        backend = env["bookkeeping.backend"].create(
            {
                "name": "Exact concurrency (test, removed afterwards)",
                "service": "exact",
                "company_id": company.id,
                "client_id": "sandbox-client",
                "client_secret": "sandbox-secret",
                "exact_base_url": f"{self.url}/exact",
                "administration_code": str(DIVISION),
                "exact_division_currency": company.currency_id.name,
                "state": "linked",
                "attach_pdf": False,
                "push_on_post": False,
            }
        )
        answer = self.control(
            "POST",
            "/exact/consent",
            {"client_id": "sandbox-client", "redirect_uri": backend.redirect_uri, "state": "x"},
        )
        backend._save_tokens_here(
            backend._service_exchange_code(answer["code"], backend.redirect_uri)
        )
        Option = env["bookkeeping.remote.option"]
        backend.exact_journal_id = Option.create(
            {"backend_id": backend.id, "kind": "journal", "code": "70", "remote_type": "20"}
        )
        vat = Option.create(
            {"backend_id": backend.id, "kind": "vat_code", "code": "2", "percentage": 21.0}
        )
        gl = Option.create(
            {
                "backend_id": backend.id,
                "kind": "gl_account",
                "code": "8000",
                "extra": {"ID": seed_guid(DIVISION, "GLAccounts", "8000")},
            }
        )
        tax = env["account.tax"].create(
            {
                "name": "BTW 21% (concurrency test)",
                "amount": 21,
                "type_tax_use": "sale",
                "company_id": company.id,
            }
        )
        revenue = env["account.account"].search(
            [("company_ids", "in", company.id), ("account_type", "=", "income")], limit=1
        )
        env["bookkeeping.mapping"].create(
            [
                {
                    "backend_id": backend.id,
                    "mapping_type": "tax",
                    "tax_id": tax.id,
                    "option_id": vat.id,
                },
                {
                    "backend_id": backend.id,
                    "mapping_type": "account",
                    "account_id": revenue.id,
                    "option_id": gl.id,
                },
            ]
        )
        partner = env["res.partner"].create(
            {
                "name": "Concurrency BV",
                "country_id": env.ref("base.nl").id,
                "email": "race@example.nl",
            }
        )
        move = env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": partner.id,
                "invoice_date": INVOICE_DATE,
                "date": INVOICE_DATE,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Race",
                            "price_unit": 10.0,
                            "tax_ids": [Command.set(tax.ids)],
                            "account_id": revenue.id,
                        }
                    )
                ],
            }
        )
        move.action_post()
        move.write({"bookkeeping_backend_id": backend.id, "bookkeeping_state": "to_send"})
        return {
            "backend": backend.id,
            "move": move.id,
            "name": move.name,
            "partner": partner.id,
            "tax": tax.id,
        }

    def _drop_committed(self, ids):
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM account_move WHERE id = %s", [ids["move"]])
            cr.execute("DELETE FROM bookkeeping_backend WHERE id = %s", [ids["backend"]])
            cr.execute("DELETE FROM account_tax WHERE id = %s", [ids["tax"]])
            cr.execute("DELETE FROM res_partner WHERE id = %s", [ids["partner"]])
