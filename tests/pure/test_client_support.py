"""A tiny real HTTP server and a fake clock for the client tests (no mocks of clients/)."""

from __future__ import annotations

import json
import socket
import threading
import time

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


class FakeClock:
    """``now()``/``sleep()`` pair: sleeping advances time instantly."""

    def __init__(self, t: float = 1_700_000_000.0):
        self.t = t
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.t += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds


class LocalServer:
    """Werkzeug server in a thread; ``handler(request) -> Response`` is set per test."""

    def __init__(self, handler=None):
        self.handler = handler or (lambda request: json_response({}))
        self.calls: list[dict] = []
        self._lock = threading.Lock()
        self.httpd = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.port}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @Request.application
    def _app(self, request: Request):
        body = request.get_data()
        with self._lock:
            self.calls.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "query": request.args.to_dict(),
                    "full_path": request.full_path,
                    "headers": dict(request.headers),
                    "body": body,
                }
            )
        return self.handler(request)

    def count(self, method=None, path=None) -> int:
        return sum(
            1
            for c in self.calls
            if (method is None or c["method"] == method) and (path is None or c["path"] == path)
        )

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def json_response(data, status: int = 200, headers=None) -> Response:
    return Response(
        json.dumps(data) if data is not None else "",
        status=status,
        headers=headers or {},
        content_type="application/json",
    )


def drop_connection(request: Request):
    """Vanish without answering (after the request was fully received)."""
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionResetError("dropped on purpose")


def slow(seconds: float, response: Response) -> Response:
    time.sleep(seconds)
    return response


def test_local_server_answers():
    import requests

    with LocalServer(lambda r: json_response({"ok": True})) as server:
        assert requests.get(server.url + "/x", timeout=5).json() == {"ok": True}
        assert server.count("GET", "/x") == 1
