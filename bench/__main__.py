"""python -m bench SERVICE [--invoices N] [--partners N] [--keep-db]
python -m bench SERVICE --collective [--invoices N]   (collective booking of B2C invoices)
python -m bench sandbox [--requests N]   (the sandbox's own throughput; no Odoo needed)
python -m bench workers [--invoices 300] [--links 10] [--per-link 100] [--latency-ms 100]
    [--part all|servers|links] [--queue-job]
    (real odoo-bin servers pushing at once: bench/workers.py)

SERVICE is any sandbox service whose recipe (``sandbox/<service>/recipe.py``) has ``BENCH``.
Benchmarks of the invoice push against the sandbox, in a real Odoo on a database made for
the run, with the sandbox in its own process (so it is never the bottleneck). Prints what it
measures and ends with one JSON line:

calls_per_invoice, calls_per_invoice_pdf, queries_per_invoice, invoices_per_second,
ms_per_invoice, push_to_post_ratio, memory_growth_mb, sync_calls_per_1000, remote_duplicates,
http_429, rate_use (+ details).
"""

import argparse
import importlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _reexec_in_venv():
    """Use the project's virtualenv when run with another interpreter."""
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import odoo_env  # noqa: PLC0415

    venv_python = os.path.join(odoo_env.VENV, "bin", "python")
    try:
        import psycopg2  # noqa: F401, PLC0415
        import requests_oauthlib  # noqa: F401, PLC0415
    except ImportError:
        if os.path.exists(venv_python) and os.path.realpath(sys.executable) != os.path.realpath(
            venv_python
        ):
            os.execv(venv_python, [venv_python, "-m", "bench", *sys.argv[1:]])
        print("Run ./run bench SERVICE: it creates the virtualenv with the requirements.")
        sys.exit(2)


def main():
    sys.path.insert(0, ROOT)
    from sandbox import registry  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m bench")
    # Import sources measure their importer instead (their recipe's IMPORT_BENCH module).
    imports = {
        name: recipe.IMPORT_BENCH
        for name, recipe in registry.recipes().items()
        if getattr(recipe, "IMPORT_BENCH", None)
    }
    parser.add_argument(
        "service", choices=[*registry.bench_services(), *imports, "sandbox", "workers"]
    )
    parser.add_argument(
        "--requests", type=int, default=500, help="GETs per endpoint (bench sandbox)"
    )
    parser.add_argument("--invoices", type=int, default=None, help="1000; 300 for workers")
    parser.add_argument("--links", type=int, default=10, help="links at once (bench workers)")
    parser.add_argument("--per-link", type=int, default=100, help="invoices per link (workers)")
    parser.add_argument(
        "--latency-ms", type=int, default=100, help="the sandbox's answer time (bench workers)"
    )
    parser.add_argument("--part", choices=("all", "servers", "links"), default="all")
    parser.add_argument(
        "--queue-job",
        action="store_true",
        help="bench workers: the links push as OCA queue_job jobs (the glue addon) on one "
        "server whose job runner has root:4",
    )
    parser.add_argument(
        "--workers-service", default=None, help="bench workers: a service whose recipe has WORKERS"
    )
    parser.add_argument("--partners", type=int, default=200)
    parser.add_argument("--pdf-invoices", type=int, default=50)
    parser.add_argument("--rate-invoices", type=int, default=300)
    parser.add_argument(
        "--rate-window",
        type=int,
        default=20,
        help="seconds of the sandbox's shortened 60-call window (services with a rate run)",
    )
    parser.add_argument(
        "--collective",
        action="store_true",
        help="collective booking: --invoices B2C invoices of one day (bench/collective.py)",
    )
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    if args.invoices is None:
        args.invoices = 300 if args.service == "workers" else 1000
    _reexec_in_venv()
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    sys.path.insert(0, ROOT)
    if args.service == "sandbox":
        from bench import sandbox_throughput  # noqa: PLC0415

        print(json.dumps(sandbox_throughput.run(ROOT, args.requests), sort_keys=True))
        return 0
    import odoo_env  # noqa: PLC0415

    from bench.harness import Bench  # noqa: PLC0415

    try:
        src = odoo_env.require_odoo_src()
        odoo_env.ensure_postgres()
    except odoo_env.SetupError as error:
        print(str(error))
        return 2
    if args.service == "workers":
        from bench import workers  # noqa: PLC0415

        print(json.dumps(workers.run(args, src), sort_keys=True))
        return 0
    if args.service in imports:
        result = importlib.import_module(imports[args.service]).run(args, src)
        print(json.dumps(result, sort_keys=True))
        return 0
    if args.collective:
        from bench import collective  # noqa: PLC0415

        print(json.dumps(collective.run(args, src), sort_keys=True))
        return 0
    print(json.dumps(Bench.measure(args, src), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
