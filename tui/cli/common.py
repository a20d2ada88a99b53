"""What every command shares: exit codes, backend options, and the error boundary."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from store import BadRecord, InvalidInput, NatsSpec, SqliteSpec, Store, StoreError, StoreSpec, Unavailable, open_store

EXIT_OK = 0
EXIT_FOUND = 1  # the check found something: differences, degraded, deny
EXIT_USAGE = 2  # bad usage or input
EXIT_UNAVAILABLE = 3  # backend unreachable, no quorum, timeout

T = TypeVar("T")
_log = logging.getLogger("membership-admin")


class CommandError(Exception):
    """A one-line message for stderr and the exit status to leave with."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CommandError(f"{message} (see {self.prog} --help)", EXIT_USAGE)


def add_backend_args(p: argparse.ArgumentParser, *, db: bool = True, nats: bool = True,
                     suppress: bool = False) -> None:
    """--db and the NATS connection options. suppress: for subcommands, so their
    defaults do not overwrite the same options given before the subcommand."""
    d = argparse.SUPPRESS if suppress else None
    if db:
        p.add_argument("--db", metavar="PATH", default=d, help="SQLite database file")
    if nats:
        g = p.add_argument_group("JetStream KV")
        g.add_argument("--nats-url", metavar="URL", default=d,
                       help="NATS server URL (several separated by commas)")
        g.add_argument("--ca", metavar="FILE", default=d, help="CA certificate for TLS")
        g.add_argument("--creds", metavar="FILE", default=d, help="NATS credentials file")
        g.add_argument("--user", default=d)
        g.add_argument("--password", default=d)
        g.add_argument("--token", default=d)
        g.add_argument("--bucket-prefix", metavar="PREFIX", default=argparse.SUPPRESS if suppress else "")
        g.add_argument("--op-timeout", metavar="SECONDS", type=float,
                       default=argparse.SUPPRESS if suppress else 2.0,
                       help="bound on every KV operation (default 2)")


def replicas_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid replicas {text!r}: expected 1 to 5") from None
    if not 1 <= value <= 5:
        raise argparse.ArgumentTypeError(f"invalid replicas {value}: expected 1 to 5")
    return value


def nats_spec(args: argparse.Namespace, *, replicas: int | None = None,
              read_only: bool = False) -> NatsSpec:
    if not getattr(args, "nats_url", None):
        raise CommandError("--nats-url is required")
    return NatsSpec(
        url=args.nats_url, ca=getattr(args, "ca", None), creds=getattr(args, "creds", None),
        user=getattr(args, "user", None), password=getattr(args, "password", None),
        token=getattr(args, "token", None), bucket_prefix=getattr(args, "bucket_prefix", "") or "",
        op_timeout=getattr(args, "op_timeout", 2.0), replicas=replicas, read_only=read_only,
    )


def sqlite_spec(args: argparse.Namespace, *, read_only: bool = False) -> SqliteSpec:
    if not getattr(args, "db", None):
        raise CommandError("--db is required")
    return SqliteSpec(path=args.db, read_only=read_only)


def backend_spec(args: argparse.Namespace, *, read_only: bool = False) -> StoreSpec:
    """Exactly one of --db and --nats-url."""
    has_db, has_nats = bool(getattr(args, "db", None)), bool(getattr(args, "nats_url", None))
    if has_db == has_nats:
        raise CommandError("name one backend: --db PATH or --nats-url URL")
    if has_db:
        return sqlite_spec(args, read_only=read_only)
    return nats_spec(args, replicas=getattr(args, "replicas", None), read_only=read_only)


async def with_store(spec: StoreSpec, action: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store of spec, run action(store), close the store (also when action fails)."""
    store = await open_store(spec)
    try:
        return await action(store)
    finally:
        await store.close()


def run_async(fn: Callable[[], Awaitable[T]]) -> T:
    """Run a command's coroutine, turning store errors into CommandError (exit 2 or 3)."""
    box: list[T] = []

    async def main() -> None:
        # an error in a library's background task (nats-py's reader, after a Ctrl-C) is not
        # the command's result: logged for debugging, never a traceback on the terminal
        asyncio.get_running_loop().set_exception_handler(_background_error)
        # the result is kept out of the main task: on exit, asyncio.run (3.11) formats the
        # repr of its SIGINT handler, which holds the task and so its result; for an
        # export that is a million-record repr (seconds)
        box.append(await fn())

    try:
        asyncio.run(main())
        return box[0]
    except Unavailable as e:
        raise CommandError(f"unavailable: {e}", EXIT_UNAVAILABLE) from None
    except InvalidInput as e:
        raise CommandError(str(e), EXIT_USAGE) from None
    except BadRecord as e:  # a stored record that breaks the contract: found, not bad usage
        raise CommandError(str(e), EXIT_FOUND) from None
    except StoreError as e:
        raise CommandError(str(e), EXIT_USAGE) from None


def _background_error(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    _log.debug("background error: %s", context.get("message"), exc_info=context.get("exception"))


def say(text: str) -> None:
    print(text, file=sys.stderr)
