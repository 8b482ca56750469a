"""A real HTTP application on 127.0.0.1 for health-gate tests: it can be healthy, broken, slow or gone.

``script`` is a list of answers played in order (the last one repeats): an HTTP status
code, ``"drop"`` (close the connection without answering: an error, as a restarting
app gives) or ``"slow"`` (answer after ``slow_seconds``). Every request is counted.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from safemigrate.demo.app import send_json  # the demo app answers its probes the same way


class HealthApp:
    def __init__(self, script: list[int | str], body: dict[str, Any] | None = None,
                 slow_seconds: float = 2.0) -> None:
        self.script = list(script)
        self.body = body if body is not None else {"status": "ok"}
        self.slow_seconds = slow_seconds
        self.requests = 0
        self._lock = threading.Lock()
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                answer = app.next_answer()
                if answer == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status = 200
                if answer == "slow":
                    time.sleep(app.slow_seconds)
                elif isinstance(answer, int):
                    status = answer
                send_json(self, status, app.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health/ready"

    def next_answer(self) -> int | str:
        with self._lock:
            self.requests += 1
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def set_script(self, script: list[int | str]) -> None:
        with self._lock:
            self.script = list(script)


@contextmanager
def serve(script: list[int | str], body: dict[str, Any] | None = None,
          slow_seconds: float = 2.0) -> Iterator[HealthApp]:
    app = HealthApp(script, body, slow_seconds)
    thread = threading.Thread(target=app.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield app
    finally:
        app.server.shutdown()
        app.server.server_close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/health/ready"
