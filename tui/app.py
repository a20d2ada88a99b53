"""The membership-admin Textual app.

One app class for the CLI, the pilot tests and the snapshot tests. It is given a store
*spec*, and opens the store inside its own event loop (a worker started on mount), so no
connection ever crosses loops. Screens read through `app.store` in their own workers.
"""

from __future__ import annotations

import asyncio

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.worker import Worker, WorkerState

from store import NatsSpec, Store, StoreError, StoreSpec, open_store, system_clock
from store.spec import Clock
from store.text import printable

from .commands import AdminCommands
from .messages import StoreChanged
from .screens.add_user import AddUserScreen, NewUser
from .screens.base import DataScreen
from .screens.confirm import ConfirmScreen
from .screens.health import HealthScreen
from .screens.help import HelpScreen
from .screens.migration import MigrationScreen
from .screens.rooms import RoomsScreen
from .screens.user_rooms import load_user_rooms
from .screens.users import UsersScreen


class MembershipApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "membership-admin"
    COMMANDS = App.COMMANDS | {AdminCommands}
    MODES = {"rooms": RoomsScreen, "users": UsersScreen, "migration": MigrationScreen,
             "health": HealthScreen}
    DEFAULT_MODE = "rooms"
    BINDINGS = [
        Binding("1", "show('rooms')", "Rooms"),
        Binding("2", "show('users')", "Users"),
        Binding("3", "show('migration')", "Migration"),
        Binding("4", "show('health')", "Health"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "back", "Back"),
        Binding("r", "revoke", "Revoke"),
        Binding("i", "reinstate", "Reinstate"),
        Binding("a", "add_user", "Add user"),
        Binding("m", "migrate", "Migrate", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("ctrl+p", "command_palette", "Palette", show=False),  # the footer shows it
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, spec: StoreSpec, *, clock: Clock = system_clock,
                 migration_target: NatsSpec | None = None, poll_interval: float = 1.0,
                 initial_mode: str = "rooms", blink: bool = True) -> None:
        super().__init__()
        self.spec = spec
        self.clock = clock
        self.migration_target = migration_target
        self.poll_interval = poll_interval
        self.initial_mode = initial_mode
        #: text cursors blink; off for snapshots and screenshots, so pictures are stable
        self.blink = blink
        self.read_only = spec.read_only
        self.store: Store | None = None
        #: bumped whenever the data may have changed; screens reload when theirs is older
        self.generation = 0
        self.backend_status = "opening…"
        #: set by the health screen when the open KV store has lost its quorum: changes refused
        self.quorum_lost = False
        #: every message shown with notify, newest last (what the operator was told)
        self.notices: list[str] = []
        self._update_sub_title()

    # -- the store -------------------------------------------------------------------
    def on_mount(self) -> None:
        self.switch_mode(self.initial_mode)
        self._open_store()

    @work(exclusive=True, group="store", exit_on_error=False)
    async def _open_store(self) -> None:
        try:
            self.store = await open_store(self.spec, clock=self.clock)
        except StoreError as e:
            self.backend_status = "unavailable"
            self._update_sub_title()
            self.report_error(e)
            return
        self.backend_status = ""
        self._update_sub_title()
        self.data_changed()
        self._watch_changes()
        if isinstance(self.spec, NatsSpec):
            self._watch_quorum()  # after _watch_changes, whose exclusive start cancels its group

    @work(exclusive=True, group="watch", exit_on_error=False)
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
        try:
            marker = await self.store.change_marker()
        except StoreError as e:
            if self.backend_status != "unavailable":
                self.backend_status = "unavailable"
                self._update_sub_title()
                self.report_error(e)
            return None
        if self.backend_status:
            self.backend_status = ""
            self._update_sub_title()
        return marker

    def data_changed(self) -> None:
        self.generation += 1
        self.screen.post_message(StoreChanged())

    def _update_sub_title(self) -> None:
        label = (self.store.label if self.store is not None and self.store.label
                 else self.spec.label)
        if isinstance(self.spec, NatsSpec) and "replica" not in label:
            label += f" replicas={self.spec.replicas or 'auto'}"
        if self.read_only and "read-only" not in label:
            label += " (read-only)"
        if self.backend_status:
            label += f" [{self.backend_status}]"
        if self.quorum_lost:
            label += " [QUORUM LOST: changes disabled]"
        self.sub_title = printable(label)

    async def on_unmount(self) -> None:
        if self.store is not None:
            await self.store.close()

    def notify(self, message: str, **kwargs) -> None:  # type: ignore[override]
        message = printable(message)  # store messages may quote stored text
        self.notices.append(message)
        kwargs.setdefault("markup", False)  # store messages may hold [brackets]
        super().notify(message, **kwargs)

    def report_error(self, error: BaseException | None) -> None:
        """A readable one-line message for a failure; never a traceback."""
        if isinstance(error, StoreError):
            self.notify(str(error), title=type(error).__name__, severity="error", timeout=8)
        elif error is not None:
            self.notify(f"{type(error).__name__}: {error}", title="Error", severity="error",
                        timeout=8)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.report_error(event.worker.error)

    # -- navigation ----------------------------------------------------------------------
    #: actions that would act behind an open dialog (a confirmation, the add form, help)
    _BEHIND_MODAL = {"show", "filter", "revoke", "reinstate", "add_user", "migrate", "help", "back"}

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self._BEHIND_MODAL and isinstance(self.screen, ModalScreen):
            return False  # the dialog answers first
        return True
    def action_show(self, mode: str) -> None:
        if self.current_mode != mode:
            self.switch_mode(mode)

    def action_back(self) -> None:
        if len(self.screen_stack) > 1:
            self.pop_screen()

    def action_filter(self) -> None:
        screen = self.screen
        if isinstance(screen, DataScreen):
            screen.open_filter()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_migrate(self) -> None:
        if isinstance(self.screen, MigrationScreen):
            self.screen.action_migrate()
        else:
            self.notify("m starts the migration on the migration screen (3)")

    # -- changes ---------------------------------------------------------------------------
    @work(group="watch", exit_on_error=False)
    async def _watch_quorum(self) -> None:
        """The open KV backend's quorum, every 2 s, also when the health screen is not shown."""
        from store.health import NO_QUORUM

        from .screens.health import health_loop

        await health_loop(lambda report: self.set_quorum_lost(report.overall == NO_QUORUM),
                          self.spec, 2.0, pick_probe=False)

    def set_quorum_lost(self, lost: bool) -> None:
        if lost == self.quorum_lost or not isinstance(self.spec, NatsSpec):
            return  # a migration target's quorum does not gate SQLite changes
        self.quorum_lost = lost
        self.set_class(lost, "-quorum-lost")  # app.tcss turns the header red
        self._update_sub_title()

    def _refuse_if_read_only(self, what: str) -> bool:
        """True (and says so) when changes are off: --read-only, or no KV quorum (fail closed)."""
        if self.read_only:
            self.notify(f"read-only: {what} refused, nothing was written",
                        title="Read-only", severity="warning")
        elif self.quorum_lost:
            self.notify(f"no quorum: {what} refused, nothing was written",
                        title="Unavailable", severity="error")
        return self.read_only or self.quorum_lost

    def _selected_user(self) -> str | None:
        screen = self.screen
        key = screen.selected_user_key() if isinstance(screen, DataScreen) else None
        if key is None:
            self.notify("select a user first (2: users, or a member in a room)", severity="warning")
        return key

    def action_revoke(self) -> None:
        if self._refuse_if_read_only("revoke") or self.store is None:
            return
        key = self._selected_user()
        if key is not None:
            self._change_user("revoke", key)

    def action_reinstate(self) -> None:
        if self._refuse_if_read_only("reinstate") or self.store is None:
            return
        key = self._selected_user()
        if key is not None:
            self._change_user("reinstate", key)

    @work(exclusive=True, group="change", exit_on_error=False)
    async def _change_user(self, what: str, key: str) -> None:
        store = self.store
        detail = await load_user_rooms(store, key)
        user = detail.user
        if user is None:
            self.notify(f"{key} is not on the allowlist", severity="warning")
            return
        if (what == "revoke") == (user.status == "revoked"):
            self.notify(f"{user.key} is already {user.status}")
            return
        holding = [room.id for room, _m, k in detail.rooms if room.encrypted and k is not None]
        title = printable(f"{what.capitalize()} {user.key}{f' ({user.name})' if user.name else ''}?")
        body = f"role {user.role}, status {user.status}\n"
        if holding:
            body += (f"holds a current-epoch key in {len(holding)} room(s): "
                     + ", ".join(holding[:20]) + (" …" if len(holding) > 20 else ""))
        else:
            body += "holds no current-epoch key in any room"
        if what == "revoke":
            body += "\n\nRevoking stops its authorization; it stays a member until rooms rekey."
        if not await self.push_screen_wait(ConfirmScreen(title, body)):
            self.notify(f"{what} cancelled")
            return
        if what == "revoke":
            await store.revoke_user(user.key)
        else:
            await store.reinstate_user(user.key)
        self.notify(f"{user.key} {'revoked' if what == 'revoke' else 'reinstated'}")
        self.data_changed()

    def action_add_user(self) -> None:
        if self._refuse_if_read_only("add user") or self.store is None:
            return
        self._add_user()

    @work(exclusive=True, group="change", exit_on_error=False)
    async def _add_user(self) -> None:
        new: NewUser | None = await self.push_screen_wait(AddUserScreen())
        if new is None:
            return
        user = await self.store.add_user(new.key, new.name, new.role)
        self.notify(f"{user.key} added ({user.role})")
        self.data_changed()
