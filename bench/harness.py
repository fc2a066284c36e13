"""The benchmark run: a fresh database, the sandbox in its own process, sample data, then
the push, the sync, the PDF variant and (services whose recipe has one) the rate-limited
run, each measured. What differs per service comes from its recipe's ``BENCH``."""
# A standalone script owns its transaction: it commits like a cron would.
# pylint: disable=invalid-commit

import os
import subprocess
import sys
import tempfile
import time
from datetime import date

import odoo_env
import psutil
import requests
import sandbox_link


def say(text):
    print(text, flush=True)


class Bench:
    def __init__(self, args, src):
        self.args = args
        self.src = src
        self.service = args.service
        self.recipe = sandbox_link.registry.recipe(self.service)
        self.hooks = self.recipe.BENCH
        self.post_seconds = 0.0  # time Odoo spent posting the measured invoices
        # BENCH_DB: engineers sharing one PostgreSQL each bench in their own database
        self.db = os.environ.get("BENCH_DB") or f"abl_bench_{self.service}"
        self.sandbox = None
        self.sandbox_db = None
        self.url = None
        self.registry = None
        self.modules = odoo_env.MODULE  # what the bench database installs

    # ------------------------------------------------------------------ processes

    def _create_db(self):
        odoo_env.drop_db(self.db)
        say(f"Creating database {self.db} ...")
        cmd = odoo_env.odoo_base_args(self.src, self.db) + [
            "-i",
            self.modules,
            "--stop-after-init",
            "--http-port=0",
            "--log-level=warn",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode:
            sys.stderr.write(result.stdout[-2000:] + result.stderr[-2000:])
            raise RuntimeError("installing the addon failed")

    def _start_sandbox(self):
        port = odoo_env.free_port()
        self.sandbox_db = tempfile.NamedTemporaryFile(suffix=".sqlite3", delete=False).name
        os.unlink(self.sandbox_db)
        self.sandbox = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--port", str(port), "--db", self.sandbox_db],
            cwd=odoo_env.ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(f"{self.url}/_sandbox/clock", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the sandbox did not start")

    def control(self, method, path, body=None):
        response = requests.request(
            method, f"{self.url}/_sandbox{path}", json=body or {}, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def stats(self):
        return self.control("GET", f"/stats/{self.service}")

    def reset_stats(self):
        self.control("POST", f"/stats/{self.service}/reset")

    def close(self):
        if self.sandbox:
            self.sandbox.terminate()
            self.sandbox.wait(timeout=10)
        if self.sandbox_db:
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(self.sandbox_db + suffix):
                    os.unlink(self.sandbox_db + suffix)
        if self.registry is not None and not self.args.keep_db:
            from odoo.sql_db import close_db  # noqa: PLC0415

            close_db(self.db)
            odoo_env.drop_db(self.db)

    # ------------------------------------------------------------------ set-up

    def _setup(self, env):
        company = env.company
        company.country_id = env.ref("base.nl")
        eur = env.ref("base.EUR")
        eur.active = True
        company.currency_id = eur  # the sandbox divisions keep their books in EUR
        Tax = env["account.tax"]
        self.taxes = {
            rate: Tax.create(
                {
                    "name": f"BTW {rate:g}% (bench)",
                    "amount": rate,
                    "type_tax_use": "sale",
                    "company_id": company.id,
                }
            )
            for rate in (21.0, 9.0)
        }
        self.revenue = env["account.account"].search(
            [("account_type", "=", "income"), ("company_ids", "in", company.id)], limit=1
        )
        env["ir.config_parameter"].set_param("web.base.url", "http://localhost:8069")
        backend = sandbox_link.link(
            env,
            company,
            self.service,
            self.url,
            self.taxes,
            self.revenue,
            invoice_mode="odoo",
            push_on_post=False,
            attach_pdf=False,
        )
        self.backend = backend
        self.partners = env["res.partner"].create(
            [
                {
                    "name": f"Bench Klant {i:03d} BV",
                    "is_company": True,
                    "email": f"klant{i:03d}@example.nl",
                    "street": f"Kerkstraat {i}",
                    "zip": "1234 AB",
                    "city": "Utrecht",
                    "country_id": env.ref("base.nl").id,
                    "company_registry": f"{80000000 + i}",
                    "customer_rank": 1,
                }
                for i in range(self.args.partners)
            ]
        )
        self.products = env["product.product"].create(
            [
                {
                    "name": f"Bench product {i}",
                    "list_price": 10.0 * (i + 1),
                    "taxes_id": [(6, 0, self.taxes[21.0].ids)],
                }
                for i in range(3)
            ]
        )

    def remote_documents(self):
        """The invoices the remote package holds now (the recipe reads the sandbox state)."""
        return self.recipe.remote_documents(self.control("GET", f"/state/{self.service}"))

    def _remote_path(self, template, move):
        return template.format(
            remote_id=move.bookkeeping_remote_id, remote_ref=move.bookkeeping_remote_ref
        )

    def _invoices(self, env, count, offset, timed=False):
        Move = env["account.move"]
        moves = Move
        rates = list(self.taxes)
        for start in range(0, count, 100):
            vals = []
            for i in range(start, min(count, start + 100)):
                n = offset + i
                partner = self.partners[n % len(self.partners)]
                lines = [
                    (
                        0,
                        0,
                        {
                            "product_id": product.id,
                            "quantity": 1 + (n + j) % 3,
                            "price_unit": round(9.99 + (n * 7 + j * 13) % 500 + 0.01 * (n % 97), 2),
                            "tax_ids": [(6, 0, self.taxes[rates[(n + j) % len(rates)]].ids)],
                            "account_id": self.revenue.id,
                        },
                    )
                    for j, product in enumerate(self.products)
                ]
                vals.append(
                    {
                        "move_type": "out_invoice",
                        "partner_id": partner.id,
                        "invoice_date": date(2025, 6, 2),
                        "invoice_line_ids": lines,
                    }
                )
            batch = Move.create(vals)
            started = time.perf_counter()
            batch.action_post()
            if timed:
                self.post_seconds += time.perf_counter() - started
            moves |= batch
            env.cr.commit()
        return moves

    # ------------------------------------------------------------------ measures

    def _push_all(self, env, moves):
        """Push through the cron entry point (as production does) until nothing is left."""
        # What posting does when "Send on post" is on (the bench posts with it off).
        moves._bookkeeping_write(
            {"bookkeeping_state": "to_send", "bookkeeping_backend_id": self.backend.id}
        )
        env.cr.commit()
        backend = env["bookkeeping.backend"].browse(self.backend.id)
        for _ in range(100):
            backend._cron_push_link()
            env.cr.commit()
            env.invalidate_all()
            left = env["account.move"].search_count(
                [("id", "in", moves.ids), ("bookkeeping_state", "in", ("to_send", "sending"))]
            )
            if not left:
                break
        done = moves.filtered(lambda m: m.bookkeeping_state in ("done", "sent_draft"))
        errors = moves - done
        if errors:
            say(f"  {len(errors)} invoices not sent, first error: {errors[0].bookkeeping_error}")
        return done

    def _division_calls(self, stats):
        return sum(
            count
            for key, count in stats.get("requests", {}).items()
            if "/oauth2/" not in key and "/connect/" not in key
        )

    @classmethod
    def measure(cls, args, src):
        """Run this bench and clean up after it, whatever happens; returns its figures."""
        bench = cls(args, src)
        try:
            return bench.run()
        finally:
            bench.close()

    def _start(self):
        """A fresh database with the addon, the sandbox in its own process, Odoo here."""
        self._create_db()
        self._start_sandbox()
        if self.hooks["rate_limit_off"]:
            self.control("POST", *self.hooks["rate_limit_off"])
        _odoo, self.registry = odoo_env.odoo_env(self.db, self.src)

    def _link_with_partners(self, env):
        """The link made and its customers pushed, committed: what every measure starts from."""
        self._setup(env)
        env.cr.commit()
        client = self.backend._client()
        for partner in self.partners:
            self.backend._push_partner(client, partner)
        env["bookkeeping.log"]._flush_collector(client)
        env.cr.commit()

    def run(self):
        self._start()
        from odoo import SUPERUSER_ID, api, sql_db  # noqa: PLC0415

        result = {"service": self.service}
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            say("Setting up the link, partners and invoices ...")
            self._link_with_partners(env)
            main = self._invoices(env, self.args.invoices, 0, timed=True)
            pdf = self._invoices(env, self.args.pdf_invoices, self.args.invoices)
            rate = (
                self._invoices(
                    env, self.args.rate_invoices, self.args.invoices + self.args.pdf_invoices
                )
                if self.hooks["rate_limit_on"]
                else env["account.move"]
            )
            cr.commit()
            # Warm-up: master data and mapping caches, the token, the first connections.
            warm = self._invoices(env, 5, 10_000)
            self._push_all(env, warm)

            say(f"Pushing {len(main)} invoices of 3 lines ...")
            profile = _QueryProfile(sql_db) if os.environ.get("BENCH_PROFILE") else None
            self.reset_stats()
            documents_before = len(self.remote_documents())
            process = psutil.Process()
            rss0 = process.memory_info().rss
            queries0 = sql_db.sql_counter
            cpu_profile = None
            if os.environ.get("BENCH_CPROFILE"):
                import cProfile  # noqa: PLC0415

                cpu_profile = cProfile.Profile()
                cpu_profile.enable()
            started = time.perf_counter()
            done = self._push_all(env, main)
            elapsed = time.perf_counter() - started
            if cpu_profile:
                cpu_profile.disable()
                cpu_profile.dump_stats(os.environ["BENCH_CPROFILE"])
            queries = sql_db.sql_counter - queries0
            rss1 = process.memory_info().rss
            if profile:
                profile.report(len(main))
            stats = self.stats()
            calls = self._division_calls(stats)
            # Post and push of the same invoices in the same run: a ratio survives a busy
            # machine where absolute times do not.
            ratio = elapsed / self.post_seconds if self.post_seconds else None
            created = len(self.remote_documents()) - documents_before
            result.update(
                {
                    "invoices": len(main),
                    "invoices_sent": len(done),
                    "calls_per_invoice": round(calls / len(main), 3),
                    "queries_per_invoice": round(queries / len(main), 1),
                    "invoices_per_second": round(len(main) / elapsed, 1),
                    "ms_per_invoice": round(1000 * elapsed / len(main), 1),
                    "ms_per_invoice_post": round(1000 * self.post_seconds / len(main), 1),
                    "push_to_post_ratio": round(ratio, 2) if ratio else None,
                    "remote_documents_created": created,
                    "remote_duplicates": created - len(done),
                    "memory_growth_mb": round((rss1 - rss0) / 2**20, 1),
                    "http_429": stats.get("status", {}).get("429", 0),
                }
            )
            say(
                f"  {result['invoices_per_second']} invoices/s, "
                f"{result['calls_per_invoice']} calls and {result['queries_per_invoice']} "
                f"queries per invoice, memory +{result['memory_growth_mb']} MB; push/post "
                f"time ratio {result['push_to_post_ratio']}; {created} remote documents"
            )

            say("Paying a third of them remotely, then syncing numbers and payments ...")
            self._pay_some(done[: len(done) // 3])
            self.reset_stats()
            self.backend.invalidate_recordset()
            self.backend._sync_remote_state()
            cr.commit()
            sync_calls = self._division_calls(self.stats())
            env.invalidate_all()
            paid = main.filtered(lambda m: m.bookkeeping_remote_payment_state == "paid")
            result["sync_calls_per_1000"] = round(sync_calls * 1000 / len(main), 1)
            result["sync_paid_seen"] = len(paid)
            say(f"  {sync_calls} calls, {len(paid)} invoices seen as paid")

            say(f"Pushing {len(pdf)} invoices with their PDF ...")
            self.backend.attach_pdf = True
            cr.commit()
            self.reset_stats()
            self._push_all(env, pdf)
            result["calls_per_invoice_pdf"] = round(
                self._division_calls(self.stats()) / len(pdf), 3
            )
            self.backend.attach_pdf = False
            cr.commit()

            result["rate_use"] = None
            if rate:
                rate_result = self._rate_run(env, rate)
                result["http_429"] += rate_result["rate_http_429"]
                result.update(rate_result)
            elif self.hooks.get("rate_note"):
                result["rate_note"] = self.hooks["rate_note"]
        return result

    def _pay_some(self, moves):
        for move in moves:
            self.control("POST", self._remote_path(self.hooks["pay"], move), {})

    def _rate_run(self, env, moves):
        """The service's budget of 60 calls per window, the window shortened (the recipe's
        ``rate_limit_on``): no 429 may appear and the permitted rate must be used, i.e.
        every window that saw calls was filled."""
        from odoo.addons.account_bookkeeping_link.clients.ratelimit import (  # noqa: PLC0415
            reset_registry,
        )

        window = self.args.rate_window
        limit = 60
        say(f"Pushing {len(moves)} invoices under {limit} calls per {window} s ...")
        self.control("POST", *self.hooks["rate_limit_on"](window, limit))
        reset_registry()
        self.reset_stats()
        # Start on a window boundary, so "windows used" measures the client, not the luck
        # of starting late in a window whose budget cannot be spent in the time left.
        time.sleep(window - time.time() % window + 0.05)
        started = time.time()
        self._push_all(env, moves)
        ended = time.time()
        stats = self.stats()
        calls = self._division_calls(stats)
        windows = int(ended // window) - int(started // window) + 1
        rate_use = round(calls / (windows * limit), 3)
        say(
            f"  {calls} calls in {windows} windows ({ended - started:.0f} s), "
            f"{stats.get('status', {}).get('429', 0)} x 429"
        )
        return {
            "rate_use": rate_use,
            "rate_http_429": stats.get("status", {}).get("429", 0),
            "rate_calls": calls,
            "rate_windows": windows,
            "rate_seconds": round(ended - started, 1),
        }


class _QueryProfile:
    """BENCH_PROFILE=1: which queries the push makes, grouped by shape."""

    def __init__(self, sql_db):
        import collections  # noqa: PLC0415
        import re  # noqa: PLC0415

        self.counter = collections.Counter()
        self.sql_db = sql_db
        original = self.original = sql_db.Cursor.execute
        counter = self.counter

        def execute(cursor, query, params=None, log_exceptions=True):
            text = getattr(query, "code", query)
            counter[re.sub(r"\d+", "N", str(text))[:150].replace("\n", " ")] += 1
            return original(cursor, query, params, log_exceptions)

        sql_db.Cursor.execute = execute

    def report(self, invoices):
        self.sql_db.Cursor.execute = self.original
        for text, count in self.counter.most_common(45):
            say(f"  {count / invoices:6.2f}  {text}")
