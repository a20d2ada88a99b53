"""The migration SQLite -> JetStream KV (SPEC section 5), as an async generator of events.

    async for event in migrate(SqliteSpec(path), NatsSpec(url, replicas=3)):
        ...  # show event.phase / event.progress; the last event is "done" or "failed"

Steps: connect (both sides are opened first, so an unreachable target leaves nothing
behind), backup (VACUUM INTO, verified), export (one read transaction, made while
the backup is written), import (pipelined writes of the records the target does not
already hold byte for byte, so a second run writes nothing and a run after a crash
writes only what is missing), prune (only when asked), parity (every bucket read back
and compared with the SQLite snapshot: byte for byte, values that differ decoded and
diffed field by field; see store.parity.diff_raw), done.

Events (frozen dataclasses, cheap to pass to a UI thread or message):

- MigrationEvent.phase: one of PHASES. Several events may share a phase (a start
  event and an end event; import events about every 0.2 s).
- MigrationEvent.message: one human line about the phase.
- MigrationEvent.progress: per bucket (BucketProgress: bucket, done, total) during
  and after import, in write order.
- MigrationEvent.backup: the BackupInfo once the backup is made.
- MigrationEvent.parity: the ParityReport once parity is known.
- MigrationEvent.report: the MigrationReport, on the final "done" event only.
- MigrationEvent.error / error_kind: on the final "failed" event only: the StoreError
  and "invalid" (bad input: exit 2) or "unavailable" (exit 3) or "error".

The generator never raises a StoreError: it ends with a "failed" event instead.
Cancelling the consumer's task stops the migration and closes both stores.

Write order (an interrupted run leaves both sides usable; running again completes
it): users first, then sealed keys, then members with their reverse rows, then rooms
last, each bucket group fully acknowledged before the next starts. So a room that
is visible in KV always has its members and keys, and every member's user exists.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .backends import open_store
from .backup import BackupInfo, backup_database
from .errors import InvalidInput, StoreError, Unavailable
from .kv import subscribe_direct
from .layout import BY_NAME, WRITE_GROUPS, WRITE_ORDER
from .models import InvalidRecord, Snapshot
from .parity import ParityReport, diff_raw
from .snapshot import paused_gc
from .spec import NatsSpec, SqliteSpec

PHASES = ("connect", "backup", "export", "import", "prune", "parity", "done", "failed")

DEFAULT_WINDOW = 4096
PROGRESS_INTERVAL = 0.2


@dataclass(frozen=True, slots=True)
class BucketProgress:
    bucket: str
    done: int
    total: int


@dataclass(frozen=True, slots=True)
class MigrationReport:
    source: str
    target: str
    replicas: int | None
    backup: BackupInfo | None
    #: records per bucket, as exported from SQLite
    counts: dict[str, int]
    #: of those, the records KV already held with the same bytes: not written again
    unchanged: dict[str, int]
    #: records deleted from KV because they are not in SQLite (only with prune)
    pruned: dict[str, int]
    parity: ParityReport
    duration: float
    import_seconds: float
    retries: int
    #: SQLite records that break a rule (SPEC 5.5): never written; they fail the parity
    #: unless skip_invalid, and are named either way
    invalid: tuple[InvalidRecord, ...] = ()
    skip_invalid: bool = False

    @property
    def records(self) -> int:
        return sum(self.counts.values())

    @property
    def written(self) -> int:
        return self.records - sum(self.unchanged.values())

    @property
    def rate(self) -> float:
        """Records written per second during the import."""
        return self.written / self.import_seconds if self.import_seconds > 0 else 0.0

    @property
    def identical(self) -> bool:
        return self.parity.identical

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "replicas": self.replicas,
            "backup": self.backup.to_json() if self.backup else None,
            "counts": dict(self.counts),
            "records": self.records,
            "unchanged": dict(self.unchanged),
            "written": self.written,
            "pruned": dict(self.pruned),
            "duration_seconds": round(self.duration, 3),
            "import_seconds": round(self.import_seconds, 3),
            "rate_records_per_second": round(self.rate, 1),
            "retries": self.retries,
            "invalid": [{"table": r.bucket, "key": r.key, "reason": r.reason} for r in self.invalid],
            "skip_invalid": self.skip_invalid,
            "parity": self.parity.to_json(),
        }


@dataclass(frozen=True, slots=True)
class MigrationEvent:
    phase: str
    message: str = ""
    progress: tuple[BucketProgress, ...] = ()
    elapsed: float = 0.0
    backup: BackupInfo | None = None
    parity: ParityReport | None = None
    report: MigrationReport | None = None
    error: StoreError | None = field(default=None, compare=False)
    error_kind: str = ""


# -- the pipelined writer ------------------------------------------------------------

class PipelinedWriter:
    """Publishes to JetStream subjects with thousands of acknowledgements in flight.

    Each message carries its own reply subject under one inbox; one wildcard
    subscription collects the PubAcks. Every ack is checked; a write that fails or
    is not acknowledged within ack_timeout is sent again (KV puts are idempotent
    overwrites), until record_deadline has passed since its first send: then the
    whole write fails with Unavailable.
    """

    def __init__(self, nc: Any, *, window: int = DEFAULT_WINDOW, ack_timeout: float = 2.0,
                 record_deadline: float = 30.0) -> None:
        self._nc = nc
        self._window = max(1, window)
        self._low = max(1, self._window * 3 // 4)
        self._ack_timeout = ack_timeout
        self._deadline = record_deadline
        # reply subject -> (subject, payload, tag, first_sent, sent_at); insertion order is
        # send order, and every send (also a retry) has a reply subject of its own
        self._pending: dict[str, tuple] = {}
        self._retry: deque[tuple] = deque()  # (not_before, attempts, record)
        self._attempts: dict[str, int] = {}  # reply subject -> attempts, for retried writes
        self._seq = 0
        self._wake = asyncio.Event()
        self._wake_at = self._low
        self._next_expire = 0.0
        self._error: StoreError | None = None
        self._prefix = ""
        self._sub: Any = None
        self.acked: defaultdict[str, int] = defaultdict(int)
        self.retries = 0

    async def start(self) -> None:
        self._prefix = self._nc.new_inbox() + "."
        self._sub = await subscribe_direct(self._nc, self._prefix + "*", self._on_ack)

    async def close(self) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:  # noqa: BLE001 - the connection may be gone already
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
            await self._nc.publish(subject, payload, reply=seq)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - reconnecting, buffer full: retry later
            if self._pending.pop(seq, None) is not None:
                self._attempts[seq] = attempts
                self._requeue(seq, rec, f"publish failed: {type(e).__name__}", now)

    async def put(self, subject: str, payload: bytes, tag: str) -> None:
        """Send one write; waits only when the window is full or retries are due."""
        if self._error is not None or self._retry or len(self._pending) >= self._window:
            await self._service(lambda: len(self._pending) < self._window and not self._retry,
                                self._low)
        # _send inlined: this runs once per record
        self._seq += 1
        reply = f"{self._prefix}{self._seq}"
        now = time.monotonic()
        rec = (subject, payload, tag, now, now)
        self._pending[reply] = rec
        try:
            await self._nc.publish(subject, payload, reply=reply)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - reconnecting, buffer full: retry later
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
                while self._retry and self._retry[0][0] <= now and len(self._pending) < self._window:
                    _, attempts, rec = self._retry.popleft()
                    await self._send(rec[0], rec[1], rec[2], rec[3], attempts)
                if self._error is not None:
                    raise self._error
                if done():
                    return
                self._wake.clear()
                timeout = 0.1
                if self._retry and len(self._pending) < self._window:
                    timeout = max(0.0, min(timeout, self._retry[0][0] - now))
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except (asyncio.TimeoutError, TimeoutError):
                    pass
        finally:
            self._wake_at = self._low


def _ack_error(msg: Any) -> str:
    headers = getattr(msg, "headers", None) or {}
    status = headers.get("Status")
    if status:
        return f"status {status} {headers.get('Description', '')}".strip()
    try:
        err = json.loads(msg.data).get("error") or {}
        return f"{err.get('code', '')} {err.get('description', '')}".strip() or "bad ack"
    except Exception:  # noqa: BLE001 - any undecodable ack is just an error
        return "bad ack"


# -- records of a snapshot, per bucket ------------------------------------------------

def bucket_totals(snap: Snapshot) -> dict[str, int]:
    return {name: len(BY_NAME[name].records(snap)) for name in WRITE_ORDER}


async def import_snapshot(writer: PipelinedWriter, snap: Snapshot,
                          bucket_name: Callable[[str], str],
                          written: dict[str, dict[str, bytes]] | None = None,
                          existing: Mapping[str, Mapping[str, bytes]] | None = None,
                          unchanged: dict[str, int] | None = None) -> None:
    """Write every record of the snapshot, group after group (see WRITE_ORDER).

    written, when given, receives bucket -> key -> the bytes of every record (for parity).
    existing: bucket -> key -> the bytes KV holds already; a record with the same bytes
    is not written again, only counted in unchanged[bucket].
    """
    existing = existing or {}
    unchanged = unchanged if unchanged is not None else {}
    for group in WRITE_GROUPS:
        iters = [(b.name, f"$KV.{bucket_name(b.name)}.", b.rows(snap),
                  written.setdefault(b.name, {}) if written is not None else {}, existing.get(b.name) or {})
                 for b in group]
        put = writer.put
        # members and their reverse rows go out interleaved, so they land together
        active = iters
        while active:
            still = []
            for b, prefix, it, seen, have in active:
                batch = 0
                for key, value in it:
                    seen[key] = value
                    if have.get(key) == value:
                        unchanged[b] = unchanged.get(b, 0) + 1
                    else:
                        await put(prefix + key, value, b)
                    batch += 1
                    if batch == 256:
                        break
                if batch == 256:
                    still.append((b, prefix, it, seen, have))
            active = still
        await writer.drain()


# -- prune ---------------------------------------------------------------------------

async def prune(kv_store: Any, expected: dict[str, dict[str, bytes]]) -> dict[str, int]:
    """Delete the KV records whose keys are not expected (see parity.expected_rows)."""
    pruned: dict[str, int] = {}
    try:
        # reverse of the write order: a room disappears before its members and keys
        for b in reversed(WRITE_ORDER):
            name = kv_store.bucket(b)
            live = await kv_store._scan(b, headers_only=True)
            extra = sorted({key for key, _ in live} - expected[b].keys())
            kv = await kv_store.js.key_value(name)
            for i in range(0, len(extra), 256):
                await asyncio.gather(*(kv.delete(k) for k in extra[i:i + 256]))
            pruned[b] = len(extra)
    except StoreError:
        raise
    except asyncio.CancelledError:
        raise
    except Exception as e:  # noqa: BLE001 - nats.* must not escape
        raise Unavailable(f"prune failed: {type(e).__name__} {e}".strip()) from None
    return pruned


async def read_buckets(kv_store: Any, deadline: float = 0.0) -> dict[str, list[tuple[str, bytes]]]:
    """The live (key, value) rows of every bucket, by base name (for parity.diff_raw).

    A bucket whose read fails (a stream electing a new leader after a node restart)
    is read again until `deadline` seconds have passed; then Unavailable.
    """
    out: dict[str, list[tuple[str, bytes]]] = {}
    until = time.monotonic() + deadline
    for b in WRITE_ORDER:
        while True:
            try:
                # KvStore._scan: an ordered push consumer, last value per key, no delete markers
                out[b] = await kv_store._scan(b)
                break
            except Unavailable:
                if time.monotonic() >= until:
                    raise
                await asyncio.sleep(0.5)
    return out


# -- the migration --------------------------------------------------------------------

def _progress(totals: dict[str, int], acked: dict[str, int],
              unchanged: dict[str, int]) -> tuple[BucketProgress, ...]:
    return tuple(BucketProgress(b, acked.get(b, 0) + unchanged.get(b, 0), totals[b])
                 for b in WRITE_ORDER)


def _kind(e: BaseException) -> str:
    if isinstance(e, InvalidInput):
        return "invalid"
    if isinstance(e, Unavailable):
        return "unavailable"
    return "error"


async def migrate(source: SqliteSpec, target: NatsSpec, *, backup: bool = True,
                  prune_extra: bool = False, skip_invalid: bool = False, window: int = DEFAULT_WINDOW,
                  record_deadline: float = 30.0, now: float | None = None,
                  ) -> AsyncIterator[MigrationEvent]:
    """Run the migration, yielding MigrationEvents; the last is "done" or "failed"."""
    t0 = time.monotonic()

    def ev(phase: str, message: str = "", **kw: Any) -> MigrationEvent:
        return MigrationEvent(phase, message, elapsed=time.monotonic() - t0, **kw)

    sq = kv = writer = None
    exporting: asyncio.Task | None = None
    task: asyncio.Task | None = None
    try:
        yield ev("connect", f"opening {source.label} and {target.label}")
        sq = await open_store(source)
        kv = await open_store(replace(target, read_only=False))
        replicas = getattr(kv, "replicas_used", target.replicas)

        # over a million live records from here to the parity result: a cyclic GC pass
        # would rescan them all, again and again (the same pause as the exports)
        with paused_gc():
            # the export reads while the backup is written: both only read the database, and
            # VACUUM INTO runs in SQLite's C code without the GIL, so the two overlap
            exporting = asyncio.create_task(sq.export_snapshot())
            info: BackupInfo | None = None
            if backup:
                yield ev("backup", f"backing up {source.path}")
                info = await asyncio.to_thread(backup_database, source.path, now)
                state = "verified" if info.verified else f"NOT verified ({info.note})"
                yield ev("backup", f"backup {info.path} ({info.size} bytes) {state}", backup=info)
            else:
                yield ev("backup", "backup skipped (--no-backup)")

            yield ev("export", f"exporting {source.path}")
            snap = await exporting
            totals = bucket_totals(snap)
            invalid = snap.invalid
            text = f"exported {snap.record_count} records"
            if invalid:
                text += (f", {len(invalid)} invalid (not written"
                         + (", skipped as asked)" if skip_invalid else ": the parity will fail)"))
            yield ev("export", text, progress=_progress(totals, {}, {}))

            yield ev("import", "reading what the target holds already", progress=_progress(totals, {}, {}))
            # what is already there with the same bytes is not written again: a second run
            # changes nothing (no new revisions for the daemon's watchers to see)
            existing = {b: dict(rows) for b, rows in (await read_buckets(kv, record_deadline)).items()}
            unchanged: dict[str, int] = {}
            writer = PipelinedWriter(kv.nc, window=window, ack_timeout=target.op_timeout,
                                     record_deadline=record_deadline)
            await writer.start()
            t_import = time.monotonic()
            written: dict[str, dict[str, bytes]] = {}
            task = asyncio.create_task(import_snapshot(writer, snap, kv.bucket, written, existing, unchanged))
            yield ev("import", f"importing {sum(totals.values())} records", progress=_progress(totals, {}, {}))
            while not task.done():
                await asyncio.wait({task}, timeout=PROGRESS_INTERVAL)
                yield ev("import", "", progress=_progress(totals, writer.acked, unchanged))
            task.result()
            del existing
            import_seconds = time.monotonic() - t_import
            await writer.close()
            progress = _progress(totals, writer.acked, unchanged)
            n_same = sum(unchanged.values())
            yield ev("import", f"wrote {sum(totals.values()) - n_same} records in {import_seconds:.1f}s"
                     + (f", {n_same} already there unchanged" if n_same else ""), progress=progress)

            pruned: dict[str, int] = {}
            if prune_extra:
                yield ev("prune", "deleting records only in KV")
                pruned = await prune(kv, written)
                yield ev("prune", f"deleted {sum(pruned.values())} records only in KV")

            yield ev("parity", "reading KV back and comparing")
            # skipped invalid records are named in the report, not counted as differences
            compared = replace(snap, invalid=()) if skip_invalid else snap
            parity = diff_raw(compared, await read_buckets(kv, record_deadline), written)
            text = "identical" if parity.identical else f"{len(parity.differences)} difference(s)"
            yield ev("parity", text, parity=parity)

        report = MigrationReport(
            source=source.path, target=target.label, replicas=replicas, backup=info,
            counts=dict(totals), unchanged=dict(unchanged), pruned=pruned, parity=parity,
            duration=time.monotonic() - t0, import_seconds=import_seconds, retries=writer.retries,
            invalid=invalid, skip_invalid=skip_invalid)
        yield ev("done", f"migrated {report.records} records, parity {text}",
                 progress=progress, backup=info, parity=parity, report=report)
    except StoreError as e:
        yield ev("failed", str(e), error=e, error_kind=_kind(e))
    except OSError as e:
        err = StoreError(f"{e.strerror or e}: {getattr(e, 'filename', '') or ''}".rstrip(": "))
        yield ev("failed", str(err), error=err, error_kind="error")
    except Exception as e:  # noqa: BLE001 - a bug must still end in one readable line
        err = StoreError(f"internal error: {type(e).__name__}: {e}")
        yield ev("failed", str(err), error=err, error_kind="error")
    finally:
        for t in (exporting, task):
            if t is not None and not t.done():
                t.cancel()
                try:
                    await t
                except BaseException:  # noqa: BLE001 - cancelled on the way out
                    pass
        if writer is not None:
            await writer.close()
        for s in (kv, sq):
            if s is not None:
                try:
                    await s.close()
                except Exception:  # noqa: BLE001 - closing on the way out
                    pass


async def run_migration(source: SqliteSpec, target: NatsSpec, **kw: Any) -> MigrationReport:
    """The migration without progress: its report, or the StoreError it failed with."""
    async for event in migrate(source, target, **kw):
        if event.phase == "failed":
            assert event.error is not None
            raise event.error
        if event.report is not None:
            return event.report
    raise StoreError("migration ended without a report")
