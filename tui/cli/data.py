"""`init-db`, `seed`, `export`, `users ...`, `authorize`: the data commands of SPEC section 7.

Every command that reads or changes state opens its backend through
open_store(backend_spec(args)), so it works on SQLite and on JetStream KV alike.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

from store import NatsSpec, StoreError, TlsRefused, Unavailable, User, codec, ids, open_store
from store.base import UNCONFIRMED, Store
from store.models import REVOKED, USER_ADMIN, USER_USER, Decision, Snapshot, Status, StatusChange
from store.snapshot import export_chunks, paused_gc
from store.text import iso_time, printable

from .common import (
    EXIT_FOUND,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    CommandError,
    Parser,
    add_backend_args,
    add_reason_arg,
    reason_arg,
    run_async,
    say,
    with_store,
)
from .connection import backend_spec
from .progress import progress_display, watch
from .replication import Replication, add_wait_arg, print_spread, spread
from .table_output import AUTO, TABLE, TSV, Column, print_table, print_tsv, resolve, write_csv


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init-db", help="create an empty schema-v1 database (refuses an existing file)")
    p.add_argument("path", metavar="PATH")
    p.set_defaults(func=init_db)

    p = sub.add_parser("seed", help="fill a new database with deterministic synthetic data")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--rooms", type=int, default=20, metavar="N", help="rooms (default 20)")
    p.add_argument("--users", type=int, default=50, metavar="N", help="users (default 50)")
    p.add_argument("--members-per-room", type=int, default=5, metavar="N",
                   help="members of each room, the owner included (default 5)")
    p.add_argument("--epochs", type=int, default=3, metavar="N", help="key epochs of each room (default 3)")
    p.add_argument("--seed", type=int, default=1, metavar="N", help="random seed (default 1)")
    p.set_defaults(func=seed)

    p = sub.add_parser("export", help="print the whole state as JSON")
    add_backend_args(p, suppress=True)
    p.set_defaults(func=export)

    users = sub.add_parser("users", help="the user allowlist: list, add, revoke, reinstate")
    add_backend_args(users, suppress=True)
    usub = users.add_subparsers(dest="users_command", metavar="ACTION", parser_class=Parser,
                                required=True)
    p = usub.add_parser("list", help="every user, sorted by key")
    p.add_argument("--format", choices=FORMATS, default=AUTO,
                   help="auto (the default: table on a terminal, tsv in a pipe), table (aligned for a "
                        "person, long names cut to the width), tsv or csv (a header line, then a line "
                        "per user), json (the export's user objects), e.g. --format csv")
    p.add_argument("--json", action="store_true", help="the same as --format json")
    p.set_defaults(func=users_list)
    p = usub.add_parser("add", help="add an active user")
    p.add_argument("key", metavar="KEY")
    p.add_argument("--name", default="")
    p.add_argument("--role", choices=(USER_USER, USER_ADMIN), default=USER_USER)
    add_reason_arg(p)
    p.set_defaults(func=users_add)
    for action, func, text in (("revoke", users_revoke, "revoke users (memberships stay)"),
                               ("reinstate", users_reinstate, "make revoked users active again")):
        p = usub.add_parser(action, help=text)
        p.add_argument("keys", metavar="KEY", nargs="*", help="one or more user keys, e.g. bob carol")
        p.add_argument("--from-file", metavar="PATH", help="also the keys in this file, one per line "
                                                           "(- reads standard input), e.g. --from-file leavers.txt")
        add_reason_arg(p)
        add_wait_arg(p)
        p.set_defaults(func=func)
    for p in usub.choices.values():
        add_backend_args(p, suppress=True)

    p = sub.add_parser("authorize", help="what is_authorized (or is_admin) answers now")
    p.add_argument("key", metavar="KEY")
    p.add_argument("--admin", action="store_true", help="ask is_admin instead")
    add_backend_args(p, suppress=True)
    p.set_defaults(func=authorize)


FORMATS = (AUTO, TABLE, TSV, "csv", "json")
#: the columns of users list: the name is the free text a narrow terminal cuts
USER_COLUMNS = (Column("key"), Column("name", free=True), Column("role"),
                Column("status", styles={REVOKED: "red"}), Column("added"), Column("revoked"))
USER_FIELDS = tuple(c.name for c in USER_COLUMNS)


def iso(ts: int | None) -> str:
    return iso_time(ts, seconds=True) if ts is not None else "-"


def report_invalid(records) -> None:
    """One stderr line per invalid record: named, never skipped silently, safe to print."""
    for bad in records:
        say(f"invalid record: bucket {printable(bad.bucket)}, key {printable(bad.key)}: {printable(bad.reason)}")


def _key(text: str) -> str:
    """Validate before opening a backend: a bad key is bad input (2) even with NATS down."""
    try:
        return ids.key(text)
    except StoreError as e:
        raise CommandError(str(e)) from None


def _with_store(args: argparse.Namespace, action, *, read_only: bool = False):
    """Open the backend named by args, run action(store), close it; store errors -> exit codes."""
    read_only = read_only or bool(getattr(args, "read_only", False))
    spec = backend_spec(args, read_only=read_only, changes=not read_only)
    return run_async(lambda: with_store(spec, action))


# -- commands --------------------------------------------------------------------

def init_db(args: argparse.Namespace) -> int:
    from store.sqlite_file import create_database

    try:
        create_database(args.path)
    except StoreError as e:
        raise CommandError(str(e)) from None
    print(f"created {args.path} (schema version 1)")
    return EXIT_OK


def seed(args: argparse.Namespace) -> int:
    from store.dev.seed import seed_database

    try:
        counts = seed_database(args.path, rooms=args.rooms, users=args.users,
                               members_per_room=args.members_per_room, epochs=args.epochs, seed=args.seed)
    except StoreError as e:
        raise CommandError(str(e)) from None
    print(f"seeded {args.path}: {counts}")
    return EXIT_OK


def export(args: argparse.Namespace) -> int:
    # progress on a terminal only: piped, stderr keeps to the invalid records and errors
    with progress_display(lines=False) as display:
        async def read(store: Store) -> Snapshot:
            display.phase("read", f"reading {store.label}")
            return await watch(store.export_snapshot(), store.read_progress, display)

        # a short-lived process building millions of objects: the cyclic GC would only rescan them
        with paused_gc():
            snap = _with_store(args, read, read_only=True)
            out = sys.stdout
            if out.isatty():  # the document goes to the same screen: the display ends first
                display.stop()
            display.phase("write", f"writing {snap.record_count} records")
            for chunk in export_chunks(snap):  # streamed: no second copy of a large document
                out.write(chunk)
            out.write("\n")
            out.flush()
            display.phase("done", f"exported {snap.record_count} records"
                          + (f", {len(snap.invalid)} invalid (named below)" if snap.invalid else ""))
    report_invalid(snap.invalid)
    return EXIT_FOUND if snap.invalid else EXIT_OK


def _user_line(u: User) -> str:
    return (f"{u.key}  {u.role:<5}  {u.status:<7}  added {iso(u.added_at)}  revoked {iso(u.revoked_at)}  "
            f"{printable(u.name)}")


def users_list(args: argparse.Namespace) -> int:
    invalid: list = []
    users = _with_store(args, lambda store: store.list_users(invalid=invalid), read_only=True)
    fmt = "json" if args.json else resolve(args.format)
    rows = ([u.key, u.name, u.role, u.status, iso(u.added_at), iso(u.revoked_at)] for u in users)
    if fmt == "json":
        print(codec.dumps([codec.user_obj(u) for u in users]))
    elif fmt == TABLE:  # for a person: times to the minute, as the TUI shows them (80 columns fit)
        print_table(USER_COLUMNS, ([u.key, u.name, u.role, u.status, iso_time(u.added_at),
                                    iso_time(u.revoked_at) or "-"] for u in users))
    elif fmt == "csv":  # quoted as csv quotes it, a formula's start neutralized (a spreadsheet opens it)
        write_csv(sys.stdout, USER_FIELDS, rows)
    else:
        print_tsv(USER_COLUMNS, rows)
    report_invalid(invalid)
    return EXIT_FOUND if invalid else EXIT_OK


def users_add(args: argparse.Namespace) -> int:
    key = _key(args.key)
    try:
        name = ids.name(args.name)
    except StoreError as e:
        raise CommandError(str(e)) from None
    reason = reason_arg(args)

    async def add(store: Store) -> tuple[User, list[str]]:
        user = await store.add_user(key, name, args.role, reason=reason)
        return user, await _trail_problems(store)

    user, weak = _with_store(args, add)
    print(f"added {_user_line(user)}")
    _warn_weak_trail(weak)
    return EXIT_OK


async def _trail_problems(store: Store) -> list[str]:
    """What makes the trail of a change just made weaker than SPEC 10 (the change is made
    whatever this says: a failure to ask is no problem named)."""
    try:
        return await store.audit_problems()
    except StoreError:
        return []


def _warn_weak_trail(problems: list[str]) -> None:
    """A change recorded in a weak trail says so (SPEC 10): the events may not last."""
    if problems:
        say(f"warning: the audit trail is weak: {printable('; '.join(problems))} "
            "(membership-admin audit init names it; recreate the stream as SPEC 10 says)")


def users_revoke(args: argparse.Namespace) -> int:
    return _set_revoked(args, True)


def users_reinstate(args: argparse.Namespace) -> int:
    return _set_revoked(args, False)


def _set_revoked(args: argparse.Namespace, revoke: bool) -> int:
    """Revoke (or reinstate) each KEY; a line per user, its verb from what the
    compare-and-set did ("already ..." when the user had that status, also when another
    admin's change came first). With several keys, a user that cannot be changed is named
    on stderr and the others go on (exit 1); one key fails as any command does."""
    keys = [_key(k) for k in [*args.keys, *_keys_from_file(args.from_file)]]
    if not keys:
        raise CommandError("name at least one KEY (or --from-file PATH)")
    reason = reason_arg(args)
    status = Status.REVOKED if revoke else Status.ACTIVE

    wait = getattr(args, "wait_replicated", None)

    async def change(store: Store) -> tuple[list[StatusChange | tuple[str, StoreError]], list[str],
                                            Replication | StoreError | None]:
        results: list[StatusChange | tuple[str, StoreError]] = []
        for key in dict.fromkeys(keys):
            try:
                results.append(await store.set_user_status(key, status, reason=reason))
            except StoreError as e:
                if len(keys) == 1:
                    raise
                results.append((key, e))
        made = any(isinstance(r, StatusChange) and r.changed for r in results)
        return results, (await _trail_problems(store) if made else []), await spread(store, wait)

    results, weak, replicated = _with_store(args, change)
    failed = 0
    for result in results:
        if not isinstance(result, StatusChange):
            failed += 1
            key, error = result
            say(f"not {'revoked' if revoke else 'reinstated'}: {printable(key)}: {printable(str(error))}")
            continue
        if result.changed:
            verb = "revoked" if revoke else "reinstated"
        else:
            verb = "already revoked" if revoke else "already active"
        print(f"{verb} {_user_line(result.user)}")
    _warn_weak_trail(weak)
    done = "revoked" if revoke else "reinstated"
    if len(results) == 1 and isinstance(results[0], StatusChange):
        what = f"{verb} {results[0].user.key}"  # "revoked bob", "already revoked bob"
    else:
        what = f"{done} {len(results) - failed:,} user(s)"
    spread_ok = print_spread(what, replicated, wait)
    return EXIT_FOUND if failed or not spread_ok else EXIT_OK


def _keys_from_file(path: str | None) -> list[str]:
    """The keys of a file, one per line (blank lines and # comments skipped)."""
    if path is None:
        return []
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CommandError(f"cannot read keys from {path}: {getattr(e, 'strerror', None) or e}") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


#: how long closing the connection after a decision may take (the decision is made)
CLOSE_WITHIN = 0.25


def authorize(args: argparse.Namespace) -> int:
    """allow or deny with the reason, as the store's fail-closed decision gives them, within
    --op-timeout in all (SPEC 7: plus half a second at most), connecting included: a backend
    that has not answered by then is a deny, as any backend failure is."""
    key = _key(args.key)
    spec = backend_spec(args, read_only=True)
    bound = spec.op_timeout if isinstance(spec, NatsSpec) else float(getattr(args, "op_timeout", 2.0))
    insecure: list[TlsRefused] = []

    async def decide() -> Decision:
        store: Store | None = None
        try:
            async with asyncio.timeout(bound):
                store = await open_store(spec)
                return await store.authorization(key, admin=args.admin)
        except TimeoutError:  # fail closed: no answer in time is a deny
            return Decision(False, f"{UNCONFIRMED} (no answer within {bound:g}s)")
        except Unavailable as e:  # fail closed: a backend failure is a deny, not an error
            if isinstance(e, TlsRefused):
                insecure.append(e)
            return Decision(False, f"{UNCONFIRMED} ({e})")
        finally:
            if store is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(store.close(), CLOSE_WITHIN)

    decision = run_async(decide)
    print(f"{'allow' if decision.allowed else 'deny'}: {printable(decision.reason)}")
    if insecure:  # still a deny, and exit 3 naming TLS: the setup is broken or attacked
        raise CommandError(f"unavailable: {insecure[0]}", EXIT_UNAVAILABLE)
    return EXIT_OK if decision.allowed else EXIT_FOUND
