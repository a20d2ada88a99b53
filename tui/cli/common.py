"""What every command shares: exit codes, backend options, and the error boundary."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from store import BadRecord, Refused, Store, StoreError, StoreSpec, Unavailable, open_store
from store.audit import MAX_REASON, check_reason

EXIT_OK = 0
EXIT_FOUND = 1  # the check found something: differences, degraded, deny
EXIT_USAGE = 2  # bad usage or input
EXIT_UNAVAILABLE = 3  # backend unreachable, no quorum, timeout
EXIT_REFUSED = 4  # the backend or the mode does not permit it: NATS permissions, read-only
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_TERMINATED = 143  # SIGTERM (128 + SIGTERM)

#: what --help says of the exit statuses, on every command
EXIT_HELP = ("exit status: 0 done (identical, healthy, allow); 1 found something (differences, "
             "degraded, deny, invalid records); 2 bad usage or input; 3 backend unavailable "
             "(unreachable, no quorum, timeout, missing bucket); 4 refused (NATS permissions, "
             "a read-only file, --read-only or a read-only context)")

T = TypeVar("T")
N = TypeVar("N", int, float)
_log = logging.getLogger("membership-admin")


class Terminated(BaseException):
    """SIGTERM: the command stops as on Ctrl-C, its clean-ups run, one line says so (exit
    143). A BaseException, like KeyboardInterrupt, so no `except Exception` swallows it."""


def _raise_terminated(_signum: int, _frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def sigterm_handled() -> Iterator[None]:
    """While a command runs, SIGTERM raises Terminated wherever it is (only the main thread
    can have a handler; run_async turns it into a cancellation while its loop runs); the
    handler before is put back after (main() may run inside another program: the tests)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def ignore_after_the_end() -> None:
    """Once the program's result is decided, an interrupt changes nothing: ignored. Else a
    Ctrl-C in the last moments (the interpreter's shutdown restores the default handler)
    killed the process with -2 after it had reported success; an ignored signal stays
    ignored through the shutdown."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def sigterm_as_before() -> None:
    """The TUI keeps SIGTERM's default (a Terminated raised inside Textual's loop would end
    it at any point); a handler of its own (the demo's) is left in place."""
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) is _raise_terminated):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


class CommandError(Exception):
    """A one-line message for stderr and the exit status to leave with."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2, and every command's
    help ends with the exit statuses."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("epilog", EXIT_HELP)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CommandError(f"{message} (see {self.prog} --help)", EXIT_USAGE)


def add_backend_args(p: argparse.ArgumentParser, *, db: bool = True, nats: bool = True,
                     suppress: bool = False) -> None:
    """--db and the NATS connection options. suppress: for subcommands, so their
    defaults do not overwrite the same options given before the subcommand."""
    d = argparse.SUPPRESS if suppress else None
    if db:
        p.add_argument("--db", metavar="PATH", default=d,
                       help="a SQLite database file, e.g. --db /var/lib/membershipd/state.sqlite")
    if nats:
        g = p.add_argument_group(
            "JetStream KV", "Settings come from these flags, then NATS_* variables (NATS_URL, NATS_USER, "
            "NATS_PASSWORD, NATS_TOKEN, NATS_CREDS, NATS_NKEY, NATS_CA, NATS_CERT, NATS_KEY), then a "
            "natscli context. Keep secrets in the environment, a context or files: a password given "
            "as a flag is visible to every local user.")
        g.add_argument("--nats-url", metavar="URL", default=d,
                       help="NATS server URL(s), comma-separated, e.g. nats://nats1:4222,nats://nats2:4222")
        g.add_argument("--context", metavar="NAME", default=d,
                       help="a natscli context (default: NATS_CONTEXT, else the selected one), e.g. --context prod")
        g.add_argument("--creds", metavar="FILE", default=d, help="a NATS credentials file, e.g. --creds ~/admin.creds")
        g.add_argument("--nkey", metavar="FILE", default=d, help="an nkey seed file, e.g. --nkey ~/admin.nk")
        g.add_argument("--ca", metavar="FILE", default=d, help="CA certificate(s) for TLS, e.g. --ca ca.pem")
        g.add_argument("--tls-cert", metavar="FILE", default=d,
                       help="a client certificate for mutual TLS (with --tls-key), e.g. --tls-cert me.pem")
        g.add_argument("--tls-key", metavar="FILE", default=d,
                       help="the client certificate's key, e.g. --tls-key me.key")
        g.add_argument("--user", default=d, help="a NATS user name, e.g. --user viewer")
        g.add_argument("--password", default=d, help="its password (prefer NATS_PASSWORD or a context)")
        g.add_argument("--token", default=d, help="a NATS token (prefer NATS_TOKEN or a context)")
        g.add_argument("--bucket-prefix", metavar="PREFIX", default=argparse.SUPPRESS if suppress else "",
                       help="a prefix of the five bucket names, e.g. --bucket-prefix staging_")
        g.add_argument("--op-timeout", metavar="SECONDS", type=float,
                       default=argparse.SUPPRESS if suppress else 2.0,
                       help="bound on every KV operation (default 2), e.g. --op-timeout 5")
        g.add_argument("--write", action="store_true", default=argparse.SUPPRESS if suppress else False,
                       help="allow changes through a context that config.toml makes read-only")


def add_reason_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reason", metavar="TEXT", default=None,
                   help=f"why, kept in the audit trail (at most {MAX_REASON} characters), "
                        "e.g. --reason 'key seen on a lost laptop'")


def reason_arg(args: argparse.Namespace) -> str | None:
    """--reason, checked before any backend is opened (too long: exit 2)."""
    try:
        return check_reason(getattr(args, "reason", None))
    except StoreError as e:
        raise CommandError(str(e), EXIT_USAGE) from None


def number_arg(what: str, convert: Callable[[str], N], lo: N, hi: N) -> Callable[[str], N]:
    """An argparse type: text that convert() reads as a number from lo to hi."""
    def parse(text: str) -> N:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: expected {lo:g} to {hi:g}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"invalid {what} {value:g}: expected {lo:g} to {hi:g}")
        return value
    return parse


replicas_arg = number_arg("replicas", int, 1, 5)


async def with_store(spec: StoreSpec, action: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store of spec, run action(store), close the store (also when action fails)."""
    store = await open_store(spec)
    try:
        return await action(store)
    finally:
        await store.close()


def run_async(fn: Callable[[], Awaitable[T]]) -> T:
    """Run a command's coroutine, turning store errors into CommandError (exit 2 or 3).
    SIGTERM cancels it as Ctrl-C does (its clean-ups run: connections closed, consumers
    deleted), then raises Terminated."""
    box: list[T] = []
    terminated: list[int] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        # an error in a library's background task (nats-py's reader, after a Ctrl-C) is not
        # the command's result: logged for debugging, never a traceback on the terminal
        loop.set_exception_handler(_background_error)
        task = asyncio.current_task()
        assert task is not None

        def on_sigterm() -> None:
            terminated.append(signal.SIGTERM)
            task.cancel()

        if threading.current_thread() is threading.main_thread():
            loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        # the result is kept out of the main task: on exit, asyncio.run (3.11) formats the
        # repr of its SIGINT handler, which holds the task and so its result; for an
        # export that is a million-record repr (seconds)
        box.append(await fn())

    main_thread = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGTERM) if main_thread else None
    try:
        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            if not terminated:
                raise
        if terminated:
            raise Terminated
        return box[0]
    except StoreError as e:
        raise command_error(e) from None
    finally:
        if main_thread and before is not None:
            signal.signal(signal.SIGTERM, before)  # the loop's handler went with the loop


def command_error(e: StoreError) -> CommandError:
    """A store error as the command's one line and exit status: the one mapping (run_async,
    and a migration's failed event, which carries its error rather than raising it)."""
    if isinstance(e, Unavailable):
        return CommandError(f"unavailable: {e}", EXIT_UNAVAILABLE)
    if isinstance(e, BadRecord):  # a stored record that breaks the contract: found, not bad usage
        return CommandError(str(e), EXIT_FOUND)
    if isinstance(e, Refused):  # permissions, read-only: the backend or the mode says no
        return CommandError(f"refused: {e}", EXIT_REFUSED)
    return CommandError(str(e), EXIT_USAGE)  # InvalidInput and the rest: bad usage or input


def exit_code(e: StoreError) -> int:
    """The exit status of a command that ends with this store error (SPEC section 7)."""
    return command_error(e).code


def _background_error(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    _log.debug("background error: %s", context.get("message"), exc_info=context.get("exception"))


def say(text: str) -> None:
    print(text, file=sys.stderr)
