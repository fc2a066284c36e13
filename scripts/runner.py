"""./run demo | test | sandbox | bench SERVICE  (see README.md).

``test`` runs the pure tests of clients/ and sandbox/, then the Odoo suite in a database
made for the run, plus install/upgrade/uninstall checks, and ends with ``N passed, N failed``.
"""

import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import odoo_env  # noqa: E402
from odoo_env import MODULE, ROOT, SetupError  # noqa: E402

LOG_DIR = os.path.join(odoo_env.VENV, "logs")
REPORT_RE = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests")
# Log lines that mean trouble even when the test report is green (install errors).
BAD_LOG_RE = re.compile(r"^\S+ \S+ \d+ (ERROR|CRITICAL) ")


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def add(self, passed, failed):
        self.passed += passed
        self.failed += failed


def run_pure(tally):
    os.makedirs(LOG_DIR, exist_ok=True)
    junit = os.path.join(LOG_DIR, "pure.xml")
    if os.path.exists(junit):
        os.unlink(junit)
    print("== Pure tests (clients/, sandbox/) ==", flush=True)
    result = subprocess.run(
        # The repository root is the addon package (its __init__ imports odoo): pytest is
        # rooted in tests/pure so it never imports it.
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            "tests/pure/pytest.ini",
            "--rootdir",
            "tests/pure",
            "tests/pure",
            "-q",
            f"--junitxml={junit}",
        ],
        cwd=ROOT,
        check=False,
    )
    if not os.path.exists(junit):
        print("pytest did not produce a report: counted as one failure", flush=True)
        tally.add(0, 1)
        return
    suite = ET.parse(junit).getroot()
    suites = [suite] if suite.tag == "testsuite" else list(suite)
    total = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    tally.add(total - failed - skipped, failed)
    if result.returncode not in (0, 1):
        print(f"pytest exited with {result.returncode}", flush=True)


def _odoo_run(src, db, extra, log_name, timeout=3600):
    """Run odoo-bin, keep its whole log in the venv's logs/, echo only what matters."""
    log_path = os.path.join(LOG_DIR, log_name)
    cmd = odoo_env.odoo_base_args(src, db) + extra
    started = time.time()
    bad = []
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        report = None
        for line in proc.stdout:
            log.write(line)
            match = REPORT_RE.search(line)
            if match and "when loading database" in line:
                report = tuple(int(x) for x in match.groups())
            if BAD_LOG_RE.match(line) or line.startswith(("FAIL:", "ERROR:")):
                bad.append(line.rstrip())
                print("   " + line.rstrip()[:400], flush=True)
            elif " INFO " in line and (": Starting " in line and "tests" not in line):
                pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            bad.append("timeout")
    return proc.returncode, report, bad, time.time() - started, log_path


def _write_config(src, path):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(
            "[options]\n"
            f"addons_path = {odoo_env.addons_path(src)}\n"
            f"db_host = {odoo_env.DB_HOST}\n"
            f"db_port = {odoo_env.DB_PORT}\n"
            f"db_user = {odoo_env.DB_USER}\n"
        )


def _run_suite(src, db, module, tags, log_name, label, tally):
    """Install ``module`` in a fresh ``db`` with its tests, and count what the report says."""
    odoo_env.drop_db(db)
    print(f"== {label} (database {db}) ==", flush=True)
    rc, report, bad, seconds, log_path = _odoo_run(
        src,
        db,
        [
            "-i",
            module,
            "--test-enable",
            "--test-tags",
            tags,
            "--stop-after-init",
            f"--http-port={odoo_env.free_port()}",
            "--http-interface=127.0.0.1",
            "--log-level=info",
            "--max-cron-threads=0",
        ],
        log_name,
    )
    if report:
        failures, errors, total = report
        tally.add(total - failures - errors, failures + errors)
        print(
            f"   {label}: {total - failures - errors} passed, {failures + errors} failed "
            f"in {seconds:.0f} s (log: {log_path})",
            flush=True,
        )
        extra = [b for b in bad if not b.startswith(("FAIL:", "ERROR:"))]
        if extra and failures + errors == 0:
            print("   errors were logged outside tests: counted as one failure", flush=True)
            tally.add(0, 1)
        return failures + errors == 0 and not extra
    print(f"   the Odoo run ended without a test report (rc={rc}): see {log_path}", flush=True)
    tally.add(0, 1)
    return False


def glue_addons():
    """The addons in glue/ (each one joins the main addon to another addon)."""
    if not os.path.isdir(odoo_env.GLUE):
        return []
    return sorted(
        name
        for name in os.listdir(odoo_env.GLUE)
        if os.path.isfile(os.path.join(odoo_env.GLUE, name, "__manifest__.py"))
    )


def _upgrade_check(label, db, module):
    return (label, db, ["-u", module, "--stop-after-init", "--http-port=0"], None)


def _uninstall_check(src, label, db, module):
    """``odoo-bin module uninstall`` reads its addons path from a configuration file."""
    conf = os.path.join(LOG_DIR, "odoo.conf")
    odoo_bin = os.path.join(src, "odoo-bin")
    return (
        label,
        db,
        None,
        [sys.executable, odoo_bin, "module", "uninstall", "-c", conf, "-d", db, module],
    )


def _run_checks(src, suite_db, checks, tally):
    """Each check is (label, database, odoo-bin arguments, or a whole command): one line
    each, ``ok`` or ``FAIL``, counted as one test. A database other than the suite's is
    made afresh."""
    conf = os.path.join(LOG_DIR, "odoo.conf")
    _write_config(src, conf)
    failed = 0
    for label, check_db, args, raw_cmd in checks:
        if raw_cmd:
            result = subprocess.run(raw_cmd, cwd=ROOT, capture_output=True, text=True, check=False)
            errors = [
                line
                for line in (result.stdout + result.stderr).splitlines()
                if BAD_LOG_RE.match(line) or line.startswith("Traceback")
            ]
            ok = result.returncode == 0 and not errors
            if not ok:
                print("   " + "\n   ".join((errors or [result.stderr[-500:]])[:5]), flush=True)
        else:
            if check_db != suite_db:
                odoo_env.drop_db(check_db)
            rc, _report, bad, _s, _log = _odoo_run(src, check_db, args, f"check-{check_db}.log")
            ok = rc == 0 and not bad
        print(f"   {'ok  ' if ok else 'FAIL'} {label}", flush=True)
        tally.add(1 if ok else 0, 0 if ok else 1)
        failed += not ok
    return not failed


def run_glue_suites(src, tally):
    """Each glue addon's own tests, in a database of its own, so that the main suite runs
    without the addons the glue joins in (queue_job takes the pushes over when installed)."""
    if not glue_addons():
        return
    if not odoo_env.ensure_queue_job():
        return
    for addon in glue_addons():
        db = f"abl_glue_{os.getpid()}"
        if not _run_suite(src, db, addon, f"/{addon}", f"odoo-{addon}.log", addon, tally):
            continue  # kept for a look
        if "checks" in _parts():
            print(f"== Install checks of {addon} ==", flush=True)
            # Uninstalling the glue gives the pushes back to the links' crons.
            checks = [
                _upgrade_check(f"upgrade (-u) of {addon}", db, addon),
                _uninstall_check(src, f"uninstall {addon}", db, addon),
                _upgrade_check(f"upgrade (-u) of {MODULE} without {addon}", db, MODULE),
            ]
            if not _run_checks(src, db, checks, tally):
                continue
        if not os.environ.get("KEEP_TEST_DB"):
            odoo_env.drop_db(db)


def run_odoo_suite(src, tally):
    odoo_env.ensure_postgres()
    db = f"abl_test_{os.getpid()}"
    _run_suite(
        src,
        db,
        MODULE,
        # ODOO_TEST_TAGS narrows the suite while working ("/account_bookkeeping_link:TestX").
        os.environ.get("ODOO_TEST_TAGS") or f"/{MODULE}",
        "odoo-tests.log",
        "Odoo suite",
        tally,
    )

    if "checks" not in _parts():
        return
    print("== Install checks ==", flush=True)
    _run_checks(
        src,
        db,
        [
            _upgrade_check("upgrade (-u) of an installed database", db, MODULE),
            _uninstall_check(src, "uninstall", db, MODULE),
            (
                "install next to l10n_nl",
                f"{db}_nl",
                ["-i", f"l10n_nl,{MODULE}", "--stop-after-init", "--http-port=0"],
                None,
            ),
            _uninstall_check(src, "uninstall next to l10n_nl", f"{db}_nl", MODULE),
        ],
        tally,
    )
    if tally.failed == 0 and not os.environ.get("KEEP_TEST_DB"):
        odoo_env.drop_db(db)
        odoo_env.drop_db(f"{db}_nl")


def _parts():
    """ABL_PARTS=pure | odoo | odoo,checks | glue runs part of the suite while working; the
    default (and CI) runs all four."""
    return set(os.environ.get("ABL_PARTS", "pure,odoo,checks,glue").split(","))


def cmd_test():
    started = time.time()
    tally = Tally()
    src = odoo_env.find_odoo_src()
    odoo_env.ensure_requirements(src)
    parts = _parts()
    if "pure" in parts:
        run_pure(tally)
    if not parts & {"odoo", "glue"}:
        print("Odoo suite not asked for (ABL_PARTS).", flush=True)
    elif not src:
        print(f"Odoo suite skipped: {odoo_env.no_odoo_reason()}", flush=True)
    else:
        if tuple(odoo_env.odoo_version(src)) != (19, 0):
            raise SetupError(f"{src} is not Odoo 19.0: point ODOO_SRC at an Odoo 19.0 tree.")
        if "odoo" in parts:
            odoo_env.ensure_browser()  # the tours skip themselves (one line) without it
            run_odoo_suite(src, tally)
        if "glue" in parts:
            odoo_env.ensure_postgres()
            run_glue_suites(src, tally)
    print(f"(test command took {time.time() - started:.0f} s)", flush=True)
    print(f"{tally.passed} passed, {tally.failed} failed", flush=True)
    return 1 if tally.failed else 0


def cmd_sandbox(argv):
    odoo_env.ensure_requirements(odoo_env.find_odoo_src())
    os.execv(sys.executable, [sys.executable, "-m", "sandbox", *argv])


def cmd_bench(argv):
    odoo_env.ensure_requirements(odoo_env.find_odoo_src())
    os.chdir(ROOT)
    os.execv(sys.executable, [sys.executable, "-m", "bench", *argv])


def ensure_wkhtmltopdf():
    """Odoo renders invoice PDFs with wkhtmltopdf. Without it invoices are still booked (the
    PDF follows once it can be made), but the demo should show them with their PDF: install
    the Debian package when we can (root and apt-get), otherwise say how, in one line."""
    import shutil  # noqa: PLC0415

    if shutil.which("wkhtmltopdf"):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("Installing wkhtmltopdf (Debian package) for the invoice PDFs ...", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "--no-install-recommends", "wkhtmltopdf"]
        for cmd in (install, ["apt-get", "update"], install):
            result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if cmd is install and result.returncode == 0 and shutil.which("wkhtmltopdf"):
                return True
    print(
        "wkhtmltopdf is missing: invoices are booked without their PDF until it is "
        "installed (sudo apt-get install wkhtmltopdf).",
        flush=True,
    )
    return False


def cmd_demo():
    src = odoo_env.require_odoo_src()
    odoo_env.ensure_requirements(src)
    odoo_env.ensure_postgres()
    ensure_wkhtmltopdf()
    odoo_port = int(os.environ.get("ODOO_PORT", "8069"))
    sandbox_port = int(os.environ.get("SANDBOX_PORT", "8079"))
    odoo_env.require_port(odoo_port, "Odoo", "ODOO_PORT")
    odoo_env.require_port(sandbox_port, "sandbox", "SANDBOX_PORT")
    db = os.environ.get("DEMO_DB", "bookkeeping_demo")
    var = os.path.join(ROOT, "var")
    os.makedirs(var, exist_ok=True)
    os.makedirs(LOG_DIR, exist_ok=True)
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    sandbox = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(sandbox_port),
            "--db",
            os.path.join(var, "sandbox.sqlite3"),
        ],
        cwd=ROOT,
    )
    try:
        _wait_http(sandbox_url + "/_sandbox/clock", sandbox)
        new_db = _db_missing(db)
        if new_db:
            print(f"Creating the demo database {db} (a few minutes) ...", flush=True)
            rc, _r, bad, _s, log_path = _odoo_run(
                # account_peppol up front: Odoo installs it for Dutch companies anyway, and
                # an install in the middle of the demo script would swap the registry.
                src,
                db,
                ["-i", f"l10n_nl,account_peppol,{MODULE}", "--stop-after-init", "--http-port=0"],
                "demo-install.log",
            )
            if rc:
                raise SetupError(f"Installing the demo database failed: see {log_path}")
        print("Linking the demo company to the sandbox and loading sample data ...", flush=True)
        result = subprocess.run(
            [
                sys.executable,
                os.path.join(ROOT, "scripts", "demo_data.py"),
                db,
                sandbox_url,
                f"http://localhost:{odoo_port}",
            ],
            cwd=ROOT,
            check=False,
        )
        if result.returncode:
            raise SetupError("Loading the demo data failed (see above).")
        print(
            f"\nOdoo: http://localhost:{odoo_port}  (login admin / password admin)\n"
            f"Sandbox: {sandbox_url}  ({_mounts()})\nStop with Ctrl-C.",
            flush=True,
        )
        server = subprocess.run(
            odoo_env.odoo_base_args(src, db)
            + [f"--http-port={odoo_port}", "--http-interface=127.0.0.1"],
            cwd=ROOT,
            check=False,
        )
        return server.returncode
    finally:
        sandbox.terminate()


def _db_missing(db):
    result = odoo_env._psql(
        f"SELECT 1 FROM pg_database WHERE datname = '{db}'", user=odoo_env.DB_USER
    )
    if result.stdout.strip() != "1":
        return True
    # A half-made database (interrupted install) is made again.
    probe = odoo_env._psql(
        f"SELECT state FROM ir_module_module WHERE name = '{MODULE}'", user=odoo_env.DB_USER, db=db
    )
    if probe.stdout.strip() != "installed":
        odoo_env.drop_db(db)
        return True
    return False


def _wait_http(url, proc, seconds=20):
    import urllib.request  # noqa: PLC0415

    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SetupError("The sandbox did not start (see above).")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (loopback)
                return
        except OSError:
            time.sleep(0.2)
    raise SetupError(f"The sandbox did not answer on {url}.")


def _mounts():
    """'Exact Online under /exact, ...' for every registered sandbox service."""
    sys.path.insert(0, ROOT)
    from sandbox import registry  # noqa: PLC0415

    return ", ".join(f"{recipe.LABEL} under /{name}" for name, recipe in registry.recipes().items())


def main(argv):
    if not argv or argv[0] not in ("demo", "test", "sandbox", "bench"):
        print("usage: ./run demo | test | sandbox [--port N] | bench SERVICE|sandbox")
        return 2
    try:
        if argv[0] == "test":
            return cmd_test()
        if argv[0] == "demo":
            return cmd_demo()
        if argv[0] == "sandbox":
            return cmd_sandbox(argv[1:])
        return cmd_bench(argv[1:])
    except SetupError as error:
        print(str(error), flush=True)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
