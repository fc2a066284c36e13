"""python -m bench workers: the push on real Odoo servers, several at once (issue 12).

1. **Three servers, one division.** Three ``odoo-bin`` servers on one database, each with a
   cron thread, push the invoices of one link (three push lanes) to one sandbox division
   whose budget is shortened to 60 calls per 20-second window. Measured: 429s (bar 0), the
   share of the budget used in the windows that saw calls (bar >= 90 %), remote duplicates.
2. **Many links.** Ten companies, each linked to its own division (same budget each), on two
   servers with two cron threads each (four workers). Measured in the same run: the time of
   one link's invoices alone, then of every link's at once; the throughput ratio (bar >= 3x)
   and 429s. The sandbox answers each call after ``--latency-ms``: a real package is
   reached over the internet, and waiting on it is what parallel links win back.

The servers run the product's own path: the link crons, triggered as posting triggers them.
With ``--queue-job`` the many-links part runs on OCA queue_job instead (the glue addon
installed): one server whose job runner has ``root:4`` (four jobs at once, as four cron
workers), each link's push a job on its own channel.
"""
# A standalone script owns its transaction: it commits like a cron would.
# pylint: disable=invalid-commit

import os
import subprocess
import time
from datetime import date

import odoo_env
import requests
import sandbox_link

from bench.harness import Bench, say

DIVISION = 1001
WINDOW = 20
LIMIT = 60
GLUE = "account_bookkeeping_link_queue_job"
QUEUE_JOB_CHANNELS = "root:4"


class WorkersBench(Bench):
    def __init__(self, args, src):
        # The service whose recipe has WORKERS: many administrations of one user, each with
        # its own budget per window.
        args.service = args.workers_service or workers_services()[0]
        super().__init__(args, src)
        self.workers = self.recipe.WORKERS
        self.db = f"{self.db}_workers"
        self.servers = []
        if args.queue_job:
            self.modules = f"{self.modules},{GLUE}"
            self.db = f"{self.db}_qj"

    # ------------------------------------------------------------------ servers

    def start_servers(self, count, cron_threads, queue_job=False):
        ports = []
        # queue_job's runner is a thread of the server (a server-wide module); it hands the
        # jobs to that server's HTTP threads, within its channels' capacities.
        load = ["--load=base,web,queue_job"] if queue_job else []
        env = dict(os.environ, ODOO_QUEUE_JOB_CHANNELS=QUEUE_JOB_CHANNELS)
        for _ in range(count):
            port = odoo_env.free_port()
            cmd = odoo_env.odoo_base_args(self.src, self.db) + [
                f"--http-port={port}",
                "--http-interface=127.0.0.1",
                f"--max-cron-threads={cron_threads}",
                "--log-level=warn",
                "--without-demo=all",
                *load,
            ]
            log = os.path.join(odoo_env.VENV, "logs", f"bench-server-{len(self.servers)}.log")
            os.makedirs(os.path.dirname(log), exist_ok=True)
            with open(log, "w", encoding="utf-8") as handle:
                self.servers.append(
                    subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env)
                )
            ports.append(port)
        for port in ports:
            for _ in range(600):
                try:
                    requests.get(f"http://127.0.0.1:{port}/web/login", timeout=5)
                    break
                except requests.RequestException:
                    time.sleep(0.5)
            else:
                raise RuntimeError("an Odoo server did not start")
        say(f"  {count} odoo-bin servers up, {cron_threads} cron thread(s) each")

    def stop_servers(self):
        for server in self.servers:
            server.terminate()
        for server in self.servers:
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        self.servers = []

    def close(self):
        self.stop_servers()
        super().close()

    # ------------------------------------------------------------------ helpers

    def queue(self, env, backends_moves):
        """Mark the invoices 'to send' and wake their links, as posting does."""
        for backend, moves in backends_moves:
            moves._bookkeeping_write(
                {"bookkeeping_state": "to_send", "bookkeeping_backend_id": backend.id}
            )
        env.cr.commit()
        for backend, _moves in backends_moves:
            backend._schedule_push()
        env.cr.commit()  # the triggers' NOTIFY wakes the servers' cron threads

    def wait_sent(self, env, moves, timeout=1800):
        started = time.time()
        while time.time() - started < timeout:
            env.cr.commit()  # a new snapshot: the servers' commits become visible
            env.invalidate_all()
            left = env["account.move"].search_count(
                [("id", "in", moves.ids), ("bookkeeping_state", "in", ("to_send", "sending"))]
            )
            if not left:
                return time.time()
            if any(server.poll() is not None for server in self.servers):
                raise RuntimeError("an Odoo server stopped during the run (killed from outside?)")
            time.sleep(0.5)
        raise RuntimeError(f"{left} invoices were still waiting after {timeout} s")

    def remote_entries(self, code=None):
        """The booked documents of one administration (None: the main link's)."""
        state = self.control("GET", f"/state/{self.service}")
        if code is None:
            return self.recipe.remote_documents(state)
        return self.workers["remote_documents"](state, code)

    def rate_limit_on(self):
        self.control("POST", *self.hooks["rate_limit_on"](WINDOW, LIMIT))

    def latency(self, milliseconds):
        self.control("POST", f"/faults/{self.service}", {"latency_ms": milliseconds})

    def company_invoices(self, env, company, taxes, revenue, partners, count, offset):
        Move = env["account.move"].with_company(company)
        vals = [
            {
                "move_type": "out_invoice",
                "company_id": company.id,
                "partner_id": partners[(offset + i) % len(partners)].id,
                "invoice_date": date(2025, 6, 2),
                "invoice_line_ids": [
                    (
                        0,
                        0,
                        {
                            "name": f"Advies {offset + i}",
                            "quantity": 1 + i % 3,
                            "price_unit": round(19.99 + (i * 7) % 300 + 0.01 * (i % 97), 2),
                            "tax_ids": [(6, 0, taxes[21.0 if i % 2 else 9.0].ids)],
                            "account_id": revenue.id,
                        },
                    )
                ],
            }
            for i in range(count)
        ]
        moves = Move.create(vals)
        moves.action_post()
        return moves

    # ------------------------------------------------------------------ measures

    def three_servers_one_division(self, env, invoices):
        say(f"Three servers push {invoices} invoices to one division ({LIMIT} per {WINDOW} s) ...")
        moves = self._invoices(env, invoices, 20_000)
        self.backend.push_lanes = 3
        env.cr.commit()
        self.start_servers(3, 1)
        self.rate_limit_on()
        env["bookkeeping.rate.budget"]._forget_all()
        before = len(self.remote_entries())
        self.reset_stats()
        # Start on a window boundary: "budget used" then measures the workers, not the luck
        # of starting late in a window whose budget cannot be spent in the time left.
        time.sleep(WINDOW - time.time() % WINDOW + 0.05)
        started = time.time()
        self.queue(env, [(self.backend, moves)])
        ended = self.wait_sent(env, moves)
        stats = self.stats()
        self.stop_servers()
        env.invalidate_all()
        done = moves.filtered(lambda m: m.bookkeeping_state == "done")
        calls = self._division_calls(stats)  # only this division is called here
        windows = int(ended // WINDOW) - int(started // WINDOW) + 1
        created = len(self.remote_entries()) - before
        result = {
            "servers_invoices": len(moves),
            "servers_sent": len(done),
            "servers_calls": calls,
            "servers_windows": windows,
            "servers_budget_use": round(calls / (windows * LIMIT), 3),
            "servers_http_429": stats.get("status", {}).get("429", 0),
            "servers_remote_duplicates": created - len(done),
            "servers_seconds": round(ended - started, 1),
            "servers_requests": {
                key: count
                for key, count in stats.get("requests", {}).items()
                if "/oauth2/" not in key
            },
        }
        say(
            f"  {calls} calls in {windows} windows ({result['servers_seconds']} s): "
            f"{result['servers_budget_use']:.0%} of the budget, "
            f"{result['servers_http_429']} x 429, {result['servers_remote_duplicates']} duplicates"
        )
        return result

    def many_links(self, env, links, per_link):
        say(f"Setting up {links} companies, each linked to its own division ...")
        codes = self.workers["administrations"](links)
        self.control("POST", *self.workers["add_administrations"](codes))
        eur, nl = env.ref("base.EUR"), env.ref("base.nl")
        partners = self.partners[:10]
        new_companies = env["res.company"].create(
            [
                {"name": f"Kantoor {code} BV", "country_id": nl.id, "currency_id": eur.id}
                for code in codes
            ]
        )
        env.user.company_ids |= new_companies
        env.cr.commit()  # a new company gets its chart of accounts when it is committed
        companies = []
        for code, company in zip(codes, new_companies, strict=True):
            cenv = env(context=dict(env.context, allowed_company_ids=[company.id]))
            company = cenv["res.company"].browse(company.id)
            taxes = {
                rate: cenv["account.tax"].create(
                    {
                        "name": f"BTW {rate:g}% (bench)",
                        "amount": rate,
                        "type_tax_use": "sale",
                        "company_id": company.id,
                    }
                )
                for rate in (21.0, 9.0)
            }
            revenue = cenv["account.account"].search(
                [("account_type", "=", "income"), ("company_ids", "in", company.id)], limit=1
            )
            backend = sandbox_link.link(
                cenv,
                company,
                self.service,
                self.url,
                taxes,
                revenue,
                administration=str(code),
                invoice_mode="odoo",
                push_on_post=False,
                attach_pdf=False,
            )
            if backend.administration_code != str(code):
                raise RuntimeError(f"{backend.name} books in {backend.administration_code}")
            client = backend._client()
            for partner in partners:
                backend._push_partner(client, partner)
            cenv["bookkeeping.log"]._flush_collector(client)
            alone = self.company_invoices(cenv, company, taxes, revenue, partners, per_link, 0)
            together = self.company_invoices(
                cenv, company, taxes, revenue, partners, per_link, per_link
            )
            companies.append((backend, alone, together))
            env.cr.commit()
        self.rate_limit_on()
        self.latency(self.args.latency_ms)
        env["bookkeeping.rate.budget"]._forget_all()
        if self.args.queue_job:
            self.start_servers(1, 1, queue_job=True)  # the cron thread: the dispatcher
        else:
            self.start_servers(2, 2)
        self.reset_stats()
        say(f"One link alone: {per_link} invoices ...")
        backend, alone, _together = companies[0]
        time.sleep(WINDOW - time.time() % WINDOW + 0.05)
        started = time.time()
        self.queue(env, [(backend, alone)])
        one_seconds = self.wait_sent(env, alone) - started
        say(f"  {one_seconds:.1f} s")
        say(f"{links} links at once: {links * per_link} invoices ...")
        time.sleep(WINDOW - time.time() % WINDOW + 0.05)
        started = time.time()
        everything = env["account.move"].browse()
        for _backend, _alone, together in companies:
            everything |= together
        self.queue(env, [(b, together) for b, _alone, together in companies])
        all_seconds = self.wait_sent(env, everything) - started
        stats = self.stats()
        self.stop_servers()
        self.latency(0)
        env.invalidate_all()
        sent = everything.filtered(lambda m: m.bookkeeping_state == "done")
        duplicates = sum(len(self.remote_entries(code)) for code in codes) - len(
            (everything | alone).filtered(lambda m: m.bookkeeping_state == "done")
        )
        one_rate = per_link / one_seconds
        all_rate = len(everything) / all_seconds
        result = {
            "links": links,
            "links_invoices_per_link": per_link,
            "links_one_seconds": round(one_seconds, 1),
            "links_all_seconds": round(all_seconds, 1),
            "links_throughput_ratio": round(all_rate / one_rate, 2),
            "links_sent": len(sent),
            "links_http_429": stats.get("status", {}).get("429", 0),
            "links_remote_duplicates": duplicates,
            "links_latency_ms": self.args.latency_ms,
            "links_runner": f"queue_job {QUEUE_JOB_CHANNELS}" if self.args.queue_job else "crons",
        }
        if self.args.queue_job:
            env.cr.execute(
                "SELECT state, count(*) FROM queue_job WHERE method_name = %s GROUP BY state",
                ["_push_link_job"],
            )
            result["links_jobs"] = dict(env.cr.fetchall())
        say(
            f"  {all_seconds:.1f} s: {result['links_throughput_ratio']}x the throughput of one "
            f"link, {result['links_http_429']} x 429, {duplicates} duplicates"
        )
        return result

    def run(self):
        if self.args.queue_job:
            if not odoo_env.ensure_queue_job():
                return {"bench": "workers", "skipped": "queue_job could not be fetched"}
            self.args.part = "links"  # the three servers share one budget through crons
        self._start()
        from odoo import SUPERUSER_ID, api  # noqa: PLC0415

        result = {"bench": "workers"}
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            say("Setting up the link, partners and invoices ...")
            self.args.partners = min(self.args.partners, 50)
            self._link_with_partners(env)
            if self.args.part in ("all", "servers"):
                result.update(self.three_servers_one_division(env, self.args.invoices))
                self.control("POST", *self.hooks["rate_limit_off"])
            if self.args.part in ("all", "links"):
                result.update(self.many_links(env, self.args.links, self.args.per_link))
        return result


def workers_services():
    return [
        name
        for name, recipe in sandbox_link.registry.recipes().items()
        if hasattr(recipe, "WORKERS")
    ]


def run(args, src):
    return WorkersBench.measure(args, src)
