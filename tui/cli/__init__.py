"""The `membership-admin` command line (SPEC section 7).

Each command lives in a module of this package; this one builds the parser and
is the error boundary: a CommandError or a store error becomes one line on stderr
and an exit status, never a traceback.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import sys

from store import StoreError
from store.text import printable

from . import app_cmd, audit_cmd, completion_cmd, data, health_cmd, migrate_cmd, plan_cmd
from .common import (
    EXIT_HELP,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CommandError,
    Parser,
    Terminated,
    add_backend_args,
    ignore_after_the_end,
    replicas_arg,
    sigterm_handled,
)


def version() -> str:
    try:
        return importlib.metadata.version("membership-admin")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        return "unknown"


def build_parser() -> Parser:
    p = Parser(prog="membership-admin",
               description="Admin tool for the membershipd control plane (SQLite or JetStream KV). "
                           "Without a command it opens the TUI on the backend named by --db, "
                           "--nats-url, NATS_URL or a natscli context, e.g. `membership-admin "
                           "--context prod`.",
               epilog=EXIT_HELP)
    p.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    add_backend_args(p)
    p.add_argument("--read-only", action="store_true", help="refuse every change, e.g. for a look at production")
    p.add_argument("--replicas", type=replicas_arg, default=None,
                   help="replicas of the buckets the migration screen creates (default 3), e.g. --replicas 5")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in (app_cmd, data, plan_cmd, migrate_cmd, health_cmd, audit_cmd, completion_cmd):
        module.register(sub)
    p.set_defaults(func=app_cmd.open_tui)
    return p


def setup_logging() -> None:
    """Library logs (nats-py logs a reader error with its traceback) never reach the terminal:
    the command's own line says what happened. MEMBERSHIP_ADMIN_LOG=FILE keeps them in a file."""
    root = logging.getLogger()
    if any(getattr(h, "membership_admin", False) for h in root.handlers):
        return  # main() may run more than once in a process (tests)
    path = os.environ.get("MEMBERSHIP_ADMIN_LOG")
    handler: logging.Handler = logging.NullHandler()
    if path:
        try:
            handler = logging.FileHandler(path)
        except OSError:
            pass  # the command must still run
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    handler.membership_admin = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if path else logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """The program (argv None: the process's own arguments), or one command run in-process."""
    try:
        return _main(argv)
    finally:
        if argv is None:
            ignore_after_the_end()


def _main(argv: list[str] | None) -> int:
    setup_logging()
    with sigterm_handled():
        return _run(argv)


def _run(argv: list[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except CommandError as e:
        print(f"membership-admin: {printable(e)}", file=sys.stderr)
        return e.code
    except StoreError as e:  # a command that did not catch its own
        print(f"membership-admin: {printable(e)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("membership-admin: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("membership-admin: terminated (SIGTERM)", file=sys.stderr)
        return EXIT_TERMINATED
    except BrokenPipeError:
        return 0
    except OSError as e:
        print(printable(f"membership-admin: {e.strerror or e}: {getattr(e, 'filename', '') or ''}"
                        .rstrip(": ")), file=sys.stderr)
        return EXIT_UNAVAILABLE if isinstance(e, ConnectionError) else EXIT_USAGE
