"""Hostile peers for the tests: a fake NATS server on 127.0.0.1 that lies, as the real one
(tests/conftest.py) tells the truth.

Modes:
  plain    an INFO without tls_required or tls_available (a plain-text server, or a man in
           the middle that strips TLS); it answers PING with PONG and records everything.
  stall    answers INFO and PING, then never answers anything else (a JetStream request
           waits for nothing).
  garbage  sends bytes that are not NATS, then keeps the connection open.

It runs in a thread of its own, so a test can point a subprocess (the CLI) at it as well
as a client in its own event loop. `received` is every byte any client sent.
"""

from __future__ import annotations

import json
import socket
import threading
from types import TracebackType

INFO = {"server_id": "FAKE", "server_name": "fake", "version": "2.10.22", "proto": 1, "go": "go1.22",
        "host": "127.0.0.1", "max_payload": 1048576, "headers": True, "jetstream": True,
        "auth_required": True}


class FakeNats:
    def __init__(self, mode: str = "plain") -> None:
        assert mode in ("plain", "stall", "garbage")
        self.mode = mode
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._lock = threading.Lock()
        self._received = bytearray()
        self.connections = 0
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def received(self) -> bytes:
        with self._lock:
            return bytes(self._received)

    def __enter__(self) -> FakeNats:
        self._thread.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._sock.close()
        with self._lock:
            for conn in self._open:
                try:
                    conn.close()
                except OSError:
                    pass
        self._thread.join(5)

    def _serve(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._open.append(conn)
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        try:
            if self.mode == "garbage":
                conn.sendall(b"\x16\x03\x01\x00\xa5HELLO? \xff\xfe not nats at all\r\n")
            else:
                conn.sendall(b"INFO " + json.dumps(INFO).encode() + b"\r\n")
            conn.settimeout(0.1)
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return
                with self._lock:
                    self._received += data
                if self.mode != "garbage" and b"PING\r\n" in data:
                    conn.sendall(b"PONG\r\n" * data.count(b"PING\r\n"))
        except OSError:
            return
        finally:
            conn.close()
