"""The pipelined writer: many thousands of JetStream publishes in flight, each one checked.

A migration writes a million records; one acknowledged put at a time would leave the
connection idle for a round trip per record. Here each message carries its own reply
subject under one inbox, and one wildcard subscription (store.kv.direct) collects the
PubAcks as they come.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from ..errors import StoreError, Unavailable
from .direct import subscribe_direct

#: acknowledgements outstanding at most (bench/bench_migrate.py's bare publish uses the
#: same); once full, sending resumes when the outstanding fall to _LOW
WINDOW = 4096
_LOW = WINDOW * 3 // 4


class PipelinedWriter:
    """Publishes to JetStream subjects with thousands of acknowledgements in flight.

    Each message carries its own reply subject under one inbox; one wildcard
    subscription collects the PubAcks. Every ack is checked; a write that fails or
    is not acknowledged within ack_timeout is sent again (KV puts are idempotent
    overwrites), until record_deadline has passed since its first send: then the
    whole write fails with Unavailable.
    """

    def __init__(self, nc: Any, *, ack_timeout: float, record_deadline: float,
                 headers: dict[str, str] | None = None) -> None:
        self._nc = nc
        self._headers = headers or None  # on every message (a migration's mark, see store.kv.scan)
        self._ack_timeout = ack_timeout
        self._deadline = record_deadline
        # reply subject -> (subject, payload, tag, first_sent, sent_at); insertion order is
        # send order, and every send (also a retry) has a reply subject of its own
        self._pending: dict[str, tuple] = {}
        self._retry: deque[tuple] = deque()  # (not_before, attempts, record)
        self._attempts: dict[str, int] = {}  # reply subject -> attempts, for retried writes
        self._seq = 0
        self._wake = asyncio.Event()
        self._wake_at = _LOW
        self._next_expire = 0.0
        self._error: StoreError | None = None
        self._prefix = ""
        self._sub: Any = None
        self.acked: defaultdict[str, int] = defaultdict(int)
        self.retries = 0

    async def start(self) -> None:
        self._prefix = self._nc.new_inbox() + "."
        self._sub = await subscribe_direct(self._nc, self._prefix + "*", self._on_ack)

    def refuse(self, err: StoreError) -> None:
        """The server refused a write (a permissions violation): the whole write fails now,
        not after its record deadline."""
        if self._error is None:
            self._error = err
        self._wake.set()

    async def close(self) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:
                pass
            self._sub = None

    def _on_ack(self, msg: Any) -> None:
        # pending is keyed by the reply subject itself: no parsing on the hot path
        rec = self._pending.pop(msg.subject, None)
        if rec is None:
            return  # the late ack of a write already sent again
        data = msg.data
        if data.startswith(b'{"stream":') and b'"error"' not in data:
            self.acked[rec[2]] += 1
            if self._attempts:
                self._attempts.pop(msg.subject, None)
        else:
            self._requeue(msg.subject, rec, _ack_error(msg), time.monotonic())
        if len(self._pending) <= self._wake_at:
            self._wake.set()

    def _requeue(self, seq: str, rec: tuple, reason: str, now: float) -> None:
        attempts = self._attempts.pop(seq, 1)
        if now - rec[3] > self._deadline:
            if self._error is None:
                self._error = Unavailable(
                    f"write to {rec[0]} not acknowledged within {self._deadline:g}s: {reason}")
            self._wake.set()
            return
        self.retries += 1
        backoff = min(0.05 * 2 ** min(attempts, 5), 1.0)
        self._retry.append((now + backoff, attempts + 1, rec))

    def _expire(self, now: float) -> None:
        # checked at most every 0.1 s: the pending dict is scanned from its oldest entry
        if now < self._next_expire:
            return
        self._next_expire = now + 0.1
        limit = now - self._ack_timeout
        expired = []
        for seq, rec in self._pending.items():
            if rec[4] > limit:
                break
            expired.append(seq)
        for seq in expired:
            self._requeue(seq, self._pending.pop(seq), f"no ack within {self._ack_timeout:g}s", now)

    async def _send(self, subject: str, payload: bytes, tag: str, first: float, attempts: int) -> None:
        self._seq += 1
        seq = f"{self._prefix}{self._seq}"
        now = time.monotonic()
        rec = (subject, payload, tag, first, now)
        self._pending[seq] = rec
        if attempts > 1:
            self._attempts[seq] = attempts
        try:
            await self._nc.publish(subject, payload, reply=seq, headers=self._headers)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            if self._pending.pop(seq, None) is not None:
                self._attempts[seq] = attempts
                self._requeue(seq, rec, f"publish failed: {type(e).__name__}", now)

    async def put(self, subject: str, payload: bytes, tag: str) -> None:
        """Send one write; waits only when the window is full or retries are due."""
        if self._error is not None or self._retry or len(self._pending) >= WINDOW:
            await self._service(lambda: len(self._pending) < WINDOW and not self._retry,
                                _LOW)
        # _send inlined: this runs once per record
        self._seq += 1
        reply = f"{self._prefix}{self._seq}"
        now = time.monotonic()
        rec = (subject, payload, tag, now, now)
        self._pending[reply] = rec
        try:
            await self._nc.publish(subject, payload, reply=reply, headers=self._headers)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            if self._pending.pop(reply, None) is not None:
                self._requeue(reply, rec, f"publish failed: {type(e).__name__}", now)

    async def drain(self) -> None:
        """Until every write sent so far is acknowledged (or failed for good).

        No nc.flush() here: nats-py resolves a flush's PONG future without checking it,
        so a flush cancelled by Ctrl-C (or timed out) makes its reader task fail with
        InvalidStateError when the PONG comes. The acks are what count anyway.
        """
        await self._service(lambda: not self._pending and not self._retry, 0)

    async def _service(self, done: Callable[[], bool], wake_at: int) -> None:
        self._wake_at = wake_at
        try:
            while True:
                if self._error is not None:
                    raise self._error
                now = time.monotonic()
                self._expire(now)
                while self._retry and self._retry[0][0] <= now and len(self._pending) < WINDOW:
                    _, attempts, rec = self._retry.popleft()
                    await self._send(rec[0], rec[1], rec[2], rec[3], attempts)
                if self._error is not None:
                    raise self._error
                if done():
                    return
                self._wake.clear()
                timeout = 0.1
                if self._retry and len(self._pending) < WINDOW:
                    timeout = max(0.0, min(timeout, self._retry[0][0] - now))
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except TimeoutError:
                    pass
        finally:
            self._wake_at = _LOW


def _ack_error(msg: Any) -> str:
    headers = getattr(msg, "headers", None) or {}
    status = headers.get("Status")
    if status:
        return f"status {status} {headers.get('Description', '')}".strip()
    try:
        err = json.loads(msg.data).get("error") or {}
        return f"{err.get('code', '')} {err.get('description', '')}".strip() or "bad ack"
    except Exception:
        return "bad ack"
