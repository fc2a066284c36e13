"""Find Odoo 19, prepare PostgreSQL and the addons path; shared by the runner and bench/.

Every failure is a ``SetupError`` whose text is one line that says what to do.
"""

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Outside the repository (see ./run): Odoo walks an addon's folder following symlinks.
VENV = os.environ.get("ABL_VENV") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
    "account_bookkeeping_link",
    "venv-" + hashlib.sha1(ROOT.encode()).hexdigest()[:10],
)
MODULE = "account_bookkeeping_link"
# Addons of this repository that are not the main addon (glue/<addon>/), on the addons path.
GLUE = os.path.join(ROOT, "glue")
# OCA's queue_job, fetched from PyPI once (never committed): glue/'s queue_job addon needs it.
EXTRA_ADDONS = os.path.join(VENV, "extra-addons")
QUEUE_JOB_REQUIREMENT = "odoo-addon-queue-job>=19.0,<19.1"
DB_HOST = os.environ.get("PGHOST", "127.0.0.1")
DB_PORT = int(os.environ.get("PGPORT", "5432"))
DB_USER = os.environ.get("ODOO_DB_USER", "odoo")


class SetupError(Exception):
    """A set-up problem with a one-line remedy."""


def find_odoo_src():
    """The Odoo 19 tree: $ODOO_SRC, then an importable ``odoo``, then /opt/odoo/19.0."""
    candidates = []
    if os.environ.get("ODOO_SRC"):
        # An explicit choice is final: a wrong ODOO_SRC is reported, not silently replaced.
        candidates.append(os.environ["ODOO_SRC"])
        return _odoo_tree(candidates[0])
    try:
        import odoo  # noqa: PLC0415

        candidates.append(os.path.dirname(list(odoo.__path__)[0]))
    except ImportError:
        pass
    candidates.append("/opt/odoo/19.0")
    for path in candidates:
        if _odoo_tree(path):
            return _odoo_tree(path)
    return None


def _odoo_tree(path):
    if os.path.isfile(os.path.join(path, "odoo-bin")) and os.path.isdir(
        os.path.join(path, "addons", "account")
    ):
        return os.path.abspath(path)
    return None


def require_odoo_src():
    src = find_odoo_src()
    if not src:
        raise SetupError(no_odoo_reason())
    return src


def no_odoo_reason():
    if os.environ.get("ODOO_SRC"):
        return (
            f"ODOO_SRC={os.environ['ODOO_SRC']} is not an Odoo 19 tree (no odoo-bin and "
            "addons/account there): point it at an Odoo 19.0 checkout."
        )
    return (
        "No Odoo 19 tree found: clone odoo/odoo at branch 19.0 to /opt/odoo/19.0 or set "
        "ODOO_SRC to its folder."
    )


def odoo_version(src):
    release = {}
    with open(os.path.join(src, "odoo", "release.py"), encoding="utf-8") as handle:
        exec(compile(handle.read(), "release.py", "exec"), release)  # noqa: S102
    return release["version_info"][:2]


def addons_path(src):
    """Odoo finds an addon by its folder name, and a clone may be called anything, so we
    point a symlink named after the module at the repository (kept in the venv)."""
    link_dir = os.path.join(VENV, "addons")
    os.makedirs(link_dir, exist_ok=True)
    link = os.path.join(link_dir, MODULE)
    if os.path.islink(link) and os.readlink(link) != ROOT:
        os.unlink(link)
    if not os.path.exists(link):
        os.symlink(ROOT, link)
    paths = [os.path.join(src, "addons"), os.path.join(src, "odoo", "addons"), link_dir, GLUE]
    if os.path.isdir(EXTRA_ADDONS):
        paths.append(EXTRA_ADDONS)
    return ",".join(paths)


def ensure_queue_job():
    """OCA's queue_job for the glue addon's tests: the wheel from PyPI, once, unpacked into
    the venv's extra-addons (a wheel puts it under site-packages/odoo/addons, which would
    shadow this Odoo tree's ``odoo`` package). Returns True when it is there; otherwise
    says in one line why not."""
    manifest = os.path.join(EXTRA_ADDONS, "queue_job", "__manifest__.py")
    if os.path.isfile(manifest):
        return True
    print("Fetching OCA queue_job from PyPI (once) ...", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp]
            + [QUEUE_JOB_REQUIREMENT],
            capture_output=True,
            text=True,
            check=False,
        )
        wheels = [name for name in os.listdir(tmp) if name.endswith(".whl")]
        if result.returncode or not wheels:
            print(
                "queue_job skipped (the glue addon's tests and checks, bench --queue-job): "
                f"pip could not download {QUEUE_JOB_REQUIREMENT} (check the access to PyPI).",
                flush=True,
            )
            return False
        prefix = "odoo/addons/"
        with zipfile.ZipFile(os.path.join(tmp, wheels[0])) as wheel:
            for member in wheel.namelist():
                if member.startswith(prefix + "queue_job/") and not member.endswith("/"):
                    target = os.path.join(EXTRA_ADDONS, member[len(prefix) :])
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with wheel.open(member) as source, open(target, "wb") as out:
                        shutil.copyfileobj(source, out)
    return os.path.isfile(manifest)


def odoo_requirements(src):
    """Odoo's pinned requirements, less python-ldap when its C headers are missing; none
    (and one line that says so) when the tree has no requirements.txt."""
    path = os.path.join(src, "requirements.txt")
    if not os.path.isfile(path):
        print(
            f"The Odoo tree {src} has no requirements.txt: Odoo's own Python packages "
            "are not installed by ./run (install them if Odoo does not start).",
            flush=True,
        )
        return []
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    has_ldap = os.path.exists("/usr/include/ldap.h") and os.path.exists("/usr/include/sasl/sasl.h")
    return [line for line in lines if has_ldap or not line.lower().startswith("python-ldap")]


# Ours: what the addon needs, then what its tests need (third-party Exact clients run
# against the sandbox). Both are installed by every ./run command.
REQUIREMENT_FILES = ("requirements.txt", "requirements-dev.txt")


def requirements_stamp(odoo_lines):
    """The stamp file that says these requirements are installed: it changes with any of
    our requirement files and with Odoo's list."""
    digest = hashlib.sha1()
    for name in REQUIREMENT_FILES:
        path = os.path.join(ROOT, name)
        if os.path.isfile(path):
            digest.update(name.encode())
            with open(path, "rb") as handle:
                digest.update(handle.read())
    digest.update("\n".join(odoo_lines).encode())
    return os.path.join(sys.prefix, ".requirements." + digest.hexdigest()[:16])


def ensure_requirements(src=None):
    """pip-install our pinned requirements (and Odoo's) once per change of those files."""
    wanted = [
        os.path.join(ROOT, name)
        for name in REQUIREMENT_FILES
        if os.path.isfile(os.path.join(ROOT, name))
    ]
    odoo_lines = odoo_requirements(src) if src else []
    stamp = requirements_stamp(odoo_lines)
    if os.path.exists(stamp):
        return
    print("Installing Python requirements (once) ...", flush=True)
    tmp = os.path.join(sys.prefix, "odoo-requirements.txt")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write("\n".join(odoo_lines) + "\n")
    # Some of Odoo's pinned sdists still import pkg_resources while building.
    constraints = os.path.join(sys.prefix, "build-constraints.txt")
    with open(constraints, "w", encoding="utf-8") as handle:
        handle.write("setuptools<70\n")
    env = dict(os.environ, PIP_CONSTRAINT=constraints)
    cmd = [sys.executable, "-m", "pip", "install", "-q"]
    for path in wanted:
        cmd += ["-r", path]
    if odoo_lines:
        cmd += ["-r", tmp]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SetupError(
            "pip could not install the requirements (see above): check the network access "
            "to PyPI, or install libldap2-dev libsasl2-dev libpq-dev and retry."
        )
    with open(stamp, "w", encoding="utf-8") as handle:
        handle.write("ok\n")


BROWSERS = ("google-chrome", "chromium", "chromium-browser", "google-chrome-stable")


def find_browser():
    """The Chrome/Chromium that Odoo's browser tours use, or None."""
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def ensure_browser():
    """Chromium for the browser tours: install the Debian package when it is missing and
    we can (root with apt-get); otherwise say in one line that the tours are skipped.
    Returns True when a browser is there."""
    if find_browser():
        return True
    can_install = hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")
    if can_install:
        print(
            "Installing Chromium for the browser tours (once, apt-get install chromium) ...",
            flush=True,
        )
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "-q", "chromium"]
        if subprocess.run(install, capture_output=True, env=env, check=False).returncode:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, check=False)
            subprocess.run(install, capture_output=True, env=env, check=False)
        if find_browser():
            return True
        print(
            "Browser tours skipped: apt-get could not install chromium (check the "
            "network access to the Debian mirrors).",
            flush=True,
        )
        return False
    print(
        "Browser tours skipped: no Chromium/Chrome found (install it as root with "
        "'apt-get install chromium').",
        flush=True,
    )
    return False


def _pg_ready():
    try:
        with socket.create_connection((DB_HOST, DB_PORT), timeout=1):
            return True
    except OSError:
        return False


def ensure_postgres():
    """Start the local cluster when it is down, and make sure the ``odoo`` role exists."""
    if not _pg_ready():
        started = False
        versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
        if versions and shutil.which("pg_ctlcluster"):
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
                capture_output=True,
                check=False,
            )
            started = True
        elif shutil.which("service"):
            subprocess.run(["service", "postgresql", "start"], capture_output=True, check=False)
            started = True
        for _ in range(30 if started else 0):
            if _pg_ready():
                break
            time.sleep(0.5)
        if not _pg_ready():
            raise SetupError(
                f"PostgreSQL is not running on {DB_HOST}:{DB_PORT} and could not be started: "
                "install it (apt-get install postgresql) or set PGHOST/PGPORT."
            )
    _ensure_role()


def _psql(sql, user="postgres", db="postgres"):
    return subprocess.run(
        ["psql", "-h", DB_HOST, "-p", str(DB_PORT), "-U", user, "-d", db, "-tAc", sql],
        capture_output=True,
        text=True,
        check=False,
    )


def _ensure_role():
    probe = _psql("SELECT 1", user=DB_USER)
    if probe.returncode == 0:
        return
    created = _psql(f"CREATE ROLE {DB_USER} LOGIN CREATEDB SUPERUSER")
    if created.returncode and shutil.which("sudo"):
        created = subprocess.run(
            [
                "sudo",
                "-u",
                "postgres",
                "psql",
                "-c",
                f"CREATE ROLE {DB_USER} LOGIN CREATEDB SUPERUSER",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if _psql("SELECT 1", user=DB_USER).returncode:
        raise SetupError(
            f"PostgreSQL has no usable role '{DB_USER}': create it with "
            f"'createuser -s {DB_USER}' (as postgres) or set ODOO_DB_USER."
        )


def drop_db(name):
    subprocess.run(
        [
            "dropdb",
            "-h",
            DB_HOST,
            "-p",
            str(DB_PORT),
            "-U",
            DB_USER,
            "--if-exists",
            "--force",
            name,
        ],
        capture_output=True,
        check=False,
    )


def port_is_free(port, host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_port(port, what, env_name):
    if not port_is_free(port) or not port_is_free(port, "0.0.0.0"):
        raise SetupError(
            f"Port {port} ({what}) is taken: stop the process using it "
            f"(ss -ltnp 'sport = :{port}') or set {env_name} to another port."
        )


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def odoo_base_args(src, db):
    return [
        sys.executable,
        os.path.join(src, "odoo-bin"),
        f"--addons-path={addons_path(src)}",
        f"--db_host={DB_HOST}",
        f"--db_port={DB_PORT}",
        f"--db_user={DB_USER}",
        "-d",
        db,
        "--db-filter",
        f"^{db}$",
    ]


def odoo_env(db, src=None):
    """An Odoo environment on ``db`` inside this process (for bench/ and demo data)."""
    src = src or require_odoo_src()
    if src not in sys.path:
        sys.path.insert(0, src)
    import odoo  # noqa: PLC0415
    from odoo.tools import config  # noqa: PLC0415

    config.parse_config(
        [
            f"--addons-path={addons_path(src)}",
            f"--db_host={DB_HOST}",
            f"--db_port={DB_PORT}",
            f"--db_user={DB_USER}",
            "-d",
            db,
        ]
    )
    from odoo.modules.registry import Registry  # noqa: PLC0415

    registry = Registry(db)
    return odoo, registry
