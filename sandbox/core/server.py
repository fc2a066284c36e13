"""Threaded HTTP/1.1 keep-alive server for the sandbox (werkzeug's dev server, tuned)."""

import socket
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from .app import make_app
from .store import Store


class KeepAliveHandler(WSGIRequestHandler):
    """werkzeug 2.2 always adds 'Connection: close'; we keep the connection instead.

    That is safe because app.py reads every request body completely before answering.
    """

    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # headers and body go out as two writes: without NODELAY, Nagle + delayed ACK
        # would add ~40 ms to every keep-alive request
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send_header(self, keyword, value):
        if keyword.lower() == "connection" and value.lower() == "close":
            environ = getattr(self, "environ", None) or {}
            if not environ.get("sandbox.close"):
                return
        super().send_header(keyword, value)

    def log_request(self, code="-", size="-"):
        pass  # quiet and fast; /_sandbox/stats counts requests instead


class SandboxServer:
    """A running sandbox: ``.url``, ``.store``, ``.app``, ``.services``, ``.stop()``."""

    def __init__(self, db_path=None, port=0, host="127.0.0.1", config=None):
        self.store = Store(db_path)
        self.app = make_app(self.store, config)
        self.app.load_all()
        self.httpd = make_server(
            host, port, self.app, threaded=True, request_handler=KeepAliveHandler
        )
        self.host, self.port = host, self.httpd.port
        self.url = f"http://{host}:{self.port}"
        self._thread = None

    @property
    def services(self):
        return self.app.services

    @property
    def clock(self):
        return self.app.clock

    def serve_forever(self):
        self.httpd.serve_forever()

    def start(self):
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(5)
        self.store.close()


def start_in_thread(db_path=None, port=0, host="127.0.0.1", config=None):
    """Start a sandbox on loopback in a daemon thread (port 0 = any free port)."""
    return SandboxServer(db_path, port, host, config).start()
