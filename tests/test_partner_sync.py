"""The customer sync wizard and the partner Sync button, against the Exact sandbox: unique
matches link, ambiguous ones wait for a choice, missing ones are imported or created."""

from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.tests.common_exact import ExactCommon


@tagged("post_install", "-at_install")
class TestPartnerSync(ExactCommon):
    def _wizard(self):
        wizard = self.env["bookkeeping.partner.sync.wizard"].create({"backend_id": self.backend.id})
        wizard.action_preview()
        self.assertEqual(wizard.state, "preview")
        return wizard

    def _line(self, wizard, **match):
        lines = wizard.line_ids.filtered(lambda line: all(line[k] == v for k, v in match.items()))
        self.assertEqual(len(lines), 1, match)
        return lines

    def test_preview_links_unique_matches_and_asks_for_ambiguous_ones(self):
        Partner = self.env["res.partner"]
        jansen = Partner.create(
            {
                "name": "Jansen (Odoo name)",
                "vat": "NL111111111B01",
                "country_id": self.nl.id,
                "is_company": True,
            }
        )
        twins = Partner.create(
            [
                {
                    "name": "De Vries Advies",
                    "email": "admin@devries.example",
                    "is_company": True,
                    "country_id": self.env.ref("base.be").id,
                },
                {
                    "name": "De Vries Advies",
                    "email": "admin@devries.example",
                    "is_company": True,
                    "country_id": self.env.ref("base.be").id,
                },
            ]
        )
        newcomer = Partner.create(
            {
                "name": "Nieuwe Klant BV",
                "customer_rank": 1,
                "country_id": self.nl.id,
                "is_company": True,
                "email": "nieuw@klant.example",
            }
        )
        wizard = self._wizard()

        jansen_line = self._line(wizard, remote_code="1")
        self.assertEqual((jansen_line.action, jansen_line.partner_id), ("link", jansen))
        devries_line = self._line(wizard, remote_code="2")
        self.assertEqual(devries_line.action, "skip")
        self.assertEqual(devries_line.candidate_ids, twins)
        mueller_line = self._line(wizard, remote_code="3")
        self.assertEqual(mueller_line.action, "import")
        push_line = self._line(wizard, partner_id=newcomer)
        self.assertEqual(push_line.action, "push")

        # The manager chooses one of the twins; every other proposal is applied as shown.
        devries_line.write({"partner_id": twins[1].id, "action": "link"})
        accounts_before = len(self.remote_rows("crm/Accounts"))
        wizard.action_apply()
        self.assertEqual(wizard.state, "done")
        self.assertFalse(wizard.line_ids.filtered("error"), wizard.line_ids.mapped("error"))

        self.assertEqual(self.backend._partner_remote_id(jansen), jansen_line.remote_id)
        self.assertEqual(self.backend._partner_remote_id(twins[1]), devries_line.remote_id)
        self.assertFalse(self.backend._partner_remote_id(twins[0]))
        imported = mueller_line.partner_id
        self.assertEqual(imported.name, "Müller GmbH")
        self.assertEqual(imported.country_id.code, "DE")
        self.assertEqual(self.backend._partner_link(imported).remote_code, "3")
        created = self.backend._partner_remote_id(newcomer)
        self.assertTrue(created)
        rows = self.remote_rows("crm/Accounts", ID=created)
        self.assertEqual(rows[0]["Name"], "Nieuwe Klant BV")
        self.assertGreaterEqual(len(self.remote_rows("crm/Accounts")), accounts_before + 1)

        # A second preview finds everything linked: nothing is proposed twice.
        again = self._wizard()
        for line in again.line_ids.filtered(lambda line: line.remote_code in ("1", "3")):
            self.assertEqual(line.action, "skip")

    def test_partner_sync_button_creates_then_updates_the_customer(self):
        partner = self.env["res.partner"].create(
            {
                "name": "Knoppen BV",
                "is_company": True,
                "country_id": self.nl.id,
                "email": "knop@example.nl",
                "company_registry": "87654321",
            }
        )
        partner.action_bookkeeping_sync_partner()
        account_id = self.backend._partner_remote_id(partner)
        self.assertTrue(account_id)
        self.assertEqual(partner.bookkeeping_sync_state, "linked")
        partner.email = "boekhouding@knoppen.example"
        self.backend.update_remote_partners = True  # off: a linked customer is left alone
        partner.action_bookkeeping_sync_partner()
        rows = self.remote_rows("crm/Accounts", ID=account_id)
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["Email"], "boekhouding@knoppen.example")
        self.assertEqual(rows[0]["ChamberOfCommerce"], "87654321")
        # The customer's chatter tells the story: created, then updated, with its number.
        notes = partner.message_ids.mapped("body")
        code = self.backend._partner_link(partner).remote_code
        self.assertTrue(any("was created in" in note and code in note for note in notes), notes)
        self.assertTrue(any("was updated in" in note for note in notes), notes)

    def test_partner_without_country_gets_a_clear_message_and_no_call(self):
        from odoo.exceptions import UserError  # noqa: PLC0415

        partner = self.env["res.partner"].create({"name": "Zonder Land"})
        with self.assertRaisesRegex(UserError, "has no country"):
            partner.action_bookkeeping_sync_partner()
        self.assertEqual(self.calls(), 0)

    def test_match_reasons_are_words_not_keys(self):
        """Issue 7 point 4: the reason reads 'VAT number matches', never 'vat'."""
        jansen = self.env["res.partner"].create(
            {
                "name": "Jansen",
                "vat": "NL111111111B01",
                "country_id": self.nl.id,
                "is_company": True,
            }
        )
        self.env["res.partner"].create(
            [
                {"name": f"De Vries {n}", "email": "admin@devries.example", "is_company": True}
                for n in (1, 2)
            ]
        )
        wizard = self._wizard()
        jansen_line = self._line(wizard, remote_code="1")
        self.assertEqual(jansen_line.partner_id, jansen)
        self.assertEqual(jansen_line.match_key, "vat")
        self.assertEqual(jansen_line.reason, "VAT number matches")
        devries_line = self._line(wizard, remote_code="2")
        self.assertEqual(devries_line.match_key, "email")
        self.assertEqual(devries_line.reason, "2 contacts match on E-mail address: choose one")
        line_model = self.env["bookkeeping.partner.sync.line"]
        keys = dict(line_model._fields["match_key"].selection)
        for line in wizard.line_ids.filtered("reason"):
            for key in keys:  # the internal keys are lower-case words: none may show
                self.assertNotRegex(line.reason, rf"\b{key}\b")

    def test_a_failed_line_leaves_no_contact_behind(self):
        """Issue 7 point 4: each line in its own savepoint. The import of Müller fails
        after its contact was created (the remote customer got linked elsewhere in the
        meantime): no contact is left, the error is on the line, the other lines apply."""
        jansen = self.env["res.partner"].create(
            {
                "name": "Jansen",
                "vat": "NL111111111B01",
                "country_id": self.nl.id,
                "is_company": True,
            }
        )
        wizard = self._wizard()
        mueller_line = self._line(wizard, remote_code="3")
        self.assertEqual(mueller_line.action, "import")
        # Someone links the remote customer to another contact before Apply.
        other = self.env["res.partner"].create({"name": "Müller (oud)", "is_company": True})
        self.backend._store_partner_link(
            other, {"remote_id": mueller_line.remote_id, "remote_code": "3", "state": "linked"}
        )
        wizard.action_apply()

        self.assertIn("already linked to Müller (oud)", mueller_line.error)
        self.assertFalse(mueller_line.partner_id)
        self.assertFalse(self.env["res.partner"].search([("name", "=", "Müller GmbH")]))
        self.assertEqual(self.backend._partners_linked_to(mueller_line.remote_id), other)
        self.assertEqual(
            self.backend._partner_remote_id(jansen),
            self._line(wizard, remote_code="1").remote_id,
        )
        self.assertIn("1 failed", wizard.summary)
