"""python -m bench SERVICE --collective [--invoices 5000]: the collective booking of B2C
invoices (issue 12). Invoices of private persons, all of one day, are created and posted in
batches (the posting path flags them), then the link's push job books the closed day as one
collective entry per journal. Measures calls and queries per invoice, and compares the
sandbox's entry totals with Odoo's sum of the invoices, to the cent. What differs per
service (its default customer, reading its entries) comes from the recipe."""
# A standalone script owns its transaction: it commits like a cron would.
# pylint: disable=invalid-commit

import time
from datetime import date

import psutil

from bench.harness import Bench, say

DAY = date(2025, 6, 2)
BATCH = 500


class CollectiveBench(Bench):
    def _b2c_invoices(self, env, partners, count):
        # Creating the invoices is not what is measured: no mail tracking of their fields.
        Move = env["account.move"].with_context(
            tracking_disable=True, mail_create_nolog=True, mail_notrack=True
        )
        rates = list(self.taxes)
        ids = []
        for start in range(0, count, BATCH):
            vals = [
                {
                    "move_type": "out_invoice",
                    "partner_id": partners[n % len(partners)].id,
                    "invoice_date": DAY,
                    "invoice_line_ids": [
                        (
                            0,
                            0,
                            {
                                "product_id": product.id,
                                "quantity": 1 + (n + j) % 2,
                                # Cents that make per-invoice VAT rounding matter.
                                "price_unit": round(
                                    0.99 + (n * 7 + j * 13) % 60 + 0.01 * (n % 97), 2
                                ),
                                "tax_ids": [(6, 0, self.taxes[rates[j % len(rates)]].ids)],
                                "account_id": self.revenue.id,
                            },
                        )
                        for j, product in enumerate(self.products[:2])
                    ],
                }
                for n in range(start, min(count, start + BATCH))
            ]
            batch = Move.create(vals)
            started = time.perf_counter()
            batch.action_post()
            self.post_seconds += time.perf_counter() - started
            ids += batch.ids
            env.cr.commit()
            env.invalidate_all()
        return Move.browse(ids)

    def run(self):
        self._start()
        from odoo import SUPERUSER_ID, api, sql_db  # noqa: PLC0415

        count = self.args.invoices
        result = {"service": self.service, "mode": "collective", "invoices": count}
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            say("Setting up the link, the default customer and private customers ...")
            self._setup(env)
            backend = self.backend
            client = backend._client()
            self.hooks["collective_setup"](backend, client)
            env["bookkeeping.log"]._flush_collector(client)
            # Posting queues and flags them, as in production.
            backend.write({"collective_booking": True, "push_on_post": True})
            privates = env["res.partner"].create(
                [
                    {"name": f"Klant {i:03d}", "country_id": env.ref("base.nl").id}
                    for i in range(self.args.partners)
                ]
            )
            cr.commit()
            say(f"Creating and posting {count} B2C invoices of 2 lines, all on {DAY} ...")
            started = time.perf_counter()
            moves = self._b2c_invoices(env, privates, count)
            result["create_post_seconds"] = round(time.perf_counter() - started, 1)
            flagged = env["account.move"].search_count(
                [("id", "in", moves.ids), ("bookkeeping_collective", "=", True)]
            )
            say(
                f"  {flagged} flagged for the collective entry in {result['create_post_seconds']} s"
            )

            say("Booking the closed day through the link's push job ...")
            self.reset_stats()
            process = psutil.Process()
            rss0 = process.memory_info().rss
            queries0 = sql_db.sql_counter
            started = time.perf_counter()
            for _run in range(10):
                backend._cron_push_link()
                cr.commit()
                env.invalidate_all()
                if not env["account.move"].search_count(
                    [("id", "in", moves.ids), ("bookkeeping_state", "in", ("to_send", "sending"))]
                ):
                    break
            elapsed = time.perf_counter() - started
            queries = sql_db.sql_counter - queries0
            calls = self._division_calls(self.stats())
            entries = env["bookkeeping.collective.entry"].search([("backend_id", "=", backend.id)])
            remote = self.recipe.collective_totals(
                self.control("GET", f"/state/{self.service}"), entries.mapped("reference")
            )
            odoo_total = round(sum(moves.mapped("amount_total_signed")), 2)
            odoo_vat = round(sum(moves.mapped("amount_tax_signed")), 2)
            booked = moves.filtered(lambda m: m.bookkeeping_state == "done")
            result.update(
                {
                    "invoices_booked": len(booked),
                    "entries": len(entries),
                    "remote_entries": remote["entries"],
                    "remote_lines": remote["lines"],
                    "calls": calls,
                    "calls_per_invoice": round(calls / count, 5),
                    "queries_per_invoice": round(queries / count, 1),
                    "ms_per_invoice": round(1000 * elapsed / count, 2),
                    "push_to_post_ratio": round(elapsed / self.post_seconds, 2)
                    if self.post_seconds
                    else None,
                    "odoo_total": odoo_total,
                    "remote_total": remote["total"],
                    "odoo_vat": odoo_vat,
                    "remote_vat": remote["vat"],
                    "totals_equal_to_the_cent": remote["total"] == odoo_total
                    and remote["vat"] == odoo_vat,
                    "memory_growth_mb": round((process.memory_info().rss - rss0) / 2**20, 1),
                }
            )
            say(
                f"  {len(booked)} invoices in {len(entries)} entries ({remote['lines']} lines), "
                f"{calls} calls ({result['calls_per_invoice']} per invoice), "
                f"{result['queries_per_invoice']} queries per invoice; total Odoo {odoo_total} "
                f"/ remote {remote['total']}, VAT {odoo_vat} / {remote['vat']}"
            )
        return result


def run(args, src):
    return CollectiveBench.measure(args, src)
