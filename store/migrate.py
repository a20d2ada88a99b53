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

- MigrationEvent.phase: a Phase. Several events may share a phase (a start
  event and an end event; import events about every 0.2 s).
- MigrationEvent.message: one human line about the phase.
- MigrationEvent.progress: per bucket (BucketProgress: bucket, done, total) during
  and after import, in write order.
- MigrationEvent.backup: the BackupInfo once the backup is made (also on a failed event
  after it: the backup is kept, and named).
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
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import partial
from typing import Any, Literal, TypeVar

from .aio import settle
from .audit import Action, AuditPhase, Note
from .backup import BackupInfo, make_backup
from .base import Store
from .conflicts import KvConflict, audit_values, explain, find_conflicts
from .errors import InvalidInput, ReadOnly, Refused, StoreError, Unavailable
from .kv import KvStore, PipelinedWriter
from .kv.preflight import check_migration_rights
from .kv.scan import MIGRATION_HEADER, Foreign
from .layout import BY_NAME, WRITE_GROUPS, WRITE_ORDER
from .models import InvalidRecord, Snapshot
from .parity import ParityReport, diff_raw
from .snapshot import paused_gc
from .spec import NatsSpec, SqliteSpec
from .sqlite import SqliteStore


class Phase(StrEnum):
    """The steps of a migration, in order; it ends with DONE or FAILED."""

    CONNECT = "connect"
    BACKUP = "backup"
    EXPORT = "export"
    IMPORT = "import"
    PRUNE = "prune"
    PARITY = "parity"
    DONE = "done"
    FAILED = "failed"


#: what a failed migration's error was: bad input (exit 2), the backend (exit 3), or else
ErrorKind = Literal["", "invalid", "unavailable", "refused", "conflicts", "error"]

PROGRESS_INTERVAL = 0.2
#: a record not acknowledged this long after its first send fails the migration; also how
#: long a bucket's read waits for a stream that elects a new leader (a node restarted)
RECORD_DEADLINE = 30.0


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
    #: the audit trail (SPEC 10), apart from the data: SQLite's events, how many this run
    #: copied into the stream, and how many of them the stream still lacks
    audit: AuditParity | None = None
    #: records changed in KV since the last migration, overwritten as asked
    #: (--overwrite-kv-changes), each with its own audit event (SPEC 5.7)
    overwritten: tuple[KvConflict, ...] = ()

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
            "audit": self.audit.to_json() if self.audit else None,
            "overwritten": [c.to_json() for c in self.overwritten],
        }


@dataclass(frozen=True, slots=True)
class AuditParity:
    """The audit trail's copy, reported apart from the data's parity."""

    sqlite_events: int
    copied: int
    missing_in_kv: int

    @property
    def identical(self) -> bool:
        return self.missing_in_kv == 0

    def to_json(self) -> dict[str, Any]:
        return {"sqlite_events": self.sqlite_events, "copied": self.copied,
                "missing_in_kv": self.missing_in_kv, "identical": self.identical}


async def copy_audit(sq: Store, kv: Store, deadline: float = 0.0) -> AuditParity:
    """Copy SQLite's audit events into the KV stream (those it lacks), then check that every
    one is there. Like read_buckets, tried again until `deadline` seconds have passed while
    the stream is Unavailable (electing a leader after a node restart): the copy is
    idempotent, so a repeat adds nothing twice."""
    events = await sq.audit_events()

    async def copy() -> tuple[int, set[tuple[str, str]]]:
        return await kv.write_audit(events), {e.key for e in await kv.audit_events()}

    copied, held = await until_available(copy, deadline)
    return AuditParity(len(events), copied, sum(1 for e in events if e.key not in held))


async def until_available(op: Callable[[], Awaitable[T]], deadline: float) -> T:
    """op(), tried again every 0.5 s while it is Unavailable (a stream electing a leader after
    a node restart), until `deadline` seconds have passed; then its Unavailable."""
    until = time.monotonic() + deadline
    while True:
        try:
            return await op()
        except Unavailable:
            if time.monotonic() >= until:
                raise
            await asyncio.sleep(0.5)


@dataclass(frozen=True, slots=True)
class MigrationEvent:
    phase: Phase
    message: str = ""
    progress: tuple[BucketProgress, ...] = ()
    elapsed: float = 0.0
    backup: BackupInfo | None = None
    parity: ParityReport | None = None
    report: MigrationReport | None = None
    error: StoreError | None = field(default=None, compare=False)
    error_kind: ErrorKind = ""
    #: records changed in KV since the last migration (SPEC 5.7): on the failed event of a
    #: run that found them (nothing written), or the import event of one overwriting them
    conflicts: tuple[KvConflict, ...] = ()


class KvChangesFound(StoreError):
    """Records changed in KV since the last migration would be overwritten: nothing is
    written unless the run is asked to overwrite them."""

    def __init__(self, conflicts: Sequence[KvConflict]) -> None:
        self.conflicts = tuple(conflicts)
        super().__init__(f"{len(self.conflicts)} record(s) changed in KV since the last migration "
                         "would be overwritten: nothing was written (--overwrite-kv-changes "
                         "overwrites them, each with an audit event)")


T = TypeVar("T")

# -- records of a snapshot, per bucket ------------------------------------------------

def bucket_totals(snap: Snapshot) -> dict[str, int]:
    return {name: len(BY_NAME[name].records(snap)) for name in WRITE_ORDER}


async def import_snapshot(writer: PipelinedWriter, snap: Snapshot,
                          subject_prefix: Callable[[str], str],
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
        iters = [(b.name, subject_prefix(b.name), b.rows(snap),
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

async def prune(kv_store: KvStore, expected: dict[str, dict[str, bytes]],
                headers: dict[str, str] | None = None) -> dict[str, int]:
    """Delete the KV records whose keys are not expected (see parity.expected_rows), each
    delete marker carrying headers (the migration's mark)."""
    pruned: dict[str, int] = {}
    # reverse of the write order: a room disappears before its members and keys
    for b in reversed(WRITE_ORDER):
        live = await kv_store.scan(b, headers_only=True)
        extra = sorted({key for key, _ in live} - expected[b].keys())
        await kv_store.delete_keys(b, extra, headers)
        pruned[b] = len(extra)
    return pruned


async def read_buckets(kv_store: Store, deadline: float = 0.0,
                       foreign: dict[str, dict[str, Foreign]] | None = None) -> dict[str, list[tuple[str, bytes]]]:
    """The live (key, value) rows of every bucket of an open KV store (a KvStore; any other
    Store is a TypeError), by base name (for parity.diff_raw). foreign, when given, receives
    per bucket the keys whose newest revision no migration wrote (store.conflicts).

    A bucket whose read fails (a stream electing a new leader after a node restart)
    is read again until `deadline` seconds have passed; then Unavailable.
    """
    if not isinstance(kv_store, KvStore):
        raise TypeError(f"read_buckets needs a KvStore, not {type(kv_store).__name__}")
    out: dict[str, list[tuple[str, bytes]]] = {}
    until = time.monotonic() + deadline
    for b in WRITE_ORDER:
        mine = foreign.setdefault(b, {}) if foreign is not None else None
        out[b] = await until_available(partial(kv_store.scan, b, foreign=mine), until - time.monotonic())
    return out


# -- the migration --------------------------------------------------------------------

def _progress(totals: dict[str, int], acked: dict[str, int],
              unchanged: dict[str, int]) -> tuple[BucketProgress, ...]:
    return tuple(BucketProgress(b, acked.get(b, 0) + unchanged.get(b, 0), totals[b])
                 for b in WRITE_ORDER)


def _kind(e: BaseException) -> ErrorKind:
    if isinstance(e, InvalidInput):
        return "invalid"
    if isinstance(e, Unavailable):
        return "unavailable"
    if isinstance(e, Refused):
        return "refused"
    return "error"


async def migrate(source: SqliteSpec, target: NatsSpec, *, backup: bool = True,
                  prune_extra: bool = False, skip_invalid: bool = False,
                  overwrite_kv_changes: bool = False,
                  now: float | None = None, reason: str | None = None,
                  ) -> AsyncIterator[MigrationEvent]:
    """Run the migration, yielding MigrationEvents; the last is "done" or "failed".

    Refused before anything is written: a read-only source or target (SPEC 5.9); a NATS
    user who may not create what is missing or write where the migration writes (5.8: no
    bucket or stream is made); records changed in KV since the last migration that it
    would overwrite (5.7: "conflicts", unless overwrite_kv_changes, when each overwrite has
    its own audit event). Its audit event (SPEC 10) goes to the target's stream: the intent
    before the first write, then done with the counts and parity, or failed."""
    t0 = time.monotonic()
    note: Note | None = None
    overwrites: list[tuple[Note, KvConflict]] = []

    def ev(phase: Phase, message: str = "", **kw: Any) -> MigrationEvent:
        return MigrationEvent(phase, message, elapsed=time.monotonic() - t0, **kw)

    sq = kv = writer = None
    exporting: asyncio.Task | None = None
    task: asyncio.Task | None = None
    info: BackupInfo | None = None  # once made, named by every later event: a failed run keeps it
    try:
        yield ev(Phase.CONNECT, f"opening {source.label} and {target.label}")
        if source.read_only or target.read_only:
            ro = source if source.read_only else target
            raise ReadOnly(f"{ro.label} is read-only: the migration is refused, nothing was written")
        sq = await SqliteStore.open(source)
        kv = await KvStore.open(target, missing_ok=True)
        # nothing is created before every creation and write is known to be permitted
        await check_migration_rights(kv, (Action.MIGRATE, Action.OVERWRITE_KV) if overwrite_kv_changes
                                     else (Action.MIGRATE,))

        # over a million live records from here to the parity result: a cyclic GC pass
        # would rescan them all, again and again (the same pause as the exports)
        with paused_gc():
            # the export reads while the backup is written: both only read the database, and
            # VACUUM INTO runs in SQLite's C code without the GIL, so the two overlap
            exporting = asyncio.create_task(sq.export_snapshot())
            if backup:
                yield ev(Phase.BACKUP, f"backing up {source.path}")
                info = await make_backup(source.path, now)
                state = "verified" if info.verified else f"NOT verified ({info.note})"
                yield ev(Phase.BACKUP, f"backup {info.path} ({info.size} bytes) {state}", backup=info)
            else:
                yield ev(Phase.BACKUP, "backup skipped (--no-backup)")

            yield ev(Phase.EXPORT, f"exporting {source.path}")
            snap = await exporting
            totals = bucket_totals(snap)
            invalid = snap.invalid
            text = f"exported {snap.record_count} records"
            if invalid:
                text += (f", {len(invalid)} invalid (not written"
                         + (", skipped as asked)" if skip_invalid else ": the parity will fail)"))
            yield ev(Phase.EXPORT, text, progress=_progress(totals, {}, {}))

            yield ev(Phase.IMPORT, "reading what the target holds already", progress=_progress(totals, {}, {}))
            # what is already there with the same bytes is not written again: a second run
            # changes nothing (no new revisions for the daemon's watchers to see)
            foreign: dict[str, dict[str, Foreign]] = {}
            existing = {b: dict(rows) for b, rows in (await read_buckets(kv, RECORD_DEADLINE, foreign)).items()}
            conflicts = find_conflicts(snap, existing, foreign, prune_extra)
            del foreign
            if conflicts:
                conflicts = explain(conflicts, await kv.audit_events())
                if not overwrite_kv_changes:
                    raise KvChangesFound(conflicts)
                yield ev(Phase.IMPORT, f"overwriting {len(conflicts)} record(s) changed in KV since the last "
                         "migration, as asked", conflicts=tuple(conflicts))

            await kv.ensure_buckets(target.replicas)
            replicas = kv.replicas_used
            intent = kv.audit_note(Action.MIGRATE, f"{source.label} -> {target.label}", reason)
            # a stream made a moment ago may not answer yet (its leader being elected): an
            # event is published again until RECORD_DEADLINE (Nats-Msg-Id: never twice)
            publish = kv.audit.publish
            await until_available(partial(publish, intent.event(
                AuditPhase.INTENT, before=None, after={"prune": prune_extra, "skip_invalid": skip_invalid,
                                                       "overwrite_kv_changes": overwrite_kv_changes})),
                RECORD_DEADLINE)
            note = intent
            # each overwritten record has its own change: the intent acknowledged before the write
            for c in conflicts:
                one = kv.audit_note(Action.OVERWRITE_KV, c.target, reason)
                before, after = audit_values(c)
                await until_available(partial(publish, one.event(AuditPhase.INTENT, before, after)), RECORD_DEADLINE)
                overwrites.append((one, c))

            unchanged: dict[str, int] = {}
            mark = {MIGRATION_HEADER: intent.id}
            writer = await kv.writer(record_deadline=RECORD_DEADLINE, headers=mark)
            t_import = time.monotonic()
            written: dict[str, dict[str, bytes]] = {}
            task = asyncio.create_task(import_snapshot(writer, snap, kv.subject_prefix, written, existing,
                                                       unchanged))
            yield ev(Phase.IMPORT, f"importing {sum(totals.values())} records", progress=_progress(totals, {}, {}))
            while not task.done():
                await asyncio.wait({task}, timeout=PROGRESS_INTERVAL)
                yield ev(Phase.IMPORT, "", progress=_progress(totals, writer.acked, unchanged))
            task.result()
            del existing
            import_seconds = time.monotonic() - t_import
            await writer.close()
            progress = _progress(totals, writer.acked, unchanged)
            n_same = sum(unchanged.values())
            yield ev(Phase.IMPORT, f"wrote {sum(totals.values()) - n_same} records in {import_seconds:.1f}s"
                     + (f", {n_same} already there unchanged" if n_same else "")
                     + (f", {len(conflicts)} changed in KV overwritten" if conflicts else ""), progress=progress)

            pruned: dict[str, int] = {}
            if prune_extra:
                yield ev(Phase.PRUNE, "deleting records only in KV")
                pruned = await prune(kv, written, mark)
                yield ev(Phase.PRUNE, f"deleted {sum(pruned.values())} records only in KV")
            # an overwrite (a prune's delete included) is done once the prune is
            for one, c in overwrites:
                before, after = audit_values(c)
                await kv.audit.publish_outcome(one.event(AuditPhase.DONE, before, after))
            overwrites = []

            yield ev(Phase.PARITY, "copying the audit trail")
            audit = await copy_audit(sq, kv, RECORD_DEADLINE)
            yield ev(Phase.PARITY, f"audit: {audit.copied} of {audit.sqlite_events} SQLite event(s) copied"
                     + ("" if audit.identical else f", {audit.missing_in_kv} missing in KV"))
            yield ev(Phase.PARITY, "reading KV back and comparing")
            # skipped invalid records are named in the report, not counted as differences
            compared = replace(snap, invalid=()) if skip_invalid else snap
            parity = diff_raw(compared, await read_buckets(kv, RECORD_DEADLINE), written)
            text = "identical" if parity.identical else f"{len(parity.differences)} difference(s)"
            yield ev(Phase.PARITY, text, parity=parity)

        report = MigrationReport(
            source=source.path, target=target.label, replicas=replicas, backup=info,
            counts=dict(totals), unchanged=dict(unchanged), pruned=pruned, parity=parity,
            duration=time.monotonic() - t0, import_seconds=import_seconds, retries=writer.retries,
            invalid=invalid, skip_invalid=skip_invalid, audit=audit, overwritten=tuple(conflicts))
        await kv.audit.publish_outcome(note.event(
            AuditPhase.DONE, before=None,
            after={"counts": dict(totals), "written": report.written, "pruned": pruned,
                   "overwritten": len(conflicts),
                   "parity": "identical" if parity.identical else f"{len(parity.differences)} difference(s)",
                   "audit": audit.to_json()}))
        note = None
        yield ev(Phase.DONE, f"migrated {report.records} records, parity {text}",
                 progress=progress, backup=info, parity=parity, report=report)
    except StoreError as e:
        if kv is not None:
            for one, _ in overwrites:
                await kv.audit.publish_outcome(one.event(AuditPhase.FAILED, result=str(e)))
            overwrites = []
        if note is not None and kv is not None:
            await kv.audit.publish_outcome(note.event(AuditPhase.FAILED, result=str(e)))
            note = None
        conflicts_found = e.conflicts if isinstance(e, KvChangesFound) else ()
        yield ev(Phase.FAILED, str(e), error=e, error_kind="conflicts" if conflicts_found else _kind(e),
                 conflicts=conflicts_found, backup=info)
    except OSError as e:
        err = StoreError(f"{e.strerror or e}: {getattr(e, 'filename', '') or ''}".rstrip(": "))
        yield ev(Phase.FAILED, str(err), error=err, error_kind="error", backup=info)
    except Exception as e:
        err = StoreError(f"internal error: {type(e).__name__}: {e}")
        yield ev(Phase.FAILED, str(err), error=err, error_kind="error", backup=info)
    finally:
        if kv is not None:  # the intents recorded: so are their ends
            for one, _ in overwrites:
                await settle(kv.audit.publish_outcome(one.event(AuditPhase.FAILED, result="interrupted")))
            if note is not None:
                await settle(kv.audit.publish_outcome(note.event(AuditPhase.FAILED, result="interrupted")))
        for t in (exporting, task):
            if t is not None and not t.done():
                t.cancel()
                try:
                    await t
                except BaseException:
                    pass
        if writer is not None:
            await writer.close()
        for s in (kv, sq):
            if s is not None:
                try:
                    await s.close()
                except Exception:
                    pass


async def run_migration(source: SqliteSpec, target: NatsSpec, **kw: Any) -> MigrationReport:
    """The migration without progress: its report, or the StoreError it failed with."""
    async for event in migrate(source, target, **kw):
        if event.phase == Phase.FAILED:
            assert event.error is not None
            raise event.error
        if event.report is not None:
            return event.report
    raise StoreError("migration ended without a report")
