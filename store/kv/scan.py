"""Reading many keys of a bucket at once: an ordered push consumer, checked against the
stream leader.

A scan delivers the last value per key, no acks, with flow control; messages reach a
plain function as they are parsed (store.kv.direct) and only (key, value) is kept, raw,
for the caller to decode in bulk. Delete and purge markers are dropped.

The server places such a consumer on any replica of the stream, and a replica that is
catching up (a node just restarted) serves the older state it has. So a scan must reach
the sequence of the newest matching message as the leader had it before the scan
started (the leader floor); a scan that falls short is made again (landing elsewhere,
or later) until the operation timeout, then Unavailable.

A scan may also name the keys whose newest message a migration of this tool did not
write (no MIGRATION_HEADER): the records changed since, by the daemon or an admin, that a
migration must not overwrite unnoticed (SPEC 5.7). Only those are noted, so a scan of a
million records a migration wrote costs one dict lookup more per message.

A ScanCount, when given, tells a progress display how far the scan has come: it holds
the scan's sink while the scan runs and reads its count when asked, so nothing more is
done per message.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import nats.errors

from ..aio import settle
from ..errors import NotFound, Unavailable
from .connection import Connection, stream_name, subject_prefix
from .direct import subscribe_direct

_DELETED = ("DEL", "PURGE")  # KV-Operation of a delete or purge marker
#: the header every write of a migration carries (its audit id): a record whose newest
#: revision lacks it was written by someone else
MIGRATION_HEADER = "Membership-Admin-Migration"


@dataclass(frozen=True, slots=True)
class Foreign:
    """The newest message of a key that no migration of this tool wrote."""

    seq: int
    #: when the stream stored it, Unix seconds
    at: int
    deleted: bool


class Gap(Exception):
    """An ordered scan saw a sequence gap: it is restarted."""


class Stalled(Exception):
    """An ordered scan delivered nothing for an operation timeout: it is restarted."""


class Behind(Exception):
    """A scan was served by a replica that has not caught up with the leader."""

    def __init__(self, reached: int) -> None:
        super().__init__(reached)
        self.reached = reached


class ScanCount:
    """How far one scan has come: messages delivered of those the consumer had pending
    when created (delete markers included; more arrive if the bucket is written meanwhile)."""

    def __init__(self) -> None:
        self._sink: _ScanSink | None = None  # while the scan runs: it holds the rows read
        self._done = 0
        self._total = 0

    def _begin(self, sink: _ScanSink, total: int) -> None:  # a scan made again starts over
        self._sink, self._done, self._total = sink, 0, total

    def _end(self) -> None:  # the rows are the caller's now: not kept alive from here
        if self._sink is not None:
            self._done, self._sink = self._sink.delivered, None

    @property
    def done(self) -> int:
        return self._sink.delivered if self._sink is not None else self._done

    @property
    def total(self) -> int:
        return max(self._total, self.done)


async def scan(conn: Connection, bucket: str, filt: str = ">", *,
               headers_only: bool = False, count: ScanCount | None = None,
               foreign: dict[str, Foreign] | None = None) -> list[tuple[str, bytes]]:
    """(key, value) of every live key of the bucket (its full name) matching filt, in
    delivery order; with headers_only the values are empty. count, when given, follows
    the scan's progress; foreign, when given, receives the keys (deleted ones too) whose
    newest message lacks MIGRATION_HEADER."""
    floor = await leader_floor(conn, bucket, filt)
    gaps = 0
    deadline = time.monotonic() + conn.timeout
    while True:
        try:
            return await scan_once(conn, bucket, filt, headers_only, floor, count, foreign=foreign)
        except (Gap, Stalled) as e:
            gaps += 1
            if gaps == 3:
                what = "stalled" if isinstance(e, Stalled) else "lost messages"
                raise Unavailable(f"scan {bucket}: {what} three times") from None
        except Behind as e:
            if time.monotonic() > deadline:
                raise Unavailable(f"scan {bucket}: the replica read reached sequence "
                                  f"{e.reached}, the leader has {floor}") from None
            await asyncio.sleep(0.1)


async def leader_floor(conn: Connection, bucket: str, filt: str) -> int:
    """Stream sequence of the newest message under filt, from the leader (0: none)."""
    if filt == ">":  # the whole bucket: the stream's own state, on any server version
        info = await conn.stream_info(bucket)
        state = (info or {}).get("state", {})
        return state.get("last_seq", 0) if state.get("messages", 0) else 0
    try:
        # an API message get is answered by the leader; a wildcard last_by_subj needs
        # nats-server 2.10+: without it (or without an answer) the scan goes unchecked,
        # as these partial reads only feed views, never a decision
        resp = await conn.request(f"$JS.API.STREAM.MSG.GET.{stream_name(bucket)}",
                                  {"last_by_subj": subject_prefix(bucket) + filt})
    except (NotFound, Unavailable):
        return 0
    return int(resp.get("message", {}).get("seq", 0))


async def scan_first(conn: Connection, bucket: str, limit: int) -> list[tuple[str, bytes]]:
    """Up to limit (key, value) of the bucket's live keys, the first delivered: a preview to
    show while the whole bucket is read, never a decision (so not checked against the
    leader; empty when the pass stalls or loses messages)."""
    try:
        return await scan_once(conn, bucket, ">", False, 0, limit=limit)
    except (Gap, Stalled, Behind):
        return []


async def scan_once(conn: Connection, bucket: str, filt: str, headers_only: bool,
                    floor: int, count: ScanCount | None = None, limit: int = 0,
                    foreign: dict[str, Foreign] | None = None) -> list[tuple[str, bytes]]:
    """One consumer pass (with a limit: until that many messages came, unchecked). Raises:
    Gap, Stalled, Behind (short of floor), Unavailable."""
    nc = conn.nc
    inbox = nc.new_inbox()
    if foreign is not None:
        foreign.clear()  # a pass made again starts over
    sink = _ScanSink(nc, len(subject_prefix(bucket)), limit, foreign)
    sub = await subscribe_direct(nc, inbox, sink.on_msg)
    try:
        try:
            info = await create_consumer(conn, bucket, inbox, filt, deliver_policy="last_per_subject",
                                         headers_only=headers_only)
        except NotFound:
            return []
        if info.get("num_pending", 0) == 0 and info.get("delivered", {}).get("consumer_seq", 0) == 0:
            if floor:
                raise Behind(0)
            return []
        initial = info.get("num_pending", 0) + info.get("delivered", {}).get("consumer_seq", 0)
        if count is not None:  # delivery may have begun before the answer came
            count._begin(sink, initial)
        # bounded by progress: every op_timeout a message must have arrived. Heartbeats do
        # not count: a consumer the server has stalled (1 export of 610k records in 20)
        # sends them on and on, and the scan waited forever; it is made again instead
        seen = -1
        while True:
            try:
                last = await asyncio.wait_for(asyncio.shield(sink.done), conn.timeout)
                break
            except TimeoutError:
                if sink.delivered == seen:
                    raise Stalled(sink.delivered) from None
                seen = sink.delivered
        if limit:
            return sink.rows[:limit]  # more may have come since: the first `limit` are asked
        # consumer sequence of the last message must equal the count: else a gap;
        # its stream sequence is the newest this replica has (delivery is in order)
        sseq, cseq = ack_sequences(last)
        if cseq != sink.delivered:
            raise Gap()
        if sseq < floor:
            raise Behind(sseq)
        if sink.delivered > initial:
            # more than one message per key: written while the scan ran, or a replica that
            # was catching up delivered a key's older revision before its newest
            return _newest(sink.rows, sink.deletes)
        return sink.rows
    finally:
        if count is not None:
            count._end()
        await settle(_end_scan(sub))


async def create_consumer(conn: Connection, bucket: str, inbox: str, filt: str, **policy: Any) -> dict:
    """Make an ephemeral push consumer of the bucket's keys under filt, delivering to inbox in
    order: no acks, flow control, a heartbeat a second, in memory, gone by itself 5 s after
    we stop listening; policy adds the rest (where delivery starts). Returns its info.

    Made with the ephemeral API subject ($JS.API.CONSUMER.CREATE.<stream>, no name, the
    filter in the body) and never deleted: the server removes it once nobody listens for
    its inactive threshold. So the README's viewer and admin need no right to delete
    consumers or to make named (durable) ones, which would let them delete or replace the
    daemon's own (SPEC 9)."""
    stream = stream_name(bucket)
    cfg = {"ack_policy": "none", "deliver_subject": inbox,
           "filter_subject": subject_prefix(bucket) + filt, "flow_control": True,
           "idle_heartbeat": 1_000_000_000, "mem_storage": True, "num_replicas": 1,
           "inactive_threshold": 5_000_000_000, "max_deliver": 1, "replay_policy": "instant", **policy}
    # settled: a create cancelled in flight is answered before the subscription goes
    return await settle(conn.request(f"$JS.API.CONSUMER.CREATE.{stream}", {"stream_name": stream, "config": cfg}))


def ack_sequences(reply: str) -> tuple[int, int]:
    """(stream sequence, consumer sequence) of a JetStream ack subject: v1
    $JS.ACK.<stream>.<consumer>.<dlv>.<sseq>.<cseq>.<ts>.<pending> (9 tokens); v2 adds a
    domain and an account hash after ACK and a token at the end."""
    toks = reply.split(".")
    return (int(toks[5]), int(toks[6])) if len(toks) == 9 else (int(toks[7]), int(toks[8]))


def reply_empty(nc: Any, subject: str, replies: set[asyncio.Future]) -> None:
    """Publish an empty message to subject from a plain function (a flow-control answer)."""
    task = asyncio.ensure_future(nc.publish(subject, b""))
    replies.add(task)  # kept until sent: a bare task may be collected
    task.add_done_callback(replies.discard)


async def _end_scan(sub: Any) -> None:
    """Stop listening: the server then removes the consumer after its inactive threshold."""
    try:
        await sub.unsubscribe()
    except nats.errors.Error:
        pass


def answer_stalled(nc: Any, heartbeat: Any, replies: set[asyncio.Future]) -> None:
    """A heartbeat naming a flow-control reply the server still waits for (header
    Nats-Consumer-Stalled) is answered, as the NATS clients' ordered consumers do: else the
    server delivers nothing more."""
    headers = heartbeat.headers
    stalled = headers.get("Nats-Consumer-Stalled") if headers else None
    if stalled:
        reply_empty(nc, stalled, replies)


def _newest(rows: list[tuple[str, bytes]], deletes: list[tuple[int, str]]) -> list[tuple[str, bytes]]:
    """Each key once, with its last value delivered, and none whose delete marker came after
    it (deletes: (how many rows had come, key) at each marker)."""
    last: dict[str, int] = {}
    for i, (key, _) in enumerate(rows):
        last[key] = i
    for pos, key in deletes:
        if last.get(key, pos) < pos:
            del last[key]
    return [rows[i] for i in sorted(last.values())]


def _foreign(reply: str, deleted: bool) -> Foreign:
    """The stream sequence and time of a delivered message, from its ack subject."""
    toks = reply.split(".")
    sseq, ts = (toks[5], toks[7]) if len(toks) == 9 else (toks[7], toks[9])
    return Foreign(int(sseq), int(ts) // 1_000_000_000, deleted)


def _pending(reply: str) -> int:
    """num_pending of a JetStream ack subject, v1 (9 tokens) or v2
    ($JS.ACK.<domain>.<hash>.<stream>.<consumer>.<dlv>.<sseq>.<cseq>.<ts>.<pending>.<token>)."""
    toks = reply.split(".")
    return int(toks[10] if len(toks) >= 12 else toks[-1])


class _ScanSink:
    """What one scan has received: the (key, value) of each live key in delivery order,
    and how many data messages came (delete markers too).
    Only key and value are kept: a million nats-py Msg objects would cost ~250 MB."""

    def __init__(self, nc: Any, key_start: int, limit: int = 0,
                 foreign: dict[str, Foreign] | None = None) -> None:
        self.nc = nc
        self.foreign = foreign
        self.key_start = key_start
        self.limit = limit  # done after this many messages (0: when the consumer has no more)
        self.rows: list[tuple[str, bytes]] = []
        #: (len(rows) then, key) at each delete marker: a later marker removes a key read before
        self.deletes: list[tuple[int, str]] = []
        self.delivered = 0
        self.done = asyncio.get_running_loop().create_future()
        self._replies: set[asyncio.Future] = set()

    def on_msg(self, m: Any) -> None:
        reply = m.reply
        if reply and reply[:8] == "$JS.ACK.":
            self.delivered += 1
            headers = m.headers
            deleted = bool(headers) and headers.get("KV-Operation") in _DELETED
            if not deleted:
                self.rows.append((m.subject[self.key_start:], m.data))
            else:
                self.deletes.append((len(self.rows), m.subject[self.key_start:]))
            if self.foreign is not None:  # the newest message of a key decides
                if not headers or MIGRATION_HEADER not in headers:
                    self.foreign[m.subject[self.key_start:]] = _foreign(reply, deleted)
                else:
                    self.foreign.pop(m.subject[self.key_start:], None)
            # num_pending 0 ends the scan: the last token of a v1 ack subject; the
            # v2 form (12 tokens) ends with a random token instead
            if (reply.endswith(".0") or (reply.count(".") >= 11 and _pending(reply) == 0)
                    or self.delivered == self.limit) and not self.done.done():
                self.done.set_result(reply)
        elif reply:  # flow control request
            reply_empty(self.nc, reply, self._replies)
        else:  # idle heartbeat
            answer_stalled(self.nc, m, self._replies)
