"""The KV quorum health screen (key 4).

Target: the KV backend the app has open when it browses KV, else the migration target;
with neither, the screen says so. While the screen is shown, a worker re-checks at least
every `interval` seconds (store.health.check_health: every bucket's stream from its leader,
plus the live is_authorized probe) and hands each report to the panel. When the target is
the app's own KV backend, each report also tells the app whether its quorum is lost, which
closes or opens its changes (the UI fails closed like the store).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from store import NatsSpec
from store.health import NO_QUORUM

from ..messages import QuorumChecked
from ..services import watch_health
from ..session import Session
from ..widgets.footer import FittedFooter
from ..widgets.header import AppHeader
from ..widgets.health_panel import HealthPanel
from .base import AdminScreen


class HealthScreen(AdminScreen):
    """Per-bucket quorum state of the KV target, refreshed live. live=False shows only what
    is fed to the panel (the snapshot test feeds a fixed report)."""

    def __init__(self, session: Session, *, interval: float = 1.0, live: bool = True,
                 format_seconds: Callable[[float | None], str] | None = None, **kw: Any) -> None:
        super().__init__(session, **kw)
        self.interval = interval
        self.live = live
        self.format_seconds = format_seconds

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static(self._intro(), id="health-target", classes="info")
        panel = HealthPanel(id="health-panel", title="JetStream KV quorum health")
        if self.format_seconds:
            panel.format_seconds = self.format_seconds
        yield panel
        yield FittedFooter()

    def target(self) -> NatsSpec | None:
        spec = self.session.spec
        return spec if isinstance(spec, NatsSpec) else self.session.migration_target

    def _intro(self) -> Text:
        if self.session.on_kv:
            return Text("target: the KV backend open in this app; while its quorum is lost, "
                        "revoke, reinstate and add are disabled")
        if self.session.migration_target is not None:
            return Text("target: the migration target (--nats-url); the open SQLite database "
                        "does not depend on it")
        return Text("no KV target: open the app with --nats-url URL (alone, or with --db as the "
                    "migration target)", style="bold yellow")

    def on_mount(self) -> None:
        panel = self.query_one(HealthPanel)
        panel.gates_changes = self.session.on_kv
        panel.show_posture = True
        target = self.target()
        if target is None:
            panel.show_message("nothing to check")
            return
        panel.show_message("checking…")
        if self.live:
            watch_health(self, panel.deliver, target, self.interval,
                         lambda: self.session.store)

    def on_health_panel_checked(self, message: HealthPanel.Checked) -> None:
        if self.session.on_kv:  # the report is about the app's own backend
            self.post_message(QuorumChecked(message.report.overall == NO_QUORUM))
