"""`membership-admin audit`: the audit trail of SPEC section 10, newest last, on either
backend; `--follow` keeps printing new events (written by anyone) until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import sys

from store import Store, open_store, system_clock
from store.audit import Action, AuditEvent, AuditQuery, newest_last, parse_since
from store.models import InvalidRecord
from store.text import printable

from .common import EXIT_FOUND, EXIT_OK, add_backend_args, run_async
from .connection import backend_spec
from .data import iso, report_invalid

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
    p.add_argument("--json", action="store_true", help="one JSON event object per line")
    p.add_argument("--follow", action="store_true", help="keep printing new events until interrupted (Ctrl-C)")
    p.set_defaults(func=cmd_audit)


def line(e: AuditEvent) -> str:
    """One event for a person: when, action, phase, target, who, why, result."""
    who = f"{e.actor.user}@{e.actor.host} via {e.actor.via}"
    text = f"{iso(e.at)}  {e.action:<16} {e.phase:<6}  {e.target}  by {who}"
    if e.reason:
        text += f"  reason: {e.reason}"
    if e.result != "ok":
        text += f"  result: {e.result}"
    return printable(text)


def cmd_audit(args: argparse.Namespace) -> int:
    query = AuditQuery(since=parse_since(args.since, system_clock()) if args.since else None,
                       action=Action(args.action) if args.action else None,
                       target=args.target.lower() if args.target else None)
    spec = backend_spec(args, read_only=True)
    out = sys.stdout

    def show(events: list[AuditEvent]) -> None:
        for e in newest_last(e for e in events if query.matches(e)):
            out.write((e.to_json() if args.json else line(e)) + "\n")
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
