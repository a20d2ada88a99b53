"""Following a bucket's changes as they are written: an ordered push consumer.

A view of 200,000 users reads them all once, then follows the users bucket: each change
reaches it as (key, value) within milliseconds, instead of the whole bucket read again for
every change. The consumer starts at a stream sequence (the one after what was read),
delivers in order without acks, with flow control and idle heartbeats; a gap in its
consumer sequence, or heartbeats that stop (a node restarted, the connection came back),
makes it again from the next sequence not yet seen, so no change is skipped. Its name is
ours, so it is deleted however the watch ends (else the server keeps it until its
inactive threshold).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ..aio import settle
from .connection import Connection, subject_prefix
from .direct import subscribe_direct
from .scan import _DELETED, _end_scan, ack_sequences, answer_stalled, create_consumer, reply_empty

#: changes that arrive within this long are handed on together (a daemon writing 50 a
#: second is ten batches a second, not fifty redraws)
BATCH = 0.1
#: the consumer's idle heartbeat (store.kv.scan.create_consumer); three missed ones and
#: it is made again
HEARTBEAT = 1.0


class _Sink:
    """What the consumer delivered since the last batch was taken: (stream sequence, key,
    value or None for a delete), and whether the consumer sequence skipped one."""

    def __init__(self, nc: Any, key_start: int) -> None:
        self.nc = nc
        self.key_start = key_start
        self.changes: list[tuple[int, str, bytes | None]] = []
        self.next_cseq = 1
        self.gap = False
        self.alive = asyncio.Event()  # any message, heartbeat or flow control
        self.arrived = asyncio.Event()
        self._replies: set[asyncio.Future] = set()

    def on_msg(self, m: Any) -> None:
        self.alive.set()
        reply = m.reply
        if reply and reply[:8] == "$JS.ACK.":
            sseq, cseq = ack_sequences(reply)
            if cseq != self.next_cseq:
                self.gap = True
                self.arrived.set()
                return
            self.next_cseq += 1
            headers = m.headers
            deleted = bool(headers) and headers.get("KV-Operation") in _DELETED
            self.changes.append((sseq, m.subject[self.key_start:], None if deleted else m.data))
            self.arrived.set()
        elif reply:  # flow control: answered, or the server stops delivering
            reply_empty(self.nc, reply, self._replies)
        else:  # an idle heartbeat, which may name a flow-control reply still awaited
            answer_stalled(self.nc, m, self._replies)


async def watch(conn: Connection, bucket: str, start: int) -> AsyncIterator[list[tuple[str, bytes | None]]]:
    """Batches of the bucket's changes from stream sequence `start` on, in order: (key,
    value), value None for a delete or purge. Runs until the caller stops iterating."""
    nc = conn.nc
    prefix = subject_prefix(bucket)
    while True:
        sink = _Sink(nc, len(prefix))
        inbox = nc.new_inbox()
        sub = await subscribe_direct(nc, inbox, sink.on_msg)
        try:
            await create_consumer(conn, bucket, inbox, ">", deliver_policy="by_start_sequence",
                                  opt_start_seq=start)
            while True:
                try:
                    await asyncio.wait_for(sink.alive.wait(), 3 * HEARTBEAT)
                except TimeoutError:
                    break  # heartbeats stopped: made again from the next sequence
                sink.alive.clear()
                if not sink.arrived.is_set():
                    continue
                await asyncio.sleep(BATCH)
                sink.arrived.clear()
                changes, sink.changes = sink.changes, []
                if changes:
                    start = changes[-1][0] + 1
                    yield [(key, value) for _, key, value in changes]
                if sink.gap:
                    break
        finally:
            await settle(_end_scan(sub))
