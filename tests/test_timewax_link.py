"""The Timewax link: login, token reuse and renewal, 429s, Timewax's errors, the password
kept out of every log, the parser's quirks and strictness."""

from odoo.tests import tagged

from odoo.addons.account_bookkeeping_link.tests.common_timewax import TimewaxCommon


@tagged("post_install", "-at_install")
class TestTimewaxLink(TimewaxCommon):
    def token_calls(self):
        return sum(count for key, count in self.stats()["requests"].items() if "token/get" in key)

    def test_test_connection_links_and_a_bad_password_says_what_to_fix(self):
        self.assertEqual(self.backend.state, "linked")
        self.assertEqual(self.backend.administration_code, "sandbox")
        self.backend.sudo().timewax_password = "wrong"
        action = self.backend.action_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("check the environment, API ID and password", action["params"]["message"])
        self.assertEqual(self.backend.state, "needs_reconnect")
        self.backend.sudo().timewax_password = "secret"
        action = self.backend.action_test_connection()
        self.assertEqual(action["params"]["type"], "success", action["params"]["message"])
        self.assertEqual(self.backend.state, "linked")

    def test_token_reused_across_runs_and_renewed_when_expired(self):
        self.run_import()
        first = self.token_calls()
        self.assertLessEqual(first, 1)  # the stored token may have died with the reset
        stored = self.backend.sudo().token_ids.access_token
        self.assertTrue(stored)
        self.run_import()
        self.assertEqual(self.token_calls(), first)  # reused: no login
        self.control("POST", "/timewax/token/expire")  # killed early on Timewax's side
        result = self.run_import()
        self.assertEqual(self.token_calls(), first + 1)
        self.assertEqual(result["skipped"], 5)
        self.assertNotEqual(self.backend.sudo().token_ids.access_token, stored)

    def test_429s_are_waited_out(self):
        self.faults(throttle_next=2)
        result = self.run_import()
        self.assertEqual(result["created"], 5)
        self.assertGreaterEqual(self.stats()["throttled"], 2)
        retried = self.env["bookkeeping.log"].search(
            [("backend_id", "=", self.backend.id), ("outcome", "=", "retry")]
        )
        self.assertTrue(retried)

    def test_password_never_logged(self):
        self.backend.sudo().token_ids.unlink()  # force a login through the log
        self.run_import()
        logs = self.env["bookkeeping.log"].search([("backend_id", "=", self.backend.id)])
        self.assertTrue(logs.filtered(lambda row: "token/get" in (row.path or "")))
        text = " ".join(
            f"{row.path} {row.message} {row.request_excerpt} {row.response_excerpt}" for row in logs
        )
        self.assertNotIn("secret", text)
        self.assertNotIn(self.backend.sudo().token_ids.access_token, text)
        # and a user who is no system administrator cannot read it
        user = self.env["res.users"].create(
            {
                "name": "Bookkeeper",
                "login": "tw-bookkeeper",
                "group_ids": [
                    (6, 0, [self.env.ref("account_bookkeeping_link.group_bookkeeping_manager").id])
                ],
                "company_id": self.company.id,
                "company_ids": [(6, 0, self.company.ids)],
            }
        )
        self.assertNotIn(
            "timewax_password", self.backend.with_user(user).fields_get(attributes=["type"])
        )

    def test_timewax_errors_are_shown_with_timewax_text(self):
        self.config(invoicing_fault="invoicing_module_not_active")
        with self.assertRaisesRegex(Exception, "invoicing_module_not_active"):
            self.run_import()
        self.config(invoicing_fault="malformed")
        with self.assertRaisesRegex(Exception, "malformed XML"):
            self.run_import()
        self.assertFalse(self.imported())

    def test_documented_quirks_both_decimal_formats_and_credit_note_signs(self):
        self.run_import()
        reference = {
            m.timewax_number: (m.amount_untaxed, m.amount_tax, m.amount_total)
            for m in self.imported()
        }
        # seed 003 verbatim (<Lines> closed by </lines>), decimal commas, negative credit
        # notes: the same invoices, nothing changed, so nothing is updated.
        self.config(lines_style="doc", decimal_comma=True, credit_note_sign="negative")
        again = self.run_import()
        self.assertEqual((again["created"], again["updated"], again["failed"]), (0, 0, 1))
        self.assertEqual(again["skipped"], 5)
        self.assertEqual(
            {
                m.timewax_number: (m.amount_untaxed, m.amount_tax, m.amount_total)
                for m in self.imported()
            },
            reference,
        )
        credit = self.imported("TW2026-0002")
        self.assertEqual(credit.move_type, "out_refund")
        self.assertGreater(credit.amount_total, 0)
