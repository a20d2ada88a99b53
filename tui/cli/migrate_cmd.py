"""`migrate-to-kv`, `diff`, `export-to-sqlite`: SPEC sections 5 and 7.

Exit status: 0 done and identical; 1 differences (or invalid records, or records changed
in KV since the last migration: nothing written); 2 bad input; 3 the backend is
unavailable; 4 refused (permissions, read-only); 143 stopped by SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from store import Snapshot, Store, StoreError
from store.audit import Action, AuditEvent, AuditPhase
from store.migrate import MigrationEvent, MigrationReport, migrate, read_buckets
from store.parity import diff, diff_raw, render_table
from store.restore import write_database
from store.text import printable

from .common import (
    EXIT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    add_backend_args,
    add_reason_arg,
    command_error,
    reason_arg,
    replicas_arg,
    run_async,
    with_store,
)
from .connection import guard_changes, nats_spec, sqlite_spec
from .data import report_invalid
from .progress import Display, progress_display, watch


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migrate-to-kv", help="copy the SQLite state into JetStream KV, then check parity",
                       description="Back up the database, export it, write every record to the KV "
                                   "buckets, and diff both sides. Safe to run again: a record changed "
                                   "in KV since the last migration (by the daemon or an admin) is never "
                                   "overwritten unless --overwrite-kv-changes; such a run lists them, "
                                   "writes nothing and exits 1.")
    add_backend_args(p, suppress=True)
    p.add_argument("--replicas", type=replicas_arg, default=argparse.SUPPRESS,
                   help="replicas of buckets created now, 1 to 5 (default 3 where the cluster "
                        "can hold it, else 1)")
    p.add_argument("--no-backup", action="store_true", help="skip the VACUUM INTO backup")
    p.add_argument("--prune", action="store_true", help="delete KV records that are not in SQLite")
    p.add_argument("--skip-invalid", action="store_true",
                   help="records that break the schema's rules are never written; by default they "
                        "fail the parity (exit 1); with this they are only named")
    p.add_argument("--overwrite-kv-changes", action="store_true",
                   help="overwrite the records changed in KV since the last migration with SQLite's "
                        "(each overwrite gets its own audit event); without it a run that finds "
                        "them writes nothing and exits 1")
    p.add_argument("--json", action="store_true", help="print the final report as JSON on stdout")
    add_reason_arg(p)
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("diff", help="parity diff of the SQLite file and the KV buckets")
    add_backend_args(p, suppress=True)
    p.add_argument("--json", action="store_true", help="print the differences as JSON")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("export-to-sqlite", help="write the KV state to a new SQLite file (rollback)",
                       description="Write a new schema-v1 database from the KV buckets and check "
                                   "parity. Refuses an existing file.")
    add_backend_args(p, suppress=True)
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    add_reason_arg(p)
    p.set_defaults(func=cmd_export_to_sqlite)


def _answer(args: argparse.Namespace, as_json: Callable[[], object], as_text: Callable[[], str],
            identical: bool) -> int:
    """Print a command's result (JSON with --json, else text); exit 0 when both sides are
    identical, 1 when they differ."""
    print(json.dumps(as_json(), indent=2) if args.json else as_text())
    return EXIT_OK if identical else EXIT_FOUND


# -- migrate-to-kv -------------------------------------------------------------------

class MigrationProgress:
    """A migration's events on a progress display (see tui.cli.progress).

    The connect line is held back until the next phase: a failure to open either side
    then leaves only the command's one error line on stderr. The failed event is not
    shown either, for the same reason. Import events without a line carry the buckets'
    counts only.
    """

    def __init__(self, display: Display) -> None:
        self.display = display
        self.held: MigrationEvent | None = None

    def show(self, ev: MigrationEvent) -> None:
        if ev.phase == "connect":
            self.held = ev
            return
        if ev.phase == "failed":
            return
        if self.held is not None:
            held, self.held = self.held, None
            self.display.phase(held.phase, held.message)
        if ev.message:
            self.display.phase(ev.phase, ev.message)
        if ev.progress:
            self.display.counts({p.bucket: (p.done, p.total) for p in ev.progress})


def _summary(report: MigrationReport) -> str:
    lines = []
    if report.backup:
        b = report.backup
        lines.append(f"backup: {b.path} ({b.size} bytes, {'verified' if b.verified else 'NOT verified: ' + b.note})")
    else:
        lines.append("backup: skipped")
    lines.append(f"target: {report.target} (replicas {report.replicas if report.replicas else 'as found'})")
    lines.append(f"  {'bucket':<16} {'records':>10} {'written':>10} {'unchanged':>10}")
    for bucket, n in report.counts.items():
        same = report.unchanged.get(bucket, 0)
        lines.append(f"  {bucket:<16} {n:>10} {n - same:>10} {same:>10}")
    if report.pruned:
        lines.append("records only in KV deleted: "
                     + ", ".join(f"{b} {n}" for b, n in report.pruned.items()))
    lines.append(f"import: {report.written} records written in {report.import_seconds:.2f}s "
                 f"({report.rate:.0f} records/s, {report.retries} retries); total {report.duration:.2f}s")
    if report.invalid and report.skip_invalid:
        lines.append(f"skipped {len(report.invalid)} invalid record(s) of SQLite (--skip-invalid), "
                     "not written:")
        lines += [f"  {printable(r.bucket):<16} {printable(r.key)}  {printable(r.reason)}"
                  for r in report.invalid]
    if report.overwritten:
        lines.append(f"overwrote {len(report.overwritten)} record(s) changed in KV (--overwrite-kv-changes), "
                     "each with an audit event:")
        lines += [f"  {c.line()}" for c in report.overwritten]
    if report.audit:
        a = report.audit
        lines.append(f"audit: {a.sqlite_events} SQLite event(s), {a.copied} copied by this run, "
                     + ("all in KV" if a.identical else f"{a.missing_in_kv} MISSING in KV"))
    lines.append(render_table(report.parity))
    return "\n".join(lines)


def cmd_migrate(args: argparse.Namespace) -> int:
    source = sqlite_spec(args)
    target = nats_spec(args, replicas=getattr(args, "replicas", None))
    guard_changes(target, args)
    reason = reason_arg(args)

    async def run() -> int:
        with progress_display(quiet=args.json) as display:
            progress = MigrationProgress(display)
            async for ev in migrate(source, target, backup=not args.no_backup, prune_extra=args.prune,
                                    skip_invalid=args.skip_invalid, reason=reason,
                                    overwrite_kv_changes=args.overwrite_kv_changes):
                progress.show(ev)
                if ev.phase == "failed" and ev.error_kind == "conflicts":
                    display.stop()
                    _conflicts(args, ev)
                    raise CommandError(ev.message, EXIT_FOUND)
                if ev.phase == "failed":
                    # the one mapping of a store error to its line and exit status (cli/common.py)
                    error = command_error(ev.error if ev.error is not None else StoreError(ev.message))
                    kept = f" (backup kept: {ev.backup.path})" if ev.backup else ""
                    raise CommandError(str(error) + kept, error.code)
                if ev.report is not None:
                    report = ev.report
        return _answer(args, report.to_json, lambda: _summary(report), report.identical)

    return run_async(run)  # SIGTERM stops it as Ctrl-C does (run_async), its clean-ups run


def _conflicts(args: argparse.Namespace, ev: MigrationEvent) -> None:
    """The records changed in KV that the run would have overwritten, on stdout."""
    if args.json:
        print(json.dumps({"written": 0, "backup": ev.backup.to_json() if ev.backup else None,
                          "conflicts": [c.to_json() for c in ev.conflicts]}, indent=2))
        return
    if ev.backup:
        print(f"backup: {ev.backup.path} (kept)")
    print(f"{len(ev.conflicts)} record(s) changed in KV since the last migration; nothing was written:")
    for c in ev.conflicts:
        print(f"  {c.line()}")


# -- diff ----------------------------------------------------------------------------

def cmd_diff(args: argparse.Namespace) -> int:
    source = sqlite_spec(args, read_only=True)
    target = nats_spec(args, read_only=True)

    async def run() -> int:
        a = await with_store(source, lambda sq: sq.export_snapshot())
        rows = await with_store(target, read_buckets)
        report = diff_raw(a, rows)
        return _answer(args, report.to_json, lambda: render_table(report), report.identical)

    return run_async(run)


# -- export-to-sqlite ----------------------------------------------------------------

def cmd_export_to_sqlite(args: argparse.Namespace) -> int:
    if not getattr(args, "db", None):
        raise CommandError("--db NEW_PATH is required")
    if Path(args.db).exists():
        raise CommandError(f"{args.db} exists already: name a new file", EXIT_USAGE)
    target = nats_spec(args, read_only=True)
    reason = reason_arg(args)

    async def run() -> int:
        with progress_display(quiet=args.json) as display:
            async def read(kv: Store) -> tuple[Snapshot, list[AuditEvent]]:
                display.phase("read", f"reading {target.label}")
                return await watch(kv.export_snapshot(), kv.read_progress, display), await kv.audit_events()

            snap, events = await with_store(target, read)
            display.phase("read", f"read {snap.record_count} records and {len(events)} audit event(s)")
            if snap.invalid:
                display.stop()
                report_invalid(snap.invalid)
                raise CommandError(f"refusing to write {args.db}: the KV state has "
                                   f"{len(snap.invalid)} invalid record(s)", EXIT_FOUND)
            display.phase("write", f"writing {args.db}")
            info = await asyncio.to_thread(write_database, snap, args.db)
            display.phase("parity", f"reading {info.path} back and comparing")
            back = await with_store(replace(sqlite_spec(args), read_only=True),
                                    lambda written: written.export_snapshot())
            report = diff(back, snap)
            parity = "identical" if report.identical else f"{len(report.differences)} difference(s)"

            async def record(written: Store) -> None:  # the KV trail, and this export, in the new file
                note = written.audit_note(Action.EXPORT_TO_SQLITE, f"{target.label} -> {info.path}", reason)
                done = note.event(AuditPhase.DONE, after={"counts": info.counts, "parity": parity})
                await written.write_audit([*events, done])

            await with_store(sqlite_spec(args), record)
            display.phase("done", f"wrote {info.path} ({info.size} bytes), parity {parity}")

        def as_json() -> dict:
            return {"path": info.path, "size": info.size, "counts": info.counts,
                    "parity": report.to_json()}

        def as_text() -> str:
            lines = [f"wrote {info.path} ({info.size} bytes)"]
            lines += [f"  {table:<10} {n:>10}" for table, n in info.counts.items()]
            return "\n".join([*lines, render_table(report)])

        return _answer(args, as_json, as_text, report.identical)

    return run_async(run)

