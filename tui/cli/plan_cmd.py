"""`plan revoke|reinstate KEY... --out PLAN` and `apply PLAN [--yes] [--max-age 24h]
[--wait-replicated SECONDS]`: a bulk change reviewed before it is made (SPEC section 11).

`plan` reads and writes nothing on the backend (a viewer may make one); `apply` shows the
plan's summary, asks unless --yes, then changes each user as a compare-and-set against its
planned revision (store.plan_apply). Exit 1 when a user drifted or failed (named on
stderr), 2 for a plan of another backend or older than --max-age.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from store import InvalidInput, StoreError
from store.audit import parse_since
from store.base import Store
from store.plan import Plan, PlanAction, make_plan, summary
from store.plan_apply import DEFAULT_MAX_AGE, ApplyReport, Result, apply_plan, check_plan
from store.spec import system_clock
from store.text import printable

from .common import EXIT_FOUND, EXIT_OK, CommandError, add_backend_args, add_reason_arg, reason_arg, run_async, say
from .connection import backend_spec
from .data import _keys_from_file
from .replication import add_wait_arg, report_replication


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="write a reviewed plan of a bulk revoke or reinstate (changes nothing)",
                       description="Reads each user's status and revision and writes a plan file that "
                                   "`apply` makes later, changing only users still as planned. Exit 1 "
                                   "when keys were left out (not on the allowlist, not valid); the "
                                   "plan is written all the same.")
    add_backend_args(p, suppress=True)
    psub = p.add_subparsers(dest="plan_command", metavar="ACTION", required=True, parser_class=type(p))
    for action in PlanAction:
        q = psub.add_parser(str(action), help=f"plan to {action} users")
        q.add_argument("keys", metavar="KEY", nargs="*", help="user keys, e.g. bob carol")
        q.add_argument("--from-file", metavar="PATH",
                       help="also the keys in this file, one per line (- reads standard input), "
                            "e.g. --from-file leavers.txt")
        add_reason_arg(q)
        q.add_argument("--out", metavar="PLAN", required=True,
                       help="the new plan file (never overwritten), e.g. --out leavers.plan.json")
        add_backend_args(q, suppress=True)
        q.set_defaults(func=cmd_plan, plan_action=action)

    p = sub.add_parser("apply", help="apply a plan: each user changed only if still as planned",
                       description="Shows the plan, asks (unless --yes), and changes each user as a "
                                   "compare-and-set against the revision it was planned against. "
                                   "A user changed since is named and left alone (exit 1); a plan of "
                                   "another backend or older than --max-age is refused (exit 2).")
    p.add_argument("plan", metavar="PLAN", help="a file written by `plan`, e.g. leavers.plan.json")
    p.add_argument("--yes", action="store_true", help="do not ask before applying")
    p.add_argument("--max-age", metavar="AGE", default="24h",
                   help="refuse a plan older than this (default 24h), e.g. --max-age 30m")
    add_wait_arg(p)
    add_backend_args(p, suppress=True)
    p.set_defaults(func=cmd_apply)


def cmd_plan(args: argparse.Namespace) -> int:
    action: PlanAction = args.plan_action
    keys = [*args.keys, *_keys_from_file(args.from_file)]
    if not keys:
        raise CommandError("name at least one KEY (or --from-file PATH)")
    reason = reason_arg(args)
    out = args.out
    if os.path.lexists(out):
        raise CommandError(f"{out} exists already: name a new file for the plan")
    spec = backend_spec(args, read_only=True)

    async def make() -> Plan:
        from store import open_store

        store = await open_store(spec)
        try:
            return await make_plan(store, action, keys, reason, system_clock())
        finally:
            await store.close()

    plan = run_async(make)
    try:
        plan.save(out)
    except StoreError as e:
        raise CommandError(str(e)) from None
    print("\n".join(summary(plan)))
    print(f"plan written to {printable(out)}: review it, then `membership-admin apply {printable(out)}` "
          "on the same backend")
    return EXIT_FOUND if plan.rejected else EXIT_OK


def max_age_arg(text: str) -> int:
    """'24h', '30m', '7d' or plain seconds."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        return -parse_since(text, 0)
    except InvalidInput:
        raise CommandError(f"invalid --max-age {text!r}: expected e.g. 24h, 30m, 7d or seconds") from None


def cmd_apply(args: argparse.Namespace) -> int:
    try:
        plan = Plan.load(args.plan)
    except StoreError as e:
        raise CommandError(str(e)) from None
    max_age = max_age_arg(args.max_age) if args.max_age else DEFAULT_MAX_AGE
    if not args.yes and not sys.stdin.isatty():
        raise CommandError("apply asks before it changes anything: run it on a terminal or pass --yes")
    spec = backend_spec(args, changes=True)
    wait = args.wait_replicated

    async def run(store: Store) -> tuple[ApplyReport | None, bool]:
        # refused before the question: a plan of another backend, or too old
        check_plan(plan, await store.backend_identity(), system_clock(), max_age)
        print("\n".join(summary(plan)), flush=True)
        if not plan.to_change:
            print(f"plan {plan.id[:12]}: nothing to {plan.action}")
        if not args.yes:
            answer = await asyncio.to_thread(input, f"apply this plan ({len(plan.to_change):,} to "
                                                    f"{plan.action})? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                return None, True
        report = await apply_plan(store, plan, system_clock(), max_age)
        replicated = True
        if report.of(Result.CHANGED) or wait is not None:
            replicated = await report_replication(
                store, f"{plan.action.done} {len(report.of(Result.CHANGED)):,} user(s)", wait)
        return report, replicated

    from store import open_store

    async def main() -> tuple[ApplyReport | None, bool]:
        store = await open_store(spec)
        try:
            return await run(store)
        finally:
            await store.close()

    report, replicated = run_async(main)
    if report is None:
        print("not applied: nothing changed")
        return EXIT_OK
    return _print_report(report) if replicated else max(_print_report(report), EXIT_FOUND)


def _print_report(report: ApplyReport) -> int:
    plan = report.plan
    for o in report.outcomes:
        name = f" ({printable(o.name)})" if o.name else ""
        if o.result is Result.CHANGED:
            print(f"{plan.action.done} {o.key}{name}")
        elif o.result is Result.ALREADY:
            print(f"{o.detail} {o.key}{name}")
        else:
            say(f"{'drifted' if o.result is Result.DRIFTED else 'failed'}: {o.key}{name}: {printable(o.detail)}")
    counts = {r: len(report.of(r)) for r in Result}
    if report.already_applied:
        print(f"plan {plan.id[:12]}: already applied, nothing changed "
              f"({counts[Result.ALREADY]:,} {plan.action.already})")
    else:
        print(f"plan {plan.id[:12]}: {counts[Result.CHANGED]:,} {plan.action.done}, "
              f"{counts[Result.ALREADY]:,} {plan.action.already}, {counts[Result.DRIFTED]:,} drifted "
              f"(left alone), {counts[Result.FAILED]:,} failed")
    return EXIT_OK if report.clean else EXIT_FOUND
