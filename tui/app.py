"""The membership-admin Textual app: it opens the store, watches it, and makes every screen.

One app class for the CLI, the pilot tests and the snapshot tests. It is given a store
*spec* and opens the store inside its own event loop (a worker started on mount), so no
connection ever crosses loops. Screens are given the session (tui/session.py), never the
app: they ask for navigation and changes with messages (tui/messages.py) that the app
answers here, and they reload on the session's change signal, which the app publishes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Literal

from textual import work
from textual.app import App
from textual.screen import Screen
from textual.signal import Signal
from textual.theme import Theme
from textual.worker import Worker, WorkerState

from store import NatsSpec, Store, StoreError, StoreSpec, open_store, system_clock
from store.health import NO_QUORUM
from store.plan import Plan, PlanAction, make_plan, summary
from store.plan_apply import Result, apply_plan
from store.spec import Clock
from store.text import printable

from . import keys, messages
from .backends import Choice, choices, load_recent, same_backend, save_recent
from .commands import AdminCommands
from .config import ContextSettings, save_theme
from .keys import Scope
from .screens.add_user import AddUserScreen, NewUser
from .screens.audit import AuditScreen
from .screens.backends import BackendPicker
from .screens.confirm import ConfirmScreen, PlanScreen
from .screens.detail import DetailScreen
from .screens.health import HealthScreen
from .screens.help import HelpScreen
from .screens.history import HistoryScreen
from .screens.migration import MigrationScreen
from .screens.room import RoomScreen
from .screens.rooms import RoomsScreen
from .screens.user_rooms import UserRoomsScreen
from .screens.users import UsersScreen
from .services import UserChange, health_loop, load_user_rooms, weak_trail
from .session import POLL_INTERVAL, Session
from .widgets.record_table import RecordTable

Mode = Literal["rooms", "users", "migration", "health", "audit"]
#: makes a screen, given the session
ScreenFactory = Callable[[Session], Screen]
#: the first screen of each mode (keys 1 2 3 4)
MODE_SCREENS: dict[Mode, ScreenFactory] = {
    "rooms": RoomsScreen, "users": UsersScreen, "migration": MigrationScreen,
    "health": HealthScreen, "audit": AuditScreen,
}
#: seconds between two checks of the open KV backend's quorum, whichever screen is shown
QUORUM_INTERVAL = 2.0
#: how long a change's notification follows its spread to every replica, and how often
SPREAD_FOLLOW_S = 120.0
SPREAD_POLL_S = 0.5


class Backend(StrEnum):
    """What the header says of the open backend (nothing while it answers)."""

    OPENING = "opening…"
    UNAVAILABLE = "unavailable"
    ANSWERS = ""


class MembershipApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "membership-admin"
    COMMANDS = App.COMMANDS | {AdminCommands}
    SCREENS = {"help": HelpScreen}
    DEFAULT_MODE = "rooms"
    #: classes each screen takes by the terminal's size (app.tcss: narrow and short layouts)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    #: the keys the screens do not own (tui/keys.py declares every key)
    BINDINGS = keys.bindings(Scope.APP)

    def __init__(self, spec: StoreSpec, *, clock: Clock = system_clock,
                 migration_target: NatsSpec | None = None, poll_interval: float = POLL_INTERVAL,
                 initial_mode: Mode = "rooms", blink: bool = True,
                 screens: Mapping[Mode, ScreenFactory] | None = None, label: str = "",
                 color: str = "", theme: str = "", config_file: Path | None = None,
                 recent_file: Path | None = None, migration_note: str = "") -> None:
        """screens: the first screen of a mode made otherwise (a test fixes the migration
        screen's formatters, or feeds the health screen by hand). label, color: the header's
        words and background for this deployment (config.toml), so production looks unlike
        staging at a glance. theme: the one to start with (config.toml's). config_file: where
        a theme chosen in the palette is kept (None: not kept, as in tests and pictures).
        recent_file: where the backends opened are kept for `:` in the next runs (None: not).
        migration_note: why the migration screen has no target (Session.migration_note)."""
        # NO_COLOR set and not empty (no-color.org): no colour at all. Textual reads it too,
        # and with ANSI colours on its filter drops every colour instead of turning them grey
        # (an empty NO_COLOR, which Textual also takes for set, still gives greys)
        self.colourless = bool(os.environ.get("NO_COLOR"))
        super().__init__(ansi_color=True if self.colourless else None)
        self._clock = clock
        self._blink = blink
        self.label = label
        self.color = color
        self.config_file = config_file
        self._unknown_theme = ""
        start = "ansi-dark" if self.colourless else theme
        if start in self.available_themes:
            self.theme = start
        elif start:  # a theme of another Textual version: the default, said once mounted
            self._unknown_theme = start
        #: the theme in the config file (or the default): only a change from it is written
        self._kept_theme = self.theme
        #: what each mode's first screen is made by (made anew when another backend opens)
        self._factories = {**MODE_SCREENS, **(screens or {})}
        #: the migration's target whichever backend is open (`:` offers it)
        self.migration_target = migration_target
        #: started read-only: every backend opened with `:` is read-only too
        self.read_only = spec.read_only
        #: the backends opened before the one open now, newest first (`:` offers them)
        self.recent_file = recent_file
        self.recent: list[Choice] = load_recent(recent_file, self.read_only) if recent_file else []
        self.migration_note = migration_note
        self.session = self._new_session(spec)
        for mode, make in self._factories.items():
            self.add_mode(mode, partial(make, self.session))
        self.poll_interval = poll_interval
        self.initial_mode = initial_mode
        self.backend = Backend.OPENING
        #: every message shown with notify, newest last (what the operator was told)
        self.notices: list[str] = []
        self._update_sub_title()

    # -- the store -------------------------------------------------------------------------
    def on_mount(self) -> None:
        if self._unknown_theme:
            self.notify(f"config.toml: no theme named {self._unknown_theme!r} here; the default is used",
                        severity="warning")
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self._apply_color()
        self.switch_mode(self.initial_mode)
        self._open_store()
        self._keep_recent()

    def _keep_recent(self) -> None:
        """The backend open now first, then the ones before it, for the next runs' `:`."""
        if self.recent_file is None:
            return
        try:
            save_recent(self.recent_file, [self.session.spec, *(c.spec for c in self.recent)])
        except OSError as e:
            self.notify(f"the backends opened are not kept for the next start ({self.recent_file}: "
                        f"{e.strerror or e})", severity="warning")

    def _new_session(self, spec: StoreSpec) -> Session:
        return Session(spec, self._clock, Signal(self, "changed"), self.notify, self.migration_target,
                       self._blink, migration_note=self.migration_note)

    def _apply_color(self) -> None:
        """The header's colour of this deployment (config.toml): a rule of its own after
        app.tcss, so every screen's header takes it (none: the theme's)."""
        if self.color or ("config.toml", "color") in self.stylesheet.source:
            css = f"Header {{ background: {self.color}; }}" if self.color else "/* the theme's */"
            self.stylesheet.add_source(css, read_from=("config.toml", "color"))
            self.refresh_css()

    @work(exclusive=True, group="store", exit_on_error=False)
    async def _open_store(self) -> None:
        session = self.session
        try:
            session.store = await open_store(session.spec, clock=session.clock)
        except StoreError as e:
            self._set_backend(Backend.UNAVAILABLE)
            session.open_error = str(e)
            session.report_error(e)
            self.data_changed()  # the views show why there are no rows
            return
        self._set_backend(Backend.ANSWERS)
        self.data_changed()
        self._watch_changes()
        if session.on_kv:
            self._watch_quorum()

    @work(exclusive=True, group="watch-changes", exit_on_error=False)
    async def _watch_changes(self) -> None:
        """Poll the cheap change marker; a change by anyone shows without a key press."""
        last = await self._marker()
        while True:
            await asyncio.sleep(self.poll_interval)
            marker = await self._marker()
            if marker is not None and marker != last:
                last = marker
                self.data_changed()

    async def _marker(self) -> object | None:
        assert self.session.store is not None
        try:
            marker = await self.session.store.change_marker()
        except StoreError as e:
            if self.backend != Backend.UNAVAILABLE:
                self._set_backend(Backend.UNAVAILABLE)
                self.session.report_error(e)
            return None
        self._set_backend(Backend.ANSWERS)
        return marker

    @work(exclusive=True, group="watch-quorum", exit_on_error=False)
    async def _watch_quorum(self) -> None:
        """The open KV backend's quorum, also while the health screen is not shown."""
        spec = self.session.spec
        assert isinstance(spec, NatsSpec)  # started only for a KV backend
        await health_loop(lambda report: self.set_quorum_lost(report.overall == NO_QUORUM),
                          spec, QUORUM_INTERVAL, pick_probe=False, posture=False)

    # -- another backend, without leaving (`:`, `o` after a migration) ----------------------
    def action_open_backend(self) -> None:
        self._pick_backend()

    @work(exclusive=True, group="pick-backend", exit_on_error=False)
    async def _pick_backend(self) -> None:
        session = self.session
        found, problems = choices(session.spec, self.recent, self.migration_target, read_only=self.read_only)
        picked = await self.push_screen_wait(BackendPicker(session.spec.label, found, problems))
        if picked is not None:
            await self.switch_backend(picked)

    def on_open_backend(self, message: messages.OpenBackend) -> None:
        spec = replace(message.spec, read_only=self.read_only)
        self.run_worker(self.switch_backend(Choice("migration target", spec.label, spec)),
                        group="switch-backend", exclusive=True, exit_on_error=False)

    async def switch_backend(self, choice: Choice) -> None:
        """Browse choice's backend from now on: every view is made anew for it (none keeps
        rows, marks or a follow of the old one), on the same view as now; the header follows."""
        old = self.session
        if same_backend(choice.spec) == same_backend(old.spec):
            self.notify(f"{old.spec.label} is open already")
            return
        if any(w.group == "migration" and not w.is_finished for w in self.workers):
            # its thread cannot be stopped with the screen: the backend stays until it ends
            self.notify("a migration is running: another backend opens once it has ended", severity="warning")
            return
        for group in ("store", "watch-changes", "watch-quorum"):
            self.workers.cancel_group(self, group)
        kept = Choice("recent", old.spec.label, old.spec, ContextSettings(label=self.label, color=self.color))
        self.recent = [kept] + [c for c in self.recent if same_backend(c.spec) != same_backend(choice.spec)
                                and same_backend(c.spec) != same_backend(old.spec)]
        self.session = self._new_session(choice.spec)
        mode = self.current_mode
        # the mode on screen cannot be removed: a blank one stands in while the views are made anew
        self.add_mode("switching", Screen)
        await self.switch_mode("switching")
        for name, make in self._factories.items():
            await self.remove_mode(name)
            self.add_mode(name, partial(make, self.session))
        await self.switch_mode(mode)
        await self.remove_mode("switching")
        if old.store is not None:
            await old.store.close()
        self.label, self.color = choice.settings.label, choice.settings.color
        self._apply_color()
        self.set_class(False, "-quorum-lost")
        self.backend = Backend.OPENING
        self._update_sub_title()
        self.notify(f"opened {choice.spec.label}")
        self._open_store()
        self._keep_recent()

    def data_changed(self) -> None:
        """The data may have changed: every data screen reloads, now or when next shown."""
        self.session.changed.publish(None)

    def set_quorum_lost(self, lost: bool) -> None:
        session = self.session
        if lost == session.quorum_lost or not session.on_kv:
            return  # a migration target's quorum does not gate SQLite changes
        session.quorum_lost = lost
        self.set_class(lost, "-quorum-lost")  # app.tcss turns the header red
        self._update_sub_title()

    def on_quorum_checked(self, message: messages.QuorumChecked) -> None:
        self.set_quorum_lost(message.lost)

    async def on_unmount(self) -> None:
        if self.session.store is not None:
            await self.session.store.close()

    # -- the theme ----------------------------------------------------------------------------
    def _theme_changed(self, theme: Theme) -> None:
        """A theme chosen in the palette: kept in config.toml for the next start."""
        if self.config_file is None or theme.name == self._kept_theme:
            return
        try:
            save_theme(theme.name, self.config_file)
        except (StoreError, OSError) as e:
            self.notify(f"theme {theme.name} not kept for the next start: {e}", severity="warning")
        else:
            self._kept_theme = theme.name

    # -- the header and messages -------------------------------------------------------------
    def _set_backend(self, state: Backend) -> None:
        if state != self.backend:
            self.backend = state
            self._update_sub_title()

    def _update_sub_title(self) -> None:
        spec, store = self.session.spec, self.session.store
        label = store.label if store is not None and store.label else spec.label
        if isinstance(spec, NatsSpec) and "replica" not in label:
            label += f" replicas={spec.replicas or 'auto'}"
        if self.session.read_only and "read-only" not in label:
            label += " (read-only)"
        if self.backend:
            label += f" [{self.backend}]"
        if self.session.quorum_lost:
            label += " [QUORUM LOST: changes disabled]"
        if self.label:
            label = f"{self.label} · {label}"
        self.sub_title = printable(label)

    def action_help_quit(self) -> None:
        """ctrl+c, which does not quit in Textual: which keys do, as plain text (Textual's own
        hint is markup, and notify here shows text as it is)."""
        keys_ = " or ".join(k.written for k in keys.KEYS if k.action == "quit")
        self.notify(f"press {keys_} (or ctrl+q) to quit", title="Do you want to quit?")

    def notify(self, message: str, **kwargs) -> None:
        message = printable(message)  # store messages may quote stored text
        self.notices.append(message)
        kwargs.setdefault("markup", False)  # store messages may hold [brackets]
        super().notify(message, **kwargs)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.session.report_error(event.worker.error)

    # -- what the screens ask for ------------------------------------------------------------
    def on_open_room(self, message: messages.OpenRoom) -> None:
        self.push_screen(RoomScreen(self.session, message.room_id))

    def on_open_user(self, message: messages.OpenUser) -> None:
        self.push_screen(UserRoomsScreen(self.session, message.key))

    def on_open_history(self, message: messages.OpenHistory) -> None:
        self.push_screen(HistoryScreen(self.session, message.key))

    def on_open_detail(self, message: messages.OpenDetail) -> None:
        self.push_screen(DetailScreen(message.entry))

    def on_change_user(self, message: messages.ChangeUser) -> None:
        self._change_user(message.change, message.key)

    def on_add_user(self, message: messages.AddUser) -> None:
        self._add_user()

    @work(exclusive=True, group="write", exit_on_error=False)
    async def _change_user(self, change: UserChange, key: str) -> None:
        store = self.session.store
        assert store is not None  # the screen asks only once it is open
        found = await load_user_rooms(store, key)
        user = found.user
        if user is None:
            self.notify(f"{key} is not on the allowlist", severity="warning")
            return
        if not change.needed(user):
            self.notify(f"{user.key} is already {user.status}")
            return
        confirm = ConfirmScreen(*change.question(found), ask_reason=True, blink=self.session.blink)
        if not await self.push_screen_wait(confirm):
            self.notify(f"{change} cancelled")
            return
        if await change.apply(store, user.key, confirm.reason):
            self._follow_spread(f"{user.key} {change.done}")
        else:
            self.notify(f"{user.key} was already {change.done}: another change came first", severity="warning")
        await self._say_if_trail_weak(store)
        self.data_changed()

    async def _say_if_trail_weak(self, store: Store) -> None:
        """A change recorded in a weak audit trail says so (SPEC 10)."""
        if (weak := await weak_trail(store)) is not None:
            self.notify(weak, title="Audit trail", severity="warning", timeout=15)

    def on_change_users(self, message: messages.ChangeUsers) -> None:
        self._change_users(message.change, message.keys)

    @work(exclusive=True, group="write", exit_on_error=False)
    async def _change_users(self, change: UserChange, keys: list[str]) -> None:
        """The bulk confirmation is a plan (SPEC 11): applied as compare-and-sets against the
        revisions it shows, or saved with w for `membership-admin apply`."""
        store = self.session.store
        assert store is not None
        screen = self.screen
        plan = await make_plan(store, PlanAction(str(change)), keys, None, self.session.clock())
        if not plan.to_change:
            self.notify(f"none of the {len(keys):,} marked users needs to be {change.done}")
            return
        title = printable(f"{change.capitalize()} {len(plan.to_change):,} marked user(s)?")
        confirm = PlanScreen(title, summary(plan, header=False), blink=self.session.blink)
        applied = await self.push_screen_wait(confirm)
        plan = replace(plan, reason=confirm.reason)
        if confirm.save:
            self._save_plan(plan)
            return
        if not applied:
            self.notify(f"{change} of {len(plan.to_change):,} users cancelled")
            return
        report = await apply_plan(store, plan, self.session.clock())
        done = len(report.of(Result.CHANGED))
        failed = report.of(Result.DRIFTED) + report.of(Result.FAILED)
        if failed:
            listed = "; ".join(f"{o.key}: {o.detail}" for o in failed[:10]) + (" …" if len(failed) > 10 else "")
            self.notify(f"{done:,} {change.done}, {len(failed):,} not: {listed}", title="Some users not changed",
                        severity="error", timeout=15)
        if done or not failed:
            self._follow_spread(f"{done:,} users {change.done}")
        await self._say_if_trail_weak(store)
        for table in screen.query(RecordTable):
            table.clear_marks()
        self.data_changed()

    def _save_plan(self, plan: Plan) -> None:
        path = Path.cwd() / f"plan-{plan.action}-{plan.id[:12]}.json"
        try:
            plan.save(str(path))
        except StoreError as e:
            self.notify(f"plan not saved: {e}", severity="error")
            return
        self.notify(f"plan saved to {path}; nothing changed. Apply it with: membership-admin apply {path}",
                    title="Plan saved", timeout=20)

    @work(group="spread", exit_on_error=False)
    async def _follow_spread(self, what: str) -> None:
        """Say what was done and how far it has spread (SPEC 12: `3/3 replicas` on KV), again
        each time more replicas have it, until every one has (or SPREAD_FOLLOW_S pass)."""
        store = self.session.store
        try:
            rep = None if store is None else await store.replication()
        except StoreError as e:
            self.notify(f"{what}; replicas not known: {e}")
            return
        if rep is None:
            self.notify(what)
            return
        self.notify(f"{what}: {rep.text()}")
        shown = rep.text()
        deadline = asyncio.get_running_loop().time() + SPREAD_FOLLOW_S
        while not rep.complete and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(SPREAD_POLL_S)
            try:
                again = await store.replication(rep.target)  # type: ignore[union-attr]
            except StoreError:
                continue
            if again is None:
                return
            rep = again
            if rep.text() != shown:
                shown = rep.text()
                self.notify(f"{what}: {shown}", severity="information" if rep.complete else "warning")

    @work(exclusive=True, group="write", exit_on_error=False)
    async def _add_user(self) -> None:
        store = self.session.store
        assert store is not None  # the screen asks only once it is open
        new: NewUser | None = await self.push_screen_wait(AddUserScreen(blink=self.session.blink))
        if new is None:
            return
        user = await store.add_user(new.key, new.name, new.role)
        self.notify(f"{user.key} added ({user.role})")
        await self._say_if_trail_weak(store)
        self.data_changed()
