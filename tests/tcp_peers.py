"""Misbehaving network peers on 127.0.0.1, for the timeout tests.

``SilentServer`` accepts TCP connections and never sends a byte (a hung server, or a
load balancer with no backend). ``FrozenProxy`` forwards to a real server until the
client sends a chunk containing ``freeze_on``; from then on it forwards nothing, on any
connection, old or new, and closes nothing (a network partition behind a middlebox that
keeps TCP alive: keepalives are answered, data never arrives).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class _Listener:
    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._sockets: list[socket.socket] = [self._server]
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _keep(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self._keep(client)
            self.accepted(client)

    def accepted(self, client: socket.socket) -> None:
        """Hold the connection open and say nothing."""

    def close(self) -> None:
        self._closed = True
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def __enter__(self) -> _Listener:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class SilentServer(_Listener):
    """Accepts TCP and never answers."""


class FrozenProxy(_Listener):
    """Forwards to ``upstream_port`` until a client chunk contains ``freeze_on``, then freezes."""

    def __init__(self, upstream_port: int, freeze_on: bytes) -> None:
        self.upstream_port = upstream_port
        self.freeze_on = freeze_on
        self.frozen = threading.Event()
        super().__init__()

    def accepted(self, client: socket.socket) -> None:
        if self.frozen.is_set():
            return  # a new connection during the partition: accepted by the middlebox, then nothing
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        self._keep(upstream)
        threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        while True:
            try:
                chunk = source.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            if from_client and self.freeze_on in chunk:
                self.frozen.set()
            if self.frozen.is_set():
                continue  # swallow: the peer never sees it, and nobody is told
            try:
                target.sendall(chunk)
            except OSError:
                return
