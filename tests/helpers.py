"""What the tests share: fixed time, seeded demo stores, waiting on a running app (with
tui/scripted.py, re-exported here), the daemon's kind of KV buckets, and a real terminal under tmux.

Fixtures stay in the conftest.py files; plain functions and classes live here, imported as
`from tests.helpers import ...` (tests/ is a package; pytest runs from the repository root).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import io
import os
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from rich.console import Console

from store import NatsSpec, SqliteSpec, open_store
from store.dev.demo import DEMO_NOW, FixedClock, create_demo_database, seed_demo
from tui.scripted import SIZE, Step, make_app, modal, select, settle, shows, shows_table, steps, until
from tui.widgets.record_table import RecordTable

__all__ = [
    "EXE", "FIXED_NOW", "ROOT", "SIZE", "FixedClock", "Step", "Tmux", "cli", "daemon_buckets",
    "demo_file", "digest", "frozen_clock", "loaded", "make_app", "modal", "run_sync", "seed_kv",
    "seed_sqlite", "select", "settle", "shows", "shows_table", "steps", "text_of", "until",
]

# -- time and size ----------------------------------------------------------------------------

#: the time of every test and picture: 2026-01-01T00:00:00Z. FixedClock (re-exported from
#: store.dev.demo) starts there and moves only by hand, so the demo's timestamps differ like real ones
FIXED_NOW = DEMO_NOW


def frozen_clock() -> int:
    """FIXED_NOW, always: a clock the demo seeding cannot move (its timestamps are all the same)."""
    return FIXED_NOW


def run_sync(coro: Coroutine[Any, Any, object]) -> None:
    """asyncio.run in a thread of its own: safe whether or not an event loop runs here (sync
    fixtures may be set up from inside an async fixture's loop; snapshot tests are plain defs)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


# -- seeded demo stores ----------------------------------------------------------------

async def seed_sqlite(path: str | Path, clock: Callable[[], int]) -> SqliteSpec:
    """A new SQLite file at path with the demo state (the member without its key included)."""
    await create_demo_database(str(path), clock)
    return SqliteSpec(str(path))


def demo_file(path: str | Path, clock: Callable[[], int] = frozen_clock) -> SqliteSpec:
    """seed_sqlite from sync code; by default every timestamp is FIXED_NOW."""
    run_sync(seed_sqlite(path, clock))
    return SqliteSpec(str(path))


async def create_buckets(spec: NatsSpec) -> None:
    """Empty buckets for spec, as the migration creates them (opening a KV store never
    creates anything): the KV side of a new empty database."""
    from store.kv import KvStore

    store = await KvStore.create(spec)
    await store.close()


async def put_broken_user(spec: NatsSpec) -> None:
    """A users value that is not JSON, written as a daemon with a bug would (key "broken")."""
    from store.kv import KvStore

    s = await KvStore.open(spec)
    try:
        await s.js.publish(f"$KV.{s.bucket('users')}.broken", b"{not json")
    finally:
        await s.close()


async def seed_kv(spec: NatsSpec, clock: Callable[[], int]) -> None:
    """The demo state written to new KV buckets of spec."""
    await create_buckets(spec)
    store = await open_store(spec, clock=clock)
    try:
        await seed_demo(store, clock)
    finally:
        await store.close()


# -- waiting on a running app (the rest is in tui/scripted.py, which the screenshots use) ----

async def loaded(pilot, screen_type: type[Any], n: int | None = None) -> None:
    """Wait until a screen_type is on top with its table loaded from the newest data (with n
    rows): no load running, and none older than the last change announced."""
    app = pilot.app

    def ready() -> bool:
        return (shows_table(app, screen_type, n)
                and not app.screen.stale  # no change announced since its last load began
                and not any(w.group in ("load", "patch") and not w.is_finished for w in app.workers))
    try:
        await until(pilot, ready, timeout=10, what=f"{screen_type.__name__} loaded")
    except AssertionError as e:  # what it saw instead, so a failure says which wait it was
        screen: Any = app.screen
        busy = [f"{w.group}:{w.state.name}" for w in app.workers if not w.is_finished]
        seen = f"on {type(screen).__name__}, stale {getattr(screen, 'stale', None)}, workers {busy}"
        if isinstance(screen, screen_type):
            seen += f", count line {text_of(screen.query_one(RecordTable).query_one('.count')).strip()!r}"
        raise AssertionError(f"{e} ({seen}; notices {app.notices[-3:]})") from None
    await pilot.pause()


def text_of(widget) -> str:
    """The plain text a Static shows (rich Text, Table or Group alike)."""
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(widget.content)
    return out.getvalue()


# -- KV buckets made the daemon's way ------------------------------------------------------

async def daemon_buckets(cluster_url: str, prefix: str):
    """The five buckets made R3 with direct gets, as the daemon makes them, with the audit
    stream the tool's migration adds to such a deployment (R3, append-only), and the raw
    client (nc, js) that made them: the caller closes nc."""
    import nats
    from nats.js.api import StorageType, StreamConfig

    from store.kv import BUCKETS

    async def quiet(_e):  # a killed node makes a raw client log EOFs otherwise
        pass

    nc = await nats.connect(cluster_url.split(","), error_cb=quiet)
    js = nc.jetstream()
    for b in BUCKETS:
        await js.create_key_value(bucket=prefix + b, replicas=3, direct=True)
    audit = f"{prefix}membership_audit"
    await js.add_stream(StreamConfig(name=audit, subjects=[f"{audit}.>"], storage=StorageType.FILE,
                                     num_replicas=3, deny_delete=True, deny_purge=True))
    return nc, js


# -- the real program ------------------------------------------------------------------------

#: the repository root, where the program runs unless told otherwise
ROOT = Path(__file__).resolve().parents[1]
#: the console script of this environment
EXE = Path(sys.executable).parent / "membership-admin"


#: an empty config home: the program under test never reads the developer's natscli
#: contexts or config.toml
_EMPTY_CONFIG = tempfile.mkdtemp(prefix="ma-test-config-")
#: where the program under test keeps its recent backends (not the developer's)
_STATE = tempfile.mkdtemp(prefix="ma-test-state-")


def cli_env(**overrides: str) -> dict[str, str]:
    """The environment the program runs with: this one without NATS_* variables, with an
    empty XDG_CONFIG_HOME, then overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NATS_")}
    env["XDG_CONFIG_HOME"] = _EMPTY_CONFIG
    env["XDG_STATE_HOME"] = _STATE
    env.update(overrides)
    return env


def cli(*args: str, cwd: str | Path = ROOT, timeout: float = 120,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The command line as a subprocess (`python -m tui`), with no terminal on stdin, in
    cli_env() unless env is given. Never a traceback on stderr; `elapsed` says how long it
    took (a timeout kills it and fails the test)."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "tui", *args], capture_output=True,
                          encoding="utf-8", errors="backslashreplace", stdin=subprocess.DEVNULL,
                          timeout=timeout, cwd=cwd, env=env if env is not None else cli_env())
    proc.elapsed = time.monotonic() - started  # type: ignore[attr-defined]
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def digest(path: str | Path) -> str:
    """The SHA-256 of a file's bytes: a refused command must leave them as they were."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Tmux:
    """One tmux server of the test's own (its own socket), so nothing else is touched."""

    def __init__(self, conf: Path) -> None:
        self.socket = f"ma-test-{uuid.uuid4().hex[:8]}"
        # the window is 120x36 from the start, so the app never measures a default 80x24
        conf.write_text("set-option -g default-size 120x36\n")
        self.conf = conf

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", str(self.conf), *args], check=True,
                              capture_output=True, text=True, timeout=10).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "app")

    def wait_for(self, *texts: str, timeout: float = 15.0) -> str:
        """The screen once it shows every one of texts (a capture may catch a frame half
        drawn, so wait for all that one update draws, not for the first of them)."""
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            try:
                shown = self.screen()
            except subprocess.CalledProcessError:  # the pane is gone
                break
            if all(text in shown for text in texts):
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{texts!r} not on the screen within {timeout}s; it shows:\n{shown}")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "app", *keys)

    def keys_drawn(self, *keys: str, timeout: float = 15.0) -> None:
        """Send keys and wait until the app has redrawn (colours included: a focus that moves
        shows only in them). Keys sent right after one that moves the focus reach the widget
        it leaves while the app is still busy with it (a loaded machine, parallel tests): a
        fixed sleep only guesses how long the app takes."""
        before = self.run("capture-pane", "-p", "-e", "-t", "app")
        self.keys(*keys)
        deadline = time.monotonic() + timeout
        while self.run("capture-pane", "-p", "-e", "-t", "app") == before:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing redrawn within {timeout}s of {keys!r}")
            time.sleep(0.05)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)

    def start(self, command: str) -> None:
        """Run command in a 120x36 window, as a person would type it in a terminal.

        The test process may carry COLUMNS/LINES (set under pytest), which would override the
        terminal's real size: the app must measure the pane itself.
        """
        self.run("new-session", "-d", "-s", "app", "-x", "120", "-y", "36",
                 f"env -u COLUMNS -u LINES TERM=xterm-256color sh -c {shlex.quote(command)}")

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", "app"],
                              capture_output=True, timeout=10).returncode == 0


