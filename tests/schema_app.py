"""A real application for release tests: /health/ready answers 200 only for a schema it supports.

It reads the version from the database on every request, as a real app's readiness
probe would. It can also be told to require a number of rows (data a down file cannot
bring back), to break, to flap, or to be gone.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from health_app import send_json


class SchemaApp:
    def __init__(self, connect_to: str, supported: set[int | None]) -> None:
        self.connect_to = connect_to
        self.supported = set(supported)
        self.required_users: int | None = None
        self.write_when_unsupported: str | None = None  # SQL the app runs when it sees a new schema
        self.mode = "normal"  # normal | broken | flapping
        self.requests = 0
        self._lock = threading.Lock()
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = app.answer()
                if status == 0:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                send_json(self, status, body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health/ready"

    def answer(self) -> tuple[int, dict[str, Any]]:
        from safemigrate.drivers import open_driver

        with self._lock:
            self.requests += 1
            count = self.requests
        if self.mode == "broken":
            return 500, {"status": "broken"}
        if self.mode == "flapping":
            return (200, {"status": "ok"}) if count % 2 else (0, {})
        # The app reads the schema version the way every app's readiness check would: from the table.
        driver = open_driver(self.connect_to)
        try:
            driver.connect()
            rows = driver.query("SELECT version, dirty FROM schema_migrations")
            row = rows[0] if rows else None
            users = driver.query("SELECT count(*) FROM users")[0] if self.required_users is not None else None
            version = row[0] if row else None
            dirty = bool(row and row[1])
            if (version not in self.supported or dirty) and self.write_when_unsupported:
                driver.execute(self.write_when_unsupported)
        except Exception as exc:
            return 503, {"status": "no database", "error": str(exc).splitlines()[0][:200]}
        finally:
            driver.close()
        body = {"schema_version": version, "dirty": dirty}
        if version not in self.supported or dirty:
            return 503, {**body, "status": "unsupported schema"}
        if users is not None and users[0] != self.required_users:
            return 503, {**body, "status": f"expected {self.required_users} users, found {users[0]}"}
        return 200, {**body, "status": "ok"}


@contextmanager
def serve_app(connect_to: str, supported: set[int | None]) -> Iterator[SchemaApp]:
    app = SchemaApp(connect_to, supported)
    thread = threading.Thread(target=app.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield app
    finally:
        app.server.shutdown()
        app.server.server_close()
