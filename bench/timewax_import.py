"""python -m bench timewax [--invoices N]: import N Timewax invoices of 3 lines each.

Measures, in a real Odoo on a database made for the run with the sandbox in its own
process: SQL queries per invoice, Timewax calls per 1000 invoices, the ratio of the import
time to the time Odoo takes to create and post the same invoices from Python in the same
run, and a second run that finds nothing new (0 created, 0 updated) and its time.
"""
# A standalone script owns its transaction: it commits like a cron would.
# pylint: disable=invalid-commit

import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta

import odoo_env
import requests

DEBTORS = 100


def _service():
    """The service whose recipe names this module as its import benchmark."""
    from sandbox import registry  # noqa: PLC0415

    return next(
        name
        for name, recipe in registry.recipes().items()
        if getattr(recipe, "IMPORT_BENCH", None) == __name__
    )


RATES = {"21": 21, "9": 9}


def say(text):
    print(text, flush=True)


def _invoice(n):
    """Timewax invoice ``n`` as the sandbox stores it: 3 lines, two VAT rates."""
    debtor = n % DEBTORS
    lines = []
    for j in range(3):
        code = "21" if (n + j) % 3 else "9"
        excl = round(9.99 + (n * 7 + j * 13) % 500 + 0.01 * (n % 97), 2)
        vat = round(excl * RATES[code] / 100 + 1e-9, 2)
        lines.append(
            {
                "description": f"Werk {j + 1}",
                "amountExclVat": excl,
                "vatCode": code,
                "vatAmount": vat,
                "amountInclVat": round(excl + vat, 2),
                "items": [
                    {
                        "rawDate": "2027-02-01",
                        "resourceCode": "R01",
                        "resourceName": "Jan Jansen",
                        "breakdownCode": "",
                        "breakdownName": "",
                        "hours": "2.00",
                        "rate": f"{excl / 2:.2f}",
                        "km": "",
                        "amount": excl,
                        "description": f"Taak {j + 1}",
                    }
                ],
            }
        )
    raw = (date(2027, 2, 1) + timedelta(days=n % 28)).isoformat()
    return {
        "id": 100000 + n,
        "period": raw[:7],
        "rawDate": raw,
        "number": f"B{2026000000 + n}",
        "creditNote": "No",
        "amountInclVat": round(sum(li["amountInclVat"] for li in lines), 2),
        "clientCode": f"BC{debtor:03d}",
        "clientName": f"Bench Klant {debtor:03d} BV",
        "projectCode": f"BP{debtor % 10}",
        "projectName": f"Bench project {debtor % 10}",
        "currencyCode": "EUR",
        "invoiceReference1": f"PO-{n}",
        "debtorName": f"Bench Klant {debtor:03d} BV",
        "debtorAttn": "",
        "debtorPostcode": "1234 AB",
        "debtorCity": "Utrecht",
        "debtorCountry": "NL",
        "debtorNumber": f"BD{debtor:03d}",
        "debtorEmail": f"klant{debtor:03d}@example.nl",
        "lines": lines,
    }


class TimewaxBench:
    def __init__(self, args, src):
        self.args = args
        self.src = src
        self.service = _service()
        self.db = os.environ.get("BENCH_DB", f"abl_bench_{self.service}")
        self.sandbox = self.sandbox_db = self.url = self.registry = None

    def control(self, method, path, body=None):
        response = requests.request(
            method, f"{self.url}/_sandbox{path}", json=body or {}, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def _calls(self):
        return self.control("GET", f"/stats/{self.service}")["total"]

    def _start(self):
        odoo_env.drop_db(self.db)
        say(f"Creating database {self.db} ...")
        cmd = odoo_env.odoo_base_args(self.src, self.db) + [
            "-i",
            odoo_env.MODULE,
            "--stop-after-init",
            "--http-port=0",
            "--log-level=warn",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode:
            sys.stderr.write(result.stdout[-2000:] + result.stderr[-2000:])
            raise RuntimeError("installing the addon failed")
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
                requests.get(f"{self.url}/_sandbox/state/{self.service}", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the sandbox did not start")

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

    def _setup(self, env):
        company = env.company
        company.country_id = env.ref("base.nl")
        eur = env.ref("base.EUR")
        eur.active = True
        company.currency_id = eur
        # Timewax rounds the VAT per line; a company that rounds globally gets its invoices
        # flagged (a cent off), as the importer must.
        company.tax_calculation_rounding_method = "round_per_line"
        taxes = {
            code: env["account.tax"].create(
                {
                    "name": f"BTW {rate}% (bench)",
                    "amount": rate,
                    "type_tax_use": "sale",
                    "company_id": company.id,
                }
            )
            for code, rate in RATES.items()
        }
        self.backend = env["bookkeeping.backend"].create(
            {
                "name": "Timewax bench",
                "service": self.service,
                "company_id": company.id,
                "timewax_base_url": f"{self.url}/{self.service}",
                "timewax_client": "sandbox",
                "timewax_username": "api-user",
                "timewax_password": "secret",
                "timewax_post": True,
                "timewax_cron_active": False,
            }
        )
        env["bookkeeping.timewax.vat.code"].create(
            [
                {"backend_id": self.backend.id, "code": code, "tax_id": tax.id}
                for code, tax in taxes.items()
            ]
        )
        self.taxes = taxes

    def _baseline(self, env, invoices):
        """Odoo creating and posting the same invoices from Python, in batches of 100
        with a commit each, as the import does; the partners already exist."""
        Move = env["account.move"]
        journal = env["account.journal"].search(
            [("company_id", "=", env.company.id), ("type", "=", "sale")], limit=1
        )
        partners = {p.ref: p.id for p in env["res.partner"].search([("ref", "like", "BD%")])}
        started = time.perf_counter()
        for start in range(0, len(invoices), 100):
            vals = [
                {
                    "move_type": "out_invoice",
                    "partner_id": partners[inv["debtorNumber"]],
                    "journal_id": journal.id,
                    "invoice_date": date.fromisoformat(inv["rawDate"]),
                    "ref": inv["number"],
                    "invoice_line_ids": [
                        (
                            0,
                            0,
                            {
                                "name": line["description"],
                                "quantity": 1.0,
                                "price_unit": line["amountExclVat"],
                                "tax_ids": [(6, 0, self.taxes[line["vatCode"]].ids)],
                            },
                        )
                        for line in inv["lines"]
                    ],
                }
                for inv in invoices[start : start + 100]
            ]
            Move.create(vals).action_post()
            env.cr.commit()
        return time.perf_counter() - started

    def run(self):
        self._start()
        _odoo, self.registry = odoo_env.odoo_env(self.db, self.src)
        from odoo import SUPERUSER_ID, api, sql_db  # noqa: PLC0415

        count = self.args.invoices
        result = {"service": self.service, "invoices": count}
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            self._setup(env)
            cr.commit()
            say(f"Loading {count} Timewax invoices of 3 lines into the sandbox ...")
            self.control("POST", f"/{self.service}/config", {"rate_limit_enabled": True})
            invoices = [_invoice(n) for n in range(count + 5)]
            session = requests.Session()
            for inv in invoices:
                session.post(
                    f"{self.url}/_sandbox/{self.service}/invoices", json=inv, timeout=30
                ).raise_for_status()
            # Warm-up on 5 invoices of their own day: token, caches, first connections.
            for i, inv in enumerate(invoices[count:]):
                inv.update(rawDate="2027-04-01", number=f"W{i}")
                session.post(
                    f"{self.url}/_sandbox/{self.service}/invoices", json=inv, timeout=30
                ).raise_for_status()
            self.backend._timewax_import(date(2027, 4, 1), date(2027, 4, 1))
            cr.commit()

            say(f"Importing {count} invoices (posted under their Timewax numbers) ...")
            self.control("POST", f"/stats/{self.service}/reset")
            queries0, started = sql_db.sql_counter, time.perf_counter()
            first = self.backend._timewax_import(date(2027, 2, 1), date(2027, 2, 28))
            cr.commit()
            import_s = time.perf_counter() - started
            queries = sql_db.sql_counter - queries0
            calls = self._calls()
            say(
                f"  {first['created']} created, {first['posted']} posted, "
                f"{first['failed']} failed in {import_s:.1f} s"
            )

            say(f"Odoo creating and posting the same {count} invoices from Python ...")
            env.invalidate_all()
            baseline_s = self._baseline(env, invoices[:count])

            say("A second run that finds nothing new ...")
            self.control("POST", f"/stats/{self.service}/reset")
            env.invalidate_all()
            queries1, started = sql_db.sql_counter, time.perf_counter()
            second = self.backend._timewax_import(date(2027, 2, 1), date(2027, 2, 28))
            cr.commit()
            second_s = time.perf_counter() - started
            result.update(
                {
                    "created": first["created"],
                    "posted": first["posted"],
                    "failed": first["failed"],
                    "flagged": first["flagged"],
                    "reasons": first["reasons"][:4],
                    "queries_per_invoice": round(queries / count, 1),
                    "timewax_calls_per_1000": round(calls * 1000 / count, 1),
                    "import_seconds": round(import_s, 2),
                    "baseline_create_post_seconds": round(baseline_s, 2),
                    "import_to_baseline_ratio": round(import_s / baseline_s, 2),
                    "second_run_created": second["created"],
                    "second_run_updated": second["updated"],
                    "second_run_skipped": second["skipped"],
                    "second_run_seconds": round(second_s, 2),
                    "second_run_queries": sql_db.sql_counter - queries1,
                    "second_run_timewax_calls": self._calls(),
                }
            )
        return result


def run(args, src):
    bench = TimewaxBench(args, src)
    try:
        return bench.run()
    finally:
        bench.close()
