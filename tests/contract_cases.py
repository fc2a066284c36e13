"""The product's promises, written once and run for every service.

A service's test class combines its fixture (``tests/test_contract_<service>.py``) with
``ServiceContractCases``. The fixture is small: make an invoice, read the remote documents
of an invoice and their total, finalise and pay remotely, read a remote customer, and the
sandbox's faults and call counts. Everything is real: the link went through the OAuth code
flow against the service's sandbox on loopback, and faults are injected on the sandbox side.
"""

from odoo import Command


class ServiceContractFixture:
    """What each service's contract test class provides (on top of its ``<Service>Common``)."""

    # The invoice modes the service offers.
    contract_modes = ("odoo", "remote")
    # The modes in which an invoice in a foreign currency can be booked; in the others it
    # must be refused before any call.
    contract_foreign_currency_modes = ()
    # A currency the remote administration knows and the company does not book in.
    contract_foreign_currency = "USD"
    # The modes in which the remote package computes the VAT per line itself: an invoice
    # whose globally rounded VAT differs from that must be refused before any call.
    contract_remote_pricing_modes = ()

    # The invoice date of the service's test invoices (its common module's INVOICE_DATE).
    contract_invoice_date = None

    def contract_invoice(
        self, amounts=(100.0,), move_type="out_invoice", currency=None, taxes=None, partner=None
    ):
        """A posted invoice of one line per amount, on the mapped income account."""
        move = self.env["account.move"].create(
            {
                "move_type": move_type,
                "partner_id": (partner or self.partner_a).id,
                "invoice_date": self.contract_invoice_date,
                "date": self.contract_invoice_date,
                "currency_id": (currency or self.company_data["company"].currency_id).id,
                "invoice_line_ids": ServiceContractCases.contract_lines(
                    amounts, taxes or self.tax_21, self.revenue
                ),
            }
        )
        move.action_post()
        return move

    def contract_remote_documents(self, move):
        """The remote documents (drafts or bookings) made for ``move``."""
        raise NotImplementedError

    def contract_remote_total(self, document):
        """The document's total including VAT, without sign, in the invoice currency."""
        raise NotImplementedError

    def contract_finalise_remotely(self, move):
        """What the accountant does in the remote package to number a draft."""
        raise NotImplementedError

    def contract_pay_remotely(self, move):
        raise NotImplementedError

    def contract_remote_customer(self, partner):
        """The remote customers named like ``partner``, normalised to ``{email, city}``."""
        raise NotImplementedError

    def contract_calls(self):
        return self.stats()["total"]


class ServiceContractCases:
    """Mixed into a fixture class; every test name starts with ``test_contract_``."""

    # Odoo's loader only collects a class's own test methods unless told otherwise.
    allow_inherited_tests_method = True

    def _contract_send_once(self, move):
        """One try, no in-run retry: the next run's look-up is what is tested."""
        self.backend.with_context(bookkeeping_retries_in_run=0)._push_moves(move)

    def _contract_expected_state(self):
        return "done" if self.backend.invoice_mode == "odoo" else "sent_draft"

    def _contract_assert_sent_once(self, move):
        self.assertEqual(
            move.bookkeeping_state, self._contract_expected_state(), move.bookkeeping_error
        )
        documents = self.contract_remote_documents(move)
        self.assertEqual(len(documents), 1, f"{self.backend.invoice_mode} mode: {documents}")
        return documents[0]

    # ------------------------------------------------------------------ no duplicates

    def _contract_no_duplicate_after(self, **fault):
        """The customer exists; the invoice's create meets ``fault``; the next run looks
        it up first and the remote package holds it once, in every mode."""
        for mode in self.contract_modes:
            with self.subTest(mode=mode):
                self.backend.write({"invoice_mode": mode, "attach_pdf": False})
                move = self.contract_invoice()
                with self.backend._session() as client:
                    self.backend._push_partner(client, move.partner_id)
                self.faults(**fault)
                self._contract_send_once(move)
                self.assertEqual(move.bookkeeping_state, "error")
                self.assertTrue(move.bookkeeping_error_retryable)
                # The create may have happened (a 5xx can hide one): look it up first.
                self.assertTrue(move.bookkeeping_outcome_unknown)
                self.send(move)
                self._contract_assert_sent_once(move)

    def test_contract_no_duplicate_after_a_lost_response(self):
        self._contract_no_duplicate_after(lose_next_creates=1)

    def test_contract_no_duplicate_after_a_5xx(self):
        self._contract_no_duplicate_after(fail_next=1)

    def test_contract_no_duplicate_after_a_crash_between_call_and_commit(self):
        for mode in self.contract_modes:
            with self.subTest(mode=mode):
                self.backend.write({"invoice_mode": mode, "attach_pdf": False})
                move = self.contract_invoice()
                self.send(move)
                remote_id = move.bookkeeping_remote_id
                self.assertTrue(remote_id)
                # What a crash after the create but before our commit leaves behind.
                move.write(
                    {
                        "bookkeeping_state": "sending",
                        "bookkeeping_remote_id": False,
                        "bookkeeping_outcome_unknown": True,
                    }
                )
                self.send(move)
                self._contract_assert_sent_once(move)
                self.assertEqual(move.bookkeeping_remote_id, remote_id)

    def test_contract_a_customer_is_never_duplicated(self):
        self.backend.attach_pdf = False
        partner = self.contract_partner()
        first = self.contract_invoice(partner=partner)
        self.faults(lose_next_creates=1)  # the customer's create comes first
        self._contract_send_once(first)  # may heal in the same run: it looks up first
        second = self.contract_invoice(partner=partner)
        self.send(first | second)
        self.assertEqual(
            set((first | second).mapped("bookkeeping_state")), {self._contract_expected_state()}
        )
        self.assertEqual(len(self.contract_remote_customer(partner)), 1)

    def test_contract_remote_customer_data_is_never_blanked(self):
        self.backend.attach_pdf = False
        partner = self.contract_partner()
        with self.backend._session() as client:
            self.backend._push_partner(client, partner)
        self.assertEqual(self.contract_remote_customer(partner)[0]["email"], partner.email)
        # Odoo loses the e-mail; with updates on, the rest goes out, the e-mail stays.
        self.backend.update_remote_partners = True
        partner.write({"email": False, "city": "Amersfoort"})
        with self.backend._session() as client:
            self.backend._push_partner(client, partner)
        remote = self.contract_remote_customer(partner)
        self.assertEqual(len(remote), 1)
        self.assertEqual(remote[0]["city"], "Amersfoort")
        self.assertTrue(remote[0]["email"], "the remote e-mail was blanked")

    # ------------------------------------------------------------------ link

    def test_contract_revoked_grant_needs_reconnect_and_nothing_is_lost(self):
        self.backend.attach_pdf = False
        move = self.contract_invoice()
        self.faults(revoked=True)
        self.send(move)
        self.assertEqual(self.backend.state, "needs_reconnect")
        self.assertEqual(move.bookkeeping_state, "to_send")
        activity = self.env.ref("account_bookkeeping_link.mail_activity_reconnect")
        self.assertIn(activity, self.backend.activity_ids.activity_type_id)
        self.faults(revoked=False)
        self.link()
        self.assertEqual(self.backend.state, "linked")
        self.send(move)
        self._contract_assert_sent_once(move)

    # ------------------------------------------------------------------ checks first

    def test_contract_bad_input_is_refused_before_any_call(self):
        self.backend.attach_pdf = False
        company = self.company_data["company"]
        unmapped = self.env["account.tax"].create(
            {
                "name": "BTW 13% (contract, unmapped)",
                "amount": 13,
                "type_tax_use": "sale",
                "company_id": company.id,
            }
        )
        stateless = self.env["res.partner"].create({"name": "Zonder Land BV", "is_company": True})
        cases = {
            "tax": self.contract_invoice(taxes=unmapped),
            "country": self.contract_invoice(partner=stateless),
        }
        self.clear_stats()
        for mode in self.contract_modes:
            self.backend.invoice_mode = mode
            for case, move in cases.items():
                with self.subTest(mode=mode, case=case):
                    self.send(move)
                    self.assertEqual(move.bookkeeping_state, "error")
                    self.assertFalse(move.bookkeeping_error_retryable)
                    self.assertTrue(move.bookkeeping_error)
        self.assertEqual(self.contract_calls(), 0, self.stats())

    def test_contract_foreign_currency_booked_or_refused_before_any_call(self):
        usd = self.setup_other_currency(
            self.contract_foreign_currency, rates=[("2025-01-01", 1.25)]
        )
        self.assertNotEqual(usd, self.company_data["company"].currency_id)
        for mode in self.contract_modes:
            with self.subTest(mode=mode):
                self.backend.write({"invoice_mode": mode, "attach_pdf": False})
                move = self.contract_invoice(amounts=(100.0, 33.33), currency=usd)
                self.clear_stats()
                self.send(move)
                if mode in self.contract_foreign_currency_modes:
                    document = self._contract_assert_sent_once(move)
                    self.assertEqual(
                        round(self.contract_remote_total(document), 2), round(move.amount_total, 2)
                    )
                else:
                    self.assertEqual(move.bookkeeping_state, "error")
                    self.assertIn(usd.name, move.bookkeeping_error)
                    self.assertEqual(self.contract_calls(), 0)

    # ------------------------------------------------------------------ totals

    def test_contract_totals_to_the_cent_in_every_mode_and_for_credit_notes(self):
        """Per-line VAT drifts from Odoo's global rounding: 10.01 x 3 + 3.33 at 21% and a
        9% line; the remote total must be Odoo's to the cent anyway."""
        company = self.company_data["company"]
        company.tax_calculation_rounding_method = "round_globally"
        for mode in self.contract_modes:
            for move_type in ("out_invoice", "out_refund"):
                with self.subTest(mode=mode, move_type=move_type):
                    self.backend.write({"invoice_mode": mode, "attach_pdf": False})
                    move = self.contract_invoice(
                        amounts=(10.01, 10.01, 10.01, 3.33, 0.5),
                        move_type=move_type,
                        taxes=[self.tax_21, self.tax_21, self.tax_21, self.tax_21, self.tax_9],
                    )
                    self.clear_stats()
                    self.send(move)
                    if mode in self.contract_remote_pricing_modes:
                        self.assertEqual(move.bookkeeping_state, "error")
                        self.assertIn(f"{move.amount_total:.2f}", move.bookkeeping_error)
                        self.assertEqual(self.contract_calls(), 0)
                        # Rounded per line, Odoo and the remote package agree: it goes.
                        company.tax_calculation_rounding_method = "round_per_line"
                        move = self.contract_invoice(
                            amounts=(10.01, 10.01, 10.01, 3.33, 0.5),
                            move_type=move_type,
                            taxes=[self.tax_21] * 4 + [self.tax_9],
                        )
                        self.send(move)
                        company.tax_calculation_rounding_method = "round_globally"
                    document = self._contract_assert_sent_once(move)
                    self.assertEqual(
                        round(self.contract_remote_total(document), 2), round(move.amount_total, 2)
                    )

    # ------------------------------------------------------------------ sync back

    def test_contract_numbers_and_payments_come_back_in_bulk(self):
        """The sync's calls do not grow with the number of invoices (one paid, the others
        open, in each round)."""
        calls = {}
        for count in (2, 5):
            self.backend.write({"invoice_mode": self.contract_modes[-1], "attach_pdf": False})
            moves = self.env["account.move"].union(
                *(self.contract_invoice(amounts=(10.0 + n,)) for n in range(count))
            )
            self.send(moves)
            if self.backend.invoice_mode == "remote":
                self.assertEqual(set(moves.mapped("bookkeeping_state")), {"sent_draft"})
                for move in moves:
                    self.contract_finalise_remotely(move)
            else:
                self.assertEqual(set(moves.mapped("bookkeeping_state")), {"done"})
            self.contract_pay_remotely(moves[0])
            self.clear_stats()
            self.backend._sync_remote_state()
            calls[count] = self.contract_calls()
            self.assertEqual(set(moves.mapped("bookkeeping_state")), {"done"})
            self.assertTrue(all(moves.mapped("bookkeeping_remote_number")))
            self.assertEqual(moves[0].bookkeeping_remote_payment_state, "paid")
            self.assertEqual(set(moves[1:].mapped("bookkeeping_remote_payment_state")), {"open"})
            # The next round only sees its own invoices as new work.
            moves.write({"bookkeeping_remote_payment_state": "paid"})
        self.assertEqual(calls[5], calls[2], calls)

    # ------------------------------------------------------------------ helpers

    def contract_partner(self):
        return self.env["res.partner"].create(
            {
                "name": "Contract Klant BV",
                "is_company": True,
                "email": "klant@example.nl",
                "street": "Kerkstraat 2",
                "zip": "3511 AB",
                "city": "Utrecht",
                "country_id": self.env.ref("base.nl").id,
            }
        )

    @staticmethod
    def contract_lines(amounts, taxes, account):
        taxes = taxes if isinstance(taxes, (list, tuple)) else [taxes] * len(amounts)
        return [
            Command.create(
                {
                    "name": f"Line {n}",
                    "price_unit": amount,
                    "quantity": 1.0,
                    "tax_ids": [Command.set(tax.ids)],
                    "account_id": account.id,
                }
            )
            for n, (amount, tax) in enumerate(zip(amounts, taxes, strict=True), 1)
        ]
