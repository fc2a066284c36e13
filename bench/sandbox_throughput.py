"""python -m bench sandbox [--requests N]: how many paged GETs per second the sandbox
serves on one keep-alive connection, with the sandbox in its own process.

A figure, not a test: CI machines are noisy, so no rate is ever asserted (it moved here
from the pure tests, where it failed at a few hundred GETs/s on a busy machine). Needs no
Odoo. Prints one line per endpoint and ends with one JSON line.
"""

import os
import subprocess
import sys
import tempfile
import time

import requests

REDIRECT = "http://localhost:8069/bookkeeping_link/oauth/callback"
CLIENT = {"client_id": "sandbox-client", "client_secret": "sandbox-secret"}


def _free_port():
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sandbox:
    """``python -m sandbox`` in its own process on a temporary database."""

    def __init__(self, root):
        port = _free_port()
        handle, self.db = tempfile.mkstemp(suffix=".sqlite3")
        os.close(handle)
        os.unlink(self.db)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--port", str(port), "--db", self.db],
            cwd=root,
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
        self.close()
        raise RuntimeError("the sandbox did not start")

    def control(self, path, body=None):
        response = requests.post(f"{self.url}/_sandbox/{path}", json=body or {}, timeout=30)
        response.raise_for_status()
        return response.json()

    def token(self, service, token_url):
        self.control(f"{service}/clients", {"redirect_uris": [REDIRECT]})
        code = self.control(f"{service}/consent", {**CLIENT, "redirect_uri": REDIRECT})["code"]
        response = requests.post(
            token_url,
            timeout=30,
            data={
                **CLIENT,
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
            },
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.db + suffix):
                os.unlink(self.db + suffix)


def _rate(session, url, headers, count):
    session.get(url, headers=headers, timeout=30).raise_for_status()  # warm the connection
    started = time.perf_counter()
    for _ in range(count):
        session.get(url, headers=headers, timeout=30).raise_for_status()
    return count / (time.perf_counter() - started)


def run(root, count=500):
    """GETs per second of every registered service whose recipe has a ``THROUGHPUT`` probe."""
    sys.path.insert(0, root)
    from sandbox import registry  # noqa: PLC0415

    probes = {
        name: recipe.THROUGHPUT
        for name, recipe in registry.recipes().items()
        if getattr(recipe, "THROUGHPUT", None)
    }
    sandbox = Sandbox(root)
    try:
        cases = {}
        for service, probe in probes.items():
            if probe["setup"]:
                sandbox.control(probe["setup"][0].lstrip("/"), probe["setup"][1])
            token = sandbox.token(service, f"{sandbox.url}{probe['token_path']}")
            headers = {"Authorization": f"Bearer {token}", **probe["headers"]}
            cases[probe["name"]] = (f"{sandbox.url}{probe['path']}", headers)
        result = {}
        with requests.Session() as session:
            for name, (url, headers) in cases.items():
                result[name] = round(_rate(session, url, headers, count))
                print(
                    f"{name}: {result[name]} ({count} GETs, one keep-alive connection)", flush=True
                )
        return result
    finally:
        sandbox.close()
