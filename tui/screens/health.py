"""The KV quorum health screen (key 4), and the refresher loop it shares with the migration screen.

Target: the KV backend open in the app when app.spec is a NatsSpec, else the migration
target (app.migration_target); with neither, the screen says so. A worker re-checks at
least every `interval` seconds while the screen is shown (store.health.check_health: every
bucket's stream from its leader, plus the live is_authorized probe) and posts the report
to the panel. When the target is the app's own KV store, a lost quorum also closes the
app's changes (app.quorum_lost): the UI fails closed like the store.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.dom import DOMNode
from textual.widgets import Footer, Header, Static
from textual.worker import Worker

from store import NatsSpec, Store, StoreError, open_store
from store.health import DEFAULT_PROBE_KEY, NO_QUORUM, HealthReport, check_health

from ..widgets.health_panel import HealthPanel
from .base import DataScreen


#: how long picking the probe key may take, and how often it is tried again after a failure
PICK_TIMEOUT = 1.0
PICK_RETRY = 10.0


async def choose_probe_key(*stores: Store | None) -> str | None:
    """An active user to probe (an admin first), so "allow" means the quorum answers; from
    the first store that lists its users within PICK_TIMEOUT; None when none can now."""
    for store in stores:
        if store is None:
            continue
        try:
            users = await asyncio.wait_for(store.list_users(), PICK_TIMEOUT)
        except (StoreError, asyncio.TimeoutError):
            continue
        break
    else:
        return None
    active = [u for u in users if u.active]
    admins = [u for u in active if u.role == "admin"]
    pick = (admins or active or [None])[0]
    return pick.key if pick is not None else DEFAULT_PROBE_KEY


async def health_loop(deliver: Callable[[HealthReport], None], target: NatsSpec, interval: float,
                      shown: Callable[[], bool] = lambda: True,
                      probe_source: Callable[[], Store | None] = lambda: None,
                      pick_probe: bool = True) -> None:
    """Deliver a fresh report at least every `interval` seconds while shown().

    The loop keeps a read-only store of its own on target (never creating buckets; also
    when the app has the same backend open, so it does not depend on the app's opening),
    closed when the loop ends. A target that cannot be reached is a no-quorum report.
    probe_source: another store to pick the probe's user from first (the app's open
    database: the migration target holds a copy of it, and it answers without a quorum).
    pick_probe False: probe DEFAULT_PROBE_KEY, never listing users (the app's quorum gate
    needs only the state).
    """
    store: Store | None = None
    probe_key: str | None = None
    next_pick = 0.0
    try:
        while True:
            started = time.monotonic()
            if shown():
                if store is None:
                    try:
                        store = await open_store(replace(target, read_only=True))
                    except StoreError as e:
                        deliver(HealthReport(target.label, NO_QUORUM, error=str(e)))
                if store is not None:
                    if pick_probe and probe_key is None and started >= next_pick:
                        probe_key = await choose_probe_key(probe_source(), store)
                        next_pick = started + PICK_RETRY
                    deliver(await check_health(store, probe_key or DEFAULT_PROBE_KEY))
            await asyncio.sleep(max(0.05, interval - (time.monotonic() - started)))
    finally:
        if store is not None:
            await store.close()


def watch_health(node: DOMNode, panel: HealthPanel, target: NatsSpec, interval: float) -> Worker:
    """Start (or restart) node's health worker for target, posting each report to the panel;
    it checks only while node's screen is the one shown."""
    screen = node if isinstance(node, DataScreen) else node.screen
    return node.run_worker(
        health_loop(lambda report: panel.post_message(HealthPanel.Checked(report)), target,
                    interval, lambda: node.app.screen is screen,
                    lambda: getattr(node.app, "store", None)),
        group="health", exclusive=True, exit_on_error=False, name="health")


class HealthScreen(DataScreen):
    """Per-bucket quorum state of the KV target, refreshed live. live=False shows only what
    is fed to the panel (snapshot tests feed a fixed report)."""

    def __init__(self, *, interval: float = 1.0, live: bool = True,
                 format_seconds: Callable[[float | None], str] | None = None, **kw) -> None:
        super().__init__(**kw)
        self.interval = interval
        self.live = live
        self.format_seconds = format_seconds

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._intro(), id="health-target", classes="info")
        kw = {"format_seconds": self.format_seconds} if self.format_seconds else {}
        yield HealthPanel(id="health-panel", title="JetStream KV quorum health", **kw)
        yield Footer()

    # -- the target --------------------------------------------------------------------
    @property
    def own_store(self) -> bool:
        """True when the target is the KV backend the app has open (its quorum gates changes)."""
        return isinstance(self.admin.spec, NatsSpec)

    def target(self) -> NatsSpec | None:
        if isinstance(self.admin.spec, NatsSpec):
            return self.admin.spec
        return self.admin.migration_target

    def _intro(self) -> Text:
        if self.own_store:
            return Text("target: the KV backend open in this app; while its quorum is lost, "
                        "revoke, reinstate and add are disabled")
        if self.admin.migration_target is not None:
            return Text("target: the migration target (--nats-url); the open SQLite database "
                        "does not depend on it")
        return Text("no KV target: open the app with --nats-url URL (alone, or with --db as the "
                    "migration target)", style="bold yellow")

    def on_mount(self) -> None:
        panel = self.query_one(HealthPanel)
        panel.gates_changes = self.own_store
        target = self.target()
        if target is None:
            panel.show_message("nothing to check")
            return
        panel.show_message("checking…")
        if self.live:
            watch_health(self, panel, target, self.interval)

    def load(self) -> None:
        """The health worker runs on its own schedule, not on data changes."""

    def on_health_panel_checked(self, message: HealthPanel.Checked) -> None:
        if self.own_store:
            lost = message.report.overall == NO_QUORUM
            set_lost = getattr(self.admin, "set_quorum_lost", None)
            if set_lost is not None:
                set_lost(lost)
