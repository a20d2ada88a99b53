"""`membership-admin audit`: the audit trail of SPEC section 10, newest last, on either
backend; `--follow` keeps printing new events (written by anyone) until interrupted.

A table on a terminal, tab-separated values in a pipe, JSON lines with --json. With --follow
the table is printed as the events come, each batch with the same fixed widths (a fitted
table would wait for every row, and a follower has no last row).

`audit init` (JetStream KV, with the migrator's rights) creates the audit stream alone for a
deployment the daemon made (buckets, no stream: every change is refused until it exists);
on a deployment that has one it checks it against SPEC 10 and names what is weaker (exit 1).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from store import Store, open_store, system_clock
from store.audit import Action, AuditEvent, AuditPhase, AuditQuery, newest_last, parse_since
from store.kv import KvStore
from store.models import InvalidRecord
from store.text import printable

from .common import EXIT_FOUND, EXIT_OK, add_backend_args, run_async, say
from .connection import backend_spec, guard_changes, nats_spec
from .data import iso, report_invalid
from .table_output import AUTO, TABLE, TSV, Column, print_rows, resolve, write_csv

#: how often --follow asks for new events: one written elsewhere shows within a second
FOLLOW_POLL_S = 0.25


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="who changed what, when and why (the audit trail)",
                       description="The audit events of the backend, oldest first, newest last.")
    add_backend_args(p, suppress=True)
    p.add_argument("--since", metavar="AGE", help="only events this recent, e.g. --since 24h (also 90m, 7d, "
                                                  "or Unix seconds)")
    p.add_argument("--action", choices=[a.value for a in Action], help="only this action, e.g. --action revoke_user")
    p.add_argument("--target", metavar="KEY", help="only events about this user key, e.g. --target bob")
    p.add_argument("--format", choices=(AUTO, TABLE, TSV, "csv", "json"), default=AUTO,
                   help="auto (the default: table on a terminal, tsv in a pipe), table (aligned for a "
                        "person, long text cut to the width), tsv (a header line, then a line per "
                        "event), csv (the same for a spreadsheet: a cell starting =, +, -, @ gets a "
                        "leading '), json (one event object per line), e.g. --format tsv")
    p.add_argument("--json", action="store_true", help="the same as --format json")
    p.add_argument("--follow", action="store_true", help="keep printing new events until interrupted (Ctrl-C)")
    p.set_defaults(func=cmd_audit)
    sub_audit = p.add_subparsers(dest="audit_command", metavar="[init]", parser_class=type(p))
    init = sub_audit.add_parser(
        "init", help="create the audit stream alone (a deployment the daemon made), or check the one found",
        description="Creates the audit stream of SPEC section 10 (file storage, no limits, deny_delete and "
                    "deny_purge, the users bucket's replicas) on a deployment whose buckets exist, and "
                    "nothing else; idempotent. An existing stream is checked: what is weaker is named "
                    "(exit 1). Needs the migrator's rights (creating a stream).")
    add_backend_args(init, db=False, suppress=True)
    init.set_defaults(func=cmd_audit_init)


#: the columns of the listing; the fixed widths are the follower's (a longer key folds)
COLUMNS = (Column("at", width=len("2026-01-01T00:00:00Z")), Column("action", width=max(map(len, Action))),
           Column("phase", width=max(map(len, AuditPhase)), styles={AuditPhase.FAILED: "red"}),
           Column("target", width=20), Column("by", free=True), Column("reason", free=True),
           Column("result", free=True))


def row(e: AuditEvent) -> list[str]:
    """One event for a person: when, action, phase, target, who, why, result."""
    return [iso(e.at), str(e.action), str(e.phase), e.target, f"{e.actor.user}@{e.actor.host} via {e.actor.via}",
            e.reason or "", e.result]


def cmd_audit(args: argparse.Namespace) -> int:
    query = AuditQuery(since=parse_since(args.since, system_clock()) if args.since else None,
                       action=Action(args.action) if args.action else None,
                       target=args.target.lower() if args.target else None)
    spec = backend_spec(args, read_only=True)
    out = sys.stdout
    fmt = "json" if args.json else resolve(args.format, out)
    first = True

    def show(events: list[AuditEvent]) -> None:
        nonlocal first
        shown = newest_last(e for e in events if query.matches(e))
        if fmt == "json":
            out.writelines(e.to_json() + "\n" for e in shown)
        elif fmt == "csv":
            write_csv(out, [c.name for c in COLUMNS] if first else None, map(row, shown))
        elif shown or first:  # the header at once, even before the first event
            print_rows(fmt, COLUMNS, map(row, shown), header=first, stream=args.follow, out=out)
        first = False
        out.flush()

    async def run() -> int:
        store: Store = await open_store(spec)
        try:
            invalid: list[InvalidRecord] = []
            events, cursor = await store.audit_after(0, invalid=invalid)
            show(events)
            report_invalid(invalid)
            while args.follow:
                await asyncio.sleep(FOLLOW_POLL_S)
                events, cursor = await store.audit_after(cursor)
                show(events)
            return EXIT_FOUND if invalid else EXIT_OK
        finally:
            await store.close()

    try:
        return run_async(run)
    except KeyboardInterrupt:
        if args.follow:
            return EXIT_OK  # --follow ends when interrupted: that is its way to stop
        raise


def cmd_audit_init(args: argparse.Namespace) -> int:
    spec = nats_spec(args, read_only=bool(getattr(args, "read_only", False)))
    guard_changes(spec, args)  # a read-only context refuses it unless --write

    async def run() -> tuple[bool, list[str], str]:
        store = await KvStore.open(spec)
        try:
            created, problems = await store.init_audit()
            return created, problems, store.audit.name
        finally:
            await store.close()

    created, problems, name = run_async(run)
    if created:
        print(f"created audit stream {name} ({spec.shown_url}): file storage, no limits, deny_delete, deny_purge")
        return EXIT_OK
    if problems:
        for problem in problems:
            say(f"weak: {printable(problem)}")
        print(f"audit stream {name} exists but is weaker than the audit trail needs ({len(problems)} problem(s) "
              "named above): changes are recorded in it, and may not last; recreate it as SPEC 10 says")
        return EXIT_FOUND
    print(f"audit stream {name} exists and keeps what the audit trail needs; nothing to do")
    return EXIT_OK
