"""Screenshots of the main screens for the app store page, in English and Dutch.

Run against a running demo (``./run demo``):

    python scripts/screenshots.py http://localhost:8069 DEMO_DB static/description

It logs in as admin over JSON-RPC, hands the session cookie to a headless Chromium
(DevTools protocol, the ``websocket-client`` package Odoo's own tours use), opens each
screen, waits until the web client is idle and saves a PNG per screen and language
(``screenshot_<screen>.png`` in English, ``screenshot_<screen>_nl.png`` in Dutch).
"""

import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

import requests
import websocket

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SIZE = (1400, 900)


class Odoo:
    def __init__(self, url, db):
        self.url, self.db = url.rstrip("/"), db
        self.session = requests.Session()
        answer = self.session.post(
            f"{self.url}/web/session/authenticate",
            json={"params": {"db": db, "login": "admin", "password": "admin"}},
            timeout=60,
        )
        answer.raise_for_status()
        if answer.json().get("error"):
            raise SystemExit(f"login failed: {answer.json()['error']}")

    lang = "en_US"

    def call(self, model, method, *args, **kwargs):
        # What a user in that language does: the texts written now are in it.
        kwargs.setdefault("context", {"lang": self.lang})
        answer = self.session.post(
            f"{self.url}/web/dataset/call_kw",
            json={
                "params": {"model": model, "method": method, "args": list(args), "kwargs": kwargs}
            },
            timeout=120,
        ).json()
        if answer.get("error"):
            raise RuntimeError(answer["error"]["data"]["message"])
        return answer["result"]

    def set_lang(self, code):
        if not self.call("res.lang", "search", [("code", "=", code)]):
            wizard = self.call(
                "base.language.install",
                "create",
                {
                    "lang_ids": [
                        (
                            6,
                            0,
                            [
                                self.call(
                                    "res.lang",
                                    "search",
                                    [("code", "=", code), ("active", "=", False)],
                                )[0]
                            ],
                        )
                    ]
                },
            )
            self.call("base.language.install", "lang_install", [wizard])
        self.call("res.users", "write", [self.uid()], {"lang": code})
        self.lang = code

    def uid(self):
        return self.call("res.users", "search", [("login", "=", "admin")])[0]


class Browser:
    def __init__(self):
        binary = next((p for p in map(shutil.which, BROWSERS) if p), None)
        if not binary:
            raise SystemExit("no Chromium found: apt-get install chromium")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.profile = tempfile.mkdtemp(prefix="abl_shots_")
        self.proc = subprocess.Popen(
            [  # noqa: S603 (our own arguments)
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--remote-debugging-port={port}",
                f"--user-data-dir={self.profile}",
                f"--window-size={SIZE[0]},{SIZE[1]}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                pages = requests.get(f"http://127.0.0.1:{port}/json", timeout=1).json()
                target = next(p for p in pages if p.get("type") == "page")
                break
            except (requests.RequestException, StopIteration, ValueError):
                time.sleep(0.2)
        else:
            raise SystemExit("Chromium did not start")
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=60)
        self.next_id = 0
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=SIZE[0],
            height=SIZE[1],
            deviceScaleFactor=1,
            mobile=False,
        )

    def send(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        return result.get("result", {}).get("value")

    def shoot(self, url, path, ready, settle=1.5, script=None):
        self.send("Page.navigate", url=url)
        deadline = time.time() + 60
        while time.time() < deadline:
            time.sleep(0.5)
            if self.evaluate(f"!!document.querySelector({json.dumps(ready)})"):
                break
        else:
            print(f"  {os.path.basename(path)}: '{ready}' never showed; taken anyway")
        if script:
            self.evaluate(script)
        time.sleep(settle)
        data = base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"])
        save_png(data, path)

    def close(self):
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


def save_png(data, path):
    """A palette PNG, like the other screenshots: a tenth of the size, same look."""
    try:
        from PIL import Image  # noqa: PLC0415 (Odoo's own dependency)
    except ImportError:
        with open(path, "wb") as handle:
            handle.write(data)
        return
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def screens(odoo):
    """(name, path, selector that says the screen is there, optional script)."""
    backend = odoo.call("bookkeeping.backend", "search", [], limit=1)[0]
    moves = odoo.call(
        "account.move",
        "search_read",
        [("bookkeeping_backend_id", "=", backend), ("bookkeeping_state", "=", "done")],
        fields=["id"],
        limit=1,
        order="id desc",
    )
    errors = odoo.call(
        "account.move",
        "search_read",
        [("bookkeeping_backend_id", "=", backend), ("bookkeeping_state", "=", "error")],
        fields=["id"],
        limit=1,
    )
    # The assistant at its mappings step: a copy in setup on the same company would
    # break the one-link-per-service rule, so the demo link itself is shown there.
    odoo.call("bookkeeping.backend", "write", [backend], {"setup_step": "mappings"})
    search = (
        "const i=document.querySelector('.o_searchview_input');"
        "i.value='boekhouding';i.dispatchEvent(new Event('input',{bubbles:true}));"
    )
    shots = [
        (
            "settings",
            "/odoo/action-account.action_account_config",
            "#bookkeeping_link_setting",
            search,
        ),
        (
            "setup_assistant",
            f"/odoo/action-account_bookkeeping_link.bookkeeping_setup_action/{backend}",
            "div[name=step_mappings] .o_data_row",
            None,
        ),
        ("backend", f"/odoo/bookkeeping-links/{backend}", ".o_form_view .o_statusbar_status", None),
        (
            "invoice_list",
            "/odoo/action-account.action_move_out_invoice_type",
            ".o_list_view .o_data_row",
            None,
        ),
    ]
    if moves:
        shots.append(
            (
                "invoice_chatter",
                f"/odoo/action-account.action_move_out_invoice_type/{moves[0]['id']}",
                ".o-mail-Message",
                None,
            )
        )
    if errors:
        shots.append(
            (
                "invoice_error",
                f"/odoo/action-account.action_move_out_invoice_type/{errors[0]['id']}",
                ".o_form_view .alert-danger",
                None,
            )
        )
    return backend, shots


def retell_in_dutch(odoo):
    """What the demo wrote ran in English: a Dutch user sends an invoice again and the
    error invoice again, so the chatter shows what a Dutch user sees."""
    booked = odoo.call(
        "account.move",
        "search",
        [("bookkeeping_state", "=", "done"), ("move_type", "=", "out_invoice")],
        limit=1,
    )
    if booked:
        copy = odoo.call("account.move", "copy", booked)
        copy = copy if isinstance(copy, list) else [copy]
        odoo.call("account.move", "write", copy, {"invoice_date": False})
        odoo.call("account.move", "action_post", copy)
        odoo.call("account.move", "action_bookkeeping_send", copy)
    failed = odoo.call("account.move", "search", [("bookkeeping_state", "=", "error")], limit=1)
    if failed:
        odoo.call("account.move", "action_bookkeeping_send", failed)


def main(url, db, folder):
    odoo = Odoo(url, db)
    cookie = odoo.session.cookies.get("session_id")
    browser = Browser()
    host = urlsplit(url).hostname
    browser.send("Network.enable")
    browser.send("Network.setCookie", name="session_id", value=cookie, domain=host, path="/")
    backend = None
    try:
        for lang, suffix in (("en_US", ""), ("nl_NL", "_nl")):
            odoo.set_lang(lang)
            if suffix:
                retell_in_dutch(odoo)
            backend, shots = screens(odoo)
            for name, path, ready, script in shots:
                target = os.path.join(folder, f"screenshot_{name}{suffix}.png")
                browser.shoot(url.rstrip("/") + path, target, ready, script=script)
                print(f"  {target}")
    finally:
        if backend:
            odoo.call("bookkeeping.backend", "write", [backend], {"setup_step": "done"})
        odoo.set_lang("en_US")
        browser.close()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit("usage: python scripts/screenshots.py ODOO_URL DB FOLDER")
    main(*sys.argv[1:])
