"""The chat application the demo deploys: one readiness endpoint that checks the schema it runs on.

``GET /health/ready`` answers 200 ``{"status": "ok", "schema_version": N, ...}`` only when the
database is at a version this build of the app supports, clean, and the app's own query
(it reads ``messages.body``) works; otherwise 503 or 500 with the reason, as a real
readiness probe does. It listens on 127.0.0.1, or on a Unix socket where the loopback
interface is down (``unshare -n``); then ``python -m safemigrate.demo.probe SOCKET`` is the probe.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["ChatApp", "loopback_works", "send_json"]

READY_PATH = "/health/ready"


def loopback_works() -> bool:
    """Can this process connect to 127.0.0.1? Not in a network namespace whose lo is down."""
    try:
        with socket.socket() as server, socket.socket() as client:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            client.settimeout(2)
            client.connect(server.getsockname())
        return True
    except OSError:
        return False



def send_json(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    """Answer ``body`` as JSON; a client that gave up waiting (its timeout) is not an error here."""
    payload = json.dumps(body).encode()
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass

class _UnixHTTPServer(ThreadingHTTPServer):
    address_family = socket.AF_UNIX

    def server_bind(self) -> None:
        self.socket.bind(self.server_address)
        self.server_name, self.server_port = "localhost", 0


class ChatApp:
    """The app, serving in a thread of the demo's own process until :meth:`stop`."""

    def __init__(self, database_url: str, supported: range, socket_path: Path | None = None) -> None:
        self.database_url = database_url
        self.supported = supported
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = app.ready() if self.path == READY_PATH else (404, {"error": "not found"})
                send_json(self, status, body)

            def address_string(self) -> str:
                return "local"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the demo narrates; the app stays quiet

        self.socket_path = socket_path
        if socket_path is None:
            self.server: ThreadingHTTPServer = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            self.url = f"http://127.0.0.1:{self.server.server_address[1]}{READY_PATH}"
        else:
            socket_path.unlink(missing_ok=True)
            self.server = _UnixHTTPServer(str(socket_path), Handler)  # type: ignore[arg-type]
            self.url = f"unix:{socket_path}"
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def start(self) -> ChatApp:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)

    def ready(self) -> tuple[int, dict[str, Any]]:
        from ..drivers import open_driver

        driver = open_driver(self.database_url)
        try:
            driver.connect()
            state = driver.read_version()
            if state.dirty:
                return 503, {"status": "unavailable", "schema_version": state.version,
                             "reason": f"the schema is dirty at version {state.version}"}
            if state.version not in self.supported:
                return 503, {"status": "unavailable", "schema_version": state.version,
                             "reason": f"this build supports schema versions {self.supported.start}-"
                                       f"{self.supported.stop - 1}"}
            # The query the app runs on every page: it is what a careless migration breaks.
            rows = driver.query("SELECT count(*) FROM messages WHERE body <> ''")
            return 200, {"status": "ok", "schema_version": state.version, "messages": int(rows[0][0])}
        except Exception as exc:  # any database error is an unhealthy app, reported as a real one would
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return 500, {"status": "error", "error": first}
        finally:
            with contextlib.suppress(Exception):
                driver.close()


def get_ready(url: str, timeout: float = 3.0) -> tuple[int, str]:
    """GET the readiness endpoint at ``url`` (http://... or unix:PATH): (status, body)."""
    import http.client

    if url.startswith("unix:"):
        conn: http.client.HTTPConnection = _UnixConnection(url[len("unix:"):], timeout)
        path = READY_PATH
    else:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
        path = parts.path or "/"
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


class _UnixConnection:
    """http.client over a Unix socket (the stdlib has no such class)."""

    def __new__(cls, path: str, timeout: float) -> Any:
        import http.client

        class Connection(http.client.HTTPConnection):
            def connect(self) -> None:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(timeout)
                self.sock.connect(path)

        return Connection("localhost", timeout=timeout)

