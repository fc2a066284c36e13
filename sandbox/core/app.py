"""The WSGI application mounting the simulators and the test-only control API.

Each service named in ``sandbox/registry.py`` is a package ``sandbox/<name>/`` whose
``__init__.py`` exports ``SERVICE_CLASS``: ``cls(store, faults, clock)``, a WSGI
callable receiving PATH_INFO with its prefix stripped. It may also expose:

- ``reset()``: restore its seed (control ``POST /_sandbox/reset``);
- ``handle_control(action, path_rest, body) -> (status, dict)`` for
  ``/_sandbox/<service>/<action>/<path_rest>`` (consent, config, pay, print, finalize...);
- ``dump() -> dict`` for ``GET /_sandbox/state/<service>`` (default: every Store kind);
- ``fault_response(kind, environ) -> Response|None`` to shape injected faults
  (kind ``"throttle"`` for throttle_next, ``"fail"`` for fail_next; None = generic answer;
  Exact adds its minutely rate-limit headers to the 429);
- ``path_pattern(path) -> str`` to group stats (default: core.http.path_pattern).

Service modules are imported lazily and tolerantly: while one is missing or broken its
prefix answers 404 and the rest keeps working. Injected faults (latency, error_rate,
fail_next, throttle_next, lose_next_creates) are applied here around every service request,
so services only have to honour ``faults.revoked``.
"""

import importlib
import io
import random
import socket
import threading
import time

from ..registry import SERVICES
from .clock import Clock
from .faults import Faults
from .http import json_response, path_pattern
from .stats import Stats

MAX_BODY = 24 * 1024 * 1024  # above Exact's 10 MB binary (13.4 MB base64) so its own check answers


class SandboxApp:
    def __init__(self, store, config=None):
        self.store = store
        self.config = dict(config or {})
        self.clock = self.config.get("clock") or Clock()
        self.faults = {name: Faults() for name in SERVICES}
        self.stats = {name: Stats() for name in SERVICES}
        self.services = {}
        self._lock = threading.Lock()
        from .control import Control

        self.control = Control(self)

    # -- services ----------------------------------------------------------------
    def service(self, name):
        """The service object, importing its module on first use; None when unavailable."""
        svc = self.services.get(name)
        if svc is not None or name not in SERVICES:
            return svc
        with self._lock:
            if name in self.services:
                return self.services[name]
            try:
                module = importlib.import_module(f"..{name}", __package__)
                cls = module.SERVICE_CLASS
            except Exception:  # a module still being written must not break the others
                return None
            svc = cls(self.store, self.faults[name], self.clock)
            self.services[name] = svc
            return svc

    def load_all(self):
        for name in SERVICES:
            self.service(name)
        return self.services

    # -- WSGI --------------------------------------------------------------------
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "") or "/"
        prefix, _, rest = path[1:].partition("/")
        too_big = _buffer_body(environ)
        if prefix == "_sandbox":
            return self.control(environ, start_response, "/" + rest)
        svc = self.service(prefix) if prefix in SERVICES else None
        if svc is None:
            return json_response({"error": "not found"}, 404)(environ, start_response)
        if too_big:
            environ["sandbox.close"] = True
            return json_response({"error": "request too large"}, 413)(environ, start_response)
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + "/" + prefix
        environ["PATH_INFO"] = "/" + rest
        return self._serve(prefix, svc, environ, start_response)

    def _serve(self, name, svc, environ, start_response):
        faults = self.faults[name]
        method = environ["REQUEST_METHOD"]
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000.0)
        injected = self._injected(name, svc, faults, environ)
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        if injected is not None:
            body = b"".join(injected(environ, capture))
        else:
            result = svc(environ, capture)
            try:
                body = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        code = int(captured["status"].split(None, 1)[0])
        pattern = getattr(svc, "path_pattern", path_pattern)(environ["PATH_INFO"])
        self.stats[name].record(method, pattern, code)
        if method == "POST" and 200 <= code < 300 and faults.take("lose_next_creates"):
            _drop_connection(environ)
        start_response(captured["status"], captured["headers"])
        return [body]

    def _injected(self, name, svc, faults, environ):
        """The response of an injected fault, or None to let the service answer."""
        shaper = getattr(svc, "fault_response", None)
        if faults.take("fail_next"):
            resp = shaper("fail", environ) if shaper else None
            return resp if resp is not None else json_response({"error": "injected 503"}, 503)
        if faults.take("throttle_next"):
            resp = shaper("throttle", environ) if shaper else None
            return resp if resp is not None else json_response(None, 429)
        if faults.random_error():
            code = random.choice((500, 502, 503))
            return json_response({"error": f"injected {code}"}, code)
        return None


def _buffer_body(environ):
    """Read the whole body now, so keep-alive never sees leftovers; True when too big."""
    if environ.get("sandbox.buffered"):
        return False
    environ["sandbox.buffered"] = True
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        environ["sandbox.close"] = True  # let werkzeug read it; close afterwards
        return False
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        return True
    data = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    return False


def _drop_connection(environ):
    """lose_next_creates: the write happened, now vanish without answering."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    # werkzeug treats ConnectionError as "client went away" and writes nothing more
    raise ConnectionResetError("sandbox: response dropped on purpose (lose_next_creates)")


def make_app(store, config=None):
    return SandboxApp(store, config)
