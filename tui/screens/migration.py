"""The migration screen (key 3): SQLite -> JetStream KV, step by step, then the target's health.

Source: the open database (the session's spec, a SqliteSpec). Target: the session's
migration_target (from --nats-url / --replicas), or a URL typed in the target field. `m`
starts or re-runs; a read-only session (or target) refuses it and writes nothing.

A run that finds records changed in KV since the last migration writes nothing (SPEC 5.7):
the screen lists them and asks again; yes runs it once more, overwriting them (each
overwrite audited).

The migration (store.migrate.migrate, an async generator of events) runs in a thread
worker with an event loop of its own, so a large import never stalls the UI; its events
come back as messages, progress ticks at most ~10 per second. Paths, durations and rates
go through injectable formatters so snapshot tests can fix them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, NamedTuple

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import HorizontalGroup, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Static
from textual.worker import Worker, WorkerState, get_current_worker

from store import NatsSpec, SqliteSpec
from store.migrate import WRITE_ORDER, MigrationEvent, migrate

from .. import keys
from ..keys import Scope
from ..messages import OpenBackend
from ..services import watch_health
from ..session import Session
from ..widgets.flow_text import FlowText, path_parts
from ..widgets.footer import FittedFooter
from ..widgets.header import AppHeader
from ..widgets.health_panel import HealthPanel
from ..widgets.migration_progress import MigrationProgress, format_rate
from ..widgets.parity_view import ParityView
from .base import AdminScreen
from .confirm import ConfirmScreen

#: the steps shown, in order (prune is not offered from the TUI)
STEPS = ("connect", "backup", "export", "import", "parity")
#: progress ticks closer together than this are coalesced into the latest one
MIN_TICK = 0.1
#: changed records listed in the confirmation (the rest are counted)
SHOWN_CONFLICTS = 12


class StepState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"
    WARN = "warn"
    FAILED = "failed"


#: a step not finished yet
UNFINISHED = (StepState.PENDING, StepState.RUNNING)

ICONS = {StepState.PENDING: ("·", "dim"), StepState.RUNNING: ("…", "bold yellow"),
         StepState.OK: ("✔", "bold green"), StepState.WARN: ("!", "bold yellow"),
         StepState.FAILED: ("✖", "bold red")}


class Step(NamedTuple):
    state: StepState
    text: str = ""


class Outcome(StrEnum):
    """How the last run ended (the screen's `outcome` is None before any run)."""

    DONE = "done"
    FAILED = "failed"


def show_seconds(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.1f}s"


def format_size(size: int) -> str:
    return f"{size:,} bytes"


@dataclass
class MigrationEventMessage(Message):
    """One event of the running migration, carried from the worker thread to the screen."""

    run: int
    event: MigrationEvent


class MigrationScreen(AdminScreen):
    """Run the migration from the TUI and watch each step; `m` starts or re-runs it."""

    DEFAULT_CSS = """
    #migration-endpoints { height: auto; margin-bottom: 1; }
    #migration-endpoints Label { padding: 0 1; }
    #migration-endpoints .endpoint-title { text-style: bold; width: 8; }
    #migration-source { width: 1fr; }
    #migration-target { width: 1fr; margin-right: 1; }
    #migration-body { height: 1fr; layout: horizontal; }
    #migration-main { width: 72; height: auto; padding: 0 1; }
    #migration-status { margin-bottom: 1; }
    #migration-backup { padding-left: 2; }
    #migration-steps-block { height: auto; margin-bottom: 1; }
    #migration-progress { margin-bottom: 1; }
    #migration-health { width: 1fr; border-left: vkey $primary; }
    /* too narrow for two columns: the steps, then the target's health, scrolled together */
    MigrationScreen.-narrow #migration-body { layout: vertical; }
    MigrationScreen.-narrow #migration-main { width: 1fr; }
    MigrationScreen.-narrow #migration-health { border-left: none; border-top: hkey $primary; }
    """
    #: two columns from this width on (the health table needs about 45 beside the steps' 72)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (115, "-wide")]

    BINDINGS = keys.bindings(Scope.MIGRATION)  # m and o in this screen's footer
    AUTO_FOCUS = "#migration-body"  # keys (m, 1-4, q) must reach the bindings, not the target field

    def __init__(self, session: Session, *, format_path: Callable[[str], str] = str,
                 format_seconds: Callable[[float | None], str] | None = None,
                 format_rate: Callable[[float | None], str] = format_rate,
                 health_interval: float = 1.0,
                 run: Callable[..., AsyncIterator[MigrationEvent]] = migrate, **kw: Any) -> None:
        super().__init__(session, **kw)
        self.format_path = format_path
        # None: real durations (the health panel's probe in ms); snapshot tests pass one
        self._format_seconds = format_seconds
        self.format_seconds = format_seconds or show_seconds
        self.format_rate = format_rate
        self.health_interval = health_interval
        #: the migration engine (store.migrate.migrate); a test may pass a scripted one
        self.engine = run
        #: progress ticks shown (after coalescing), for tests and curiosity
        self.ticks_shown = 0
        self.running = False
        #: the last run's outcome: None before the first run
        self.outcome: Outcome | None = None
        self.identical: bool | None = None
        self._run = 0
        self._steps: dict[str, Step] = {}
        self._target: NatsSpec | None = None
        #: when (seconds into the run) the import began writing
        self._import_started = 0.0

    # -- layout ----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield AppHeader()
        source = self.session.spec
        target = self.session.migration_target
        # one line each, the whole width: a path wraps at its folders, a cluster's URLs fit
        with Vertical(id="migration-endpoints"):
            with HorizontalGroup():
                yield Label("source", classes="endpoint-title")
                yield FlowText(path_parts(self._source_text()), sep="", id="migration-source")
                yield Label(f"replicas {self._replicas(target)}", id="migration-replicas")
            with HorizontalGroup():
                yield Label("target", classes="endpoint-title")
                yield Input(value=target.url if target else "",
                            placeholder="nats://host:4222 (type the target URL)", compact=True,
                            id="migration-target", disabled=not isinstance(source, SqliteSpec))
        # scrolled with the arrows and pgup/pgdn: it has the focus, the target field not
        with VerticalScroll(id="migration-body"):
            with Vertical(id="migration-main"):
                yield Static(self._intro(), id="migration-status")
                with Vertical(id="migration-steps-block"):
                    yield Static("", id="migration-steps")
                    yield FlowText(sep="", id="migration-backup")
                yield MigrationProgress(WRITE_ORDER, format_rate=self.format_rate,
                                        id="migration-progress")
                yield ParityView(id="migration-parity")
            kw = {"format_seconds": self._format_seconds} if self._format_seconds else {}
            yield HealthPanel(id="migration-health", title="target health", compact=True, **kw)
        yield FittedFooter()

    def on_mount(self) -> None:
        self._reset_steps()
        self.query_one("#migration-backup").display = False
        self.query_one(MigrationProgress).display = False
        self.query_one(HealthPanel).show_message("shown after a migration")

    # -- what is shown -----------------------------------------------------------------
    def _source_text(self) -> str:
        spec = self.session.spec
        if isinstance(spec, SqliteSpec):
            return self.format_path(spec.path)
        return "none: the app is open on KV"

    @staticmethod
    def _replicas(target: NatsSpec | None) -> int:
        return target.replicas if target is not None and target.replicas else 3

    def _intro(self) -> Text:
        if not isinstance(self.session.spec, SqliteSpec):
            return Text("The migration needs a SQLite source: open the app with --db PATH "
                        "(and --nats-url URL for the target).", style="bold yellow")
        if self.session.migration_target is None and self.session.migration_note:
            return Text(self.session.migration_note, style="bold yellow")
        return Text("m: back up, export, write every record to the KV buckets, compare both "
                    "sides (safe to run again)", style="dim")

    def _reset_steps(self) -> None:
        self._steps = {s: Step(StepState.PENDING) for s in STEPS}
        self._render_steps()

    def _set_step(self, step: str, state: StepState, text: str = "") -> None:
        self._steps[step] = Step(state, text)
        self._render_steps()

    def _render_steps(self) -> None:
        out = Text()
        for i, step in enumerate(STEPS):
            state, text = self._steps[step]
            icon, style = ICONS[state]
            if i:
                out.append("\n")
            out.append(f"{icon} ", style=style)
            out.append(f"{step:<8}", style="bold" if state != StepState.PENDING else "dim")
            out.append(text, style="red" if state == StepState.FAILED else "")
        self.query_one("#migration-steps", Static).update(out)

    def _status(self, text: str, style: str = "") -> None:
        self.query_one("#migration-status", Static).update(Text(text, style=style))

    # -- starting ------------------------------------------------------------------------
    def target_spec(self) -> NatsSpec | None:
        """The target: the typed URL, with --nats-url's options (prefix, creds...) if given."""
        url = self.query_one("#migration-target", Input).value.strip()
        base = self.session.migration_target
        if not url:
            return None
        if base is not None:
            return base if url == base.url else replace(base, url=url)
        return NatsSpec(url=url, replicas=3)

    @on(Input.Submitted, "#migration-target")
    def _target_entered(self) -> None:
        self.set_focus(self.query_one("#migration-body"))  # back to the keys; m starts

    def action_open_target(self) -> None:
        if self.outcome != Outcome.DONE or self._target is None:
            self.session.notify("o opens the target once a migration is done (m starts one)", severity="warning")
        else:
            self.post_message(OpenBackend(self._target))

    def action_migrate(self, overwrite_kv_changes: bool = False) -> None:
        source = self.session.spec
        notify = self.session.notify
        if self.session.refuse_change("the migration"):
            return
        if not isinstance(source, SqliteSpec):
            notify("the migration needs --db: the app is open on KV, there is no SQLite source",
                   severity="warning")
            return
        if self.running:
            notify("a migration is running already", severity="warning")
            return
        target = self.target_spec()
        if target is None:
            notify("no target: give --nats-url or type the target URL", severity="warning")
            self.query_one("#migration-target", Input).focus()
            return
        if target.read_only:
            notify(f"read-only: {target.label} is a read-only context, the migration is refused, "
                   "nothing was written", title="Read-only", severity="warning")
            return
        self._target = target
        self.query_one("#migration-replicas", Label).update(f"replicas {self._replicas(target)}")
        self.running = True
        self.outcome = self.identical = None
        self._run += 1
        self._reset_steps()
        progress = self.query_one(MigrationProgress)
        progress.reset()
        progress.display = True
        self.query_one(ParityView).clear()
        self.query_one("#migration-backup").display = False
        self.workers.cancel_group(self, "health")
        self.query_one(HealthPanel).show_message("shown after the migration")
        self._status("migrating…", "bold yellow")
        self._set_step("connect", StepState.RUNNING, "opening both sides")
        self._migrate(self._run, source, replace(target, replicas=self._replicas(target)),
                      self.session.clock(), overwrite_kv_changes)

    @work(thread=True, exclusive=True, group="migration", exit_on_error=False)
    def _migrate(self, run: int, source: SqliteSpec, target: NatsSpec, now: float,
                 overwrite: bool = False) -> None:
        """The engine runs in a thread with an event loop of its own, not in the app's loop: on
        122k writes the UI's longest stall was 0.11 s so, and 0.17 s in the app's loop
        (bench/bench_tui_migration.py measures both)."""
        worker = get_current_worker()
        asyncio.run(self._consume(run, source, target, now, lambda: worker.is_cancelled, overwrite))

    async def _consume(self, run: int, source: SqliteSpec, target: NatsSpec, now: float,
                       cancelled: Callable[[], bool], overwrite: bool = False) -> None:
        pending: MigrationEvent | None = None
        last = 0.0
        events = self.engine(source, target, now=now, **({"overwrite_kv_changes": True} if overwrite else {}))
        try:
            async for ev in events:
                if cancelled():
                    break
                tick = ev.phase == "import" and not ev.message
                t = time.monotonic()
                if tick and t - last < MIN_TICK:
                    pending = ev  # coalesced: only the latest counts are worth a repaint
                    continue
                pending = None
                last = t
                self.post_message(MigrationEventMessage(run, ev))
            if pending is not None:
                self.post_message(MigrationEventMessage(run, pending))
        finally:
            await events.aclose()  # type: ignore[attr-defined]  # an async generator

    # -- events ----------------------------------------------------------------------------
    def on_migration_event_message(self, message: MigrationEventMessage) -> None:
        if message.run != self._run:
            return  # a late event of an earlier run
        ev = message.event
        phase = ev.phase
        if phase == "failed":
            self._failed(ev)
            return
        # every step before this phase is finished
        if phase in STEPS or phase == "done":
            upto = STEPS.index(phase) if phase in STEPS else len(STEPS)
            for step in STEPS[:upto]:
                if self._steps[step].state in UNFINISHED:
                    self._set_step(step, StepState.OK, self._steps[step].text if step != "connect"
                                   else "both sides open")
        if ev.progress:
            self.query_one(MigrationProgress).show(ev.progress, ev.elapsed)
        if phase == "import" and not ev.message:
            self.ticks_shown += 1
        if phase == "backup":
            self._on_backup(ev)
        elif phase == "export":
            self._set_step("export", StepState.RUNNING if not ev.progress else StepState.OK,
                           "reading one snapshot" if not ev.progress
                           else f"{sum(p.total for p in ev.progress if p.bucket != 'rooms_by_member'):,} records")
        elif phase == "import":
            total = sum(p.total for p in ev.progress)
            done = sum(p.done for p in ev.progress)
            if ev.message.startswith("wrote"):
                took = self.format_seconds(ev.elapsed - self._import_started)
                self._set_step("import", StepState.OK,
                               f"{total:,} writes" + (f" in {took}" if took else ""))
            else:
                if self._steps["import"].state == StepState.PENDING:
                    self._import_started = ev.elapsed
                self._set_step("import", StepState.RUNNING, f"{done:,}/{total:,} writes")
        elif phase == "parity":
            if ev.parity is None:
                self._set_step("parity", StepState.RUNNING, "exporting KV and comparing")
            else:
                self._show_parity(ev)
        elif phase == "done":
            self._done(ev)

    def _on_backup(self, ev: MigrationEvent) -> None:
        info = ev.backup
        if info is None:
            if "skipped" in ev.message:
                self._set_step("backup", StepState.WARN, "skipped")
            else:
                self._set_step("backup", StepState.RUNNING, "VACUUM INTO a copy next to the database")
            return
        # the path on lines of its own below the steps, broken only at its folders
        backup = self.query_one("#migration-backup", FlowText)
        backup.update(["saved to ", *path_parts(self.format_path(info.path))])
        backup.display = True
        text = f"{format_size(info.size)}, "
        if info.verified:
            self._set_step("backup", StepState.OK, text + "verified")
        else:
            self._set_step("backup", StepState.WARN, text + f"NOT verified: {info.note}")

    def _show_parity(self, ev: MigrationEvent) -> None:
        parity = ev.parity
        assert parity is not None
        if parity.identical:
            self._set_step("parity", StepState.OK, "identical")
        else:
            self._set_step("parity", StepState.FAILED, f"{len(parity.differences):,} difference(s)")
        self.identical = parity.identical
        self.query_one(ParityView).show(parity)

    def _done(self, ev: MigrationEvent) -> None:
        self.running = False
        self.outcome = Outcome.DONE
        report = ev.report
        if report is not None and ev.parity is not None:
            self.identical = ev.parity.identical
        took = self.format_seconds(report.duration if report else None)
        if report is not None:
            # the whole import's figures, once known: rate, and writes sent again
            state, text = self._steps["import"]
            extra = [x for x in (self.format_rate(report.rate) if report.written else "",
                                 f"{report.retries:,} retried" if report.retries else "") if x]
            if extra:
                self._set_step("import", state, f"{text} ({', '.join(extra)})")
        if self.identical:
            self._status("migration done: both sides identical" + (f" ({took})" if took else ""),
                         "bold green")
        else:
            self._status("migration done, but the two sides differ: see the differences below",
                         "bold red")
        self._watch_target_health()

    def _failed(self, ev: MigrationEvent) -> None:
        self.running = False
        self.outcome = Outcome.FAILED
        step = next((s for s in STEPS if self._steps[s].state == StepState.RUNNING), None)
        if step is None:
            step = next((s for s in STEPS if self._steps[s].state == StepState.PENDING), STEPS[-1])
        self._set_step(step, StepState.FAILED, ev.message)
        self._status(f"migration failed at {step}: m runs it again", "bold red")
        if step != "connect":
            self._watch_target_health()
        if ev.error_kind == "conflicts":
            self._status(f"nothing written: {len(ev.conflicts):,} record(s) changed in KV since the "
                         "last migration", "bold red")
            self._ask_overwrite(ev)

    def _ask_overwrite(self, ev: MigrationEvent) -> None:
        """The records changed in KV, and the question: overwrite them with SQLite's?"""
        lines = [c.line() for c in ev.conflicts[:SHOWN_CONFLICTS]]
        if len(ev.conflicts) > SHOWN_CONFLICTS:
            lines.append(f"… and {len(ev.conflicts) - SHOWN_CONFLICTS:,} more")
        body = ("Since the last migration these records were changed in KV (by the daemon or an "
                "admin); KV is the newer side:\n\n" + "\n".join(lines)
                + "\n\nOverwrite them with SQLite's values? Each overwrite is recorded in the audit "
                  "trail. A revoked user may become active again.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.action_migrate(overwrite_kv_changes=True)
            else:
                self.session.notify("nothing was overwritten", severity="information")

        self.app.push_screen(ConfirmScreen(f"Overwrite {len(ev.conflicts):,} record(s) changed in KV?", body,
                                           blink=self.session.blink), answered)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # (AdminScreen's handler, called too, turns an error into one readable message)
        if (event.worker.group == "migration" and self.running
                and event.state in (WorkerState.ERROR, WorkerState.CANCELLED)):
            # the engine ends with a "failed" event; this is for a bug: m must work again
            self.running = False
            self.outcome = Outcome.FAILED
            self._status("the migration stopped unexpectedly: m runs it again", "bold red")

    # -- the target's health ----------------------------------------------------------------
    def _watch_target_health(self) -> None:
        if self._target is not None:
            panel = self.query_one(HealthPanel)
            watch_health(self, panel.deliver, self._target, self.health_interval,
                         lambda: self.session.store)
