"""What every full screen shares: the footer's keys and what they do by default (AdminScreen);
for a screen of store data, loading when shown and again when the data changed (DataScreen)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on, work
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from store import Store, StoreError

from .. import heap, keys
from ..keys import Scope
from ..messages import AddUser, ChangeUser, ChangeUsers, OpenHistory, OpenRoom, OpenUser
from ..services import UserChange
from ..session import Session
from ..widgets.record_table import RecordTable
from .export import ExportScreen, write_table


class AdminScreen(Screen[None]):
    """A full screen of the app, made with the session (never with the app itself).

    Every full screen offers the same keys, in the help screen's order: Textual lists a
    screen's keys before the app's in the footer, so the order holds only with the keys kept
    together here. A screen overrides the actions it gives a meaning to: filter, the selected
    user of r and i, m on the migration screen.
    """

    BINDINGS = keys.bindings(Scope.SCREEN)  # tui/keys.py: every key, declared once

    def __init__(self, session: Session, **kw: Any) -> None:
        super().__init__(**kw)
        self.session = session

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Under a dialog (a confirmation, the form, help) every key goes to the dialog, so the
        # footer left in view beneath it does not offer this screen's keys.
        return self.is_active

    def on_mount(self) -> None:
        for box in self.query(Input):
            box.cursor_blink = self.session.blink  # off for pictures, so they are stable

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # One place turns a failed worker into a readable message; the screen stays usable.
        if event.state == WorkerState.ERROR:
            self.session.report_error(event.worker.error)

    # -- the keys -------------------------------------------------------------------------
    def action_show(self, mode: str) -> None:
        if self.app.current_mode != mode:
            self.app.switch_mode(mode)

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:  # the first screen of a mode stays
            self.dismiss()

    def action_help(self) -> None:
        self.app.push_screen("help")

    def action_filter(self) -> None:
        self.session.notify("nothing to filter here", severity="warning")

    def action_export(self) -> None:
        self.session.notify("no table to save here", severity="warning")

    def action_sort(self) -> None:
        self.session.notify("nothing to sort here", severity="warning")

    def action_migrate(self) -> None:
        self.session.notify("m starts the migration on the migration screen (3)")

    def action_revoke(self) -> None:
        self._change_user(UserChange.REVOKE)

    def action_reinstate(self) -> None:
        self._change_user(UserChange.REINSTATE)

    def action_add_user(self) -> None:
        if not self.session.refuse_change("add user") and self.session.store is not None:
            self.post_message(AddUser())

    def selected_user_key(self) -> str | None:
        """The user that r, i and h act on here, if any."""
        return None

    def action_history(self) -> None:
        key = self.selected_user_key()
        if key is None:
            self.session.notify("select a user first (2: users, or a member in a room)", severity="warning")
        elif self.session.store is not None:
            self.post_message(OpenHistory(key))

    def marked_user_keys(self) -> list[str]:
        """The users marked here with space, which r and i then act on together."""
        return []

    def _change_user(self, change: UserChange) -> None:
        if self.session.refuse_change(change) or self.session.store is None:
            return
        marked = self.marked_user_keys()
        if marked:
            self.post_message(ChangeUsers(change, marked))
            return
        key = self.selected_user_key()
        if key is None:
            self.session.notify("select a user first (2: users, or a member in a room)",
                                severity="warning")
            return
        self.post_message(ChangeUser(change, key))


class DataScreen(AdminScreen):
    """Store data in a RecordTable: fetch() runs in a worker when the screen is first shown,
    and again whenever the session announces a change, at once while the screen is in view
    (also under a dialog), else as soon as it is shown again. No announced change is lost:
    `stale` is set the moment one is announced, and a load that fails leaves it set."""

    AUTO_FOCUS = "RecordGrid"  # the table, not the hidden filter box
    #: what enter on a row asks the app to open, given the row's key (OpenRoom or OpenUser)
    OPENS: ClassVar[type[OpenRoom] | type[OpenUser]]
    #: the data may have changed since this screen's last load began
    stale = True
    #: set once the first part of a progressive load is on screen
    _painted: asyncio.Event

    @dataclass
    class Loaded(Message):
        """What fetch() read, carried from the worker to the screen (a worker never touches
        a widget): part 0 is shown, later parts extend it; complete: the last one."""

        data: Any
        part: int = 0
        complete: bool = True

    @property
    def table(self) -> RecordTable:
        return self.query_one(RecordTable)

    def on_mount(self) -> None:
        self.session.changed.subscribe(self, self._data_changed, immediate=True)
        self.reload()

    def on_screen_resume(self) -> None:
        if self.stale:
            self.reload()

    def _data_changed(self, _: None) -> None:
        self.stale = True
        if self.is_current:
            self.changed_in_view()

    def changed_in_view(self) -> None:
        """The data may have changed while this screen is in view: by default read it again."""
        self.reload()

    def reload(self) -> None:
        store = self.session.store
        if store is None:
            if self.session.open_error:
                self.table.set_failed(self.session.open_error)
            return  # the app announces the store once it is open
        self.stale = False
        self._load(store)

    @work(exclusive=True, group="load", exit_on_error=False)
    async def _load(self, store: Store) -> None:
        # The first load shows each part as it comes (the first rows long before a million
        # are read); a reload gathers its parts and swaps once, so the view never shrinks.
        progressive = not self.table.loaded
        parts: list[Any] = []  # a reload's parts, until it swaps
        n = 0
        self._painted = asyncio.Event()  # set once the first part is on screen
        async for data in self.fetch_parts(store):
            if progressive:
                self.post_message(self.Loaded(data, n, complete=False))
                if n == 0:
                    # the rest is read once the first rows are painted: the threads that
                    # read and convert it would otherwise hold the GIL the first paint needs
                    # (a million users: the first rows showed with 152,000 of them read)
                    await self._painted.wait()
            else:
                parts.append(data)
            n += 1
        if progressive:
            self.post_message(self.Loaded(None, n, complete=True))
        else:
            self.post_message(self.Loaded(parts[0] if len(parts) == 1 else self.merge(parts)))

    async def fetch(self, store: Store) -> Any:
        """Read this screen's data (in a worker)."""
        raise NotImplementedError

    async def fetch_parts(self, store: Store) -> AsyncIterator[Any]:
        """The data in parts (a screen of many rows overrides it); by default fetch() whole."""
        yield await self.fetch(store)

    def merge(self, parts: list[Any]) -> Any:
        """The parts of fetch_parts as one data (for show)."""
        raise NotImplementedError

    def extend(self, data: Any) -> None:
        """Show a later part of a load."""
        raise NotImplementedError

    def show(self, data: Any) -> None:
        """Show what fetch() read."""
        raise NotImplementedError

    def on_data_screen_loaded(self, message: Loaded) -> None:
        if message.data is None:  # the end of a progressive load
            self.table.set_complete(True)
            heap.settle(len(self.table.records))
        elif message.part == 0:
            self.show(message.data)
            if not message.complete:
                self.table.set_complete(False)
                self.call_after_refresh(self._painted.set)
        else:
            self.extend(message.data)
        self.after_load(message)

    def after_load(self, message: Loaded) -> None:
        """A part of a load, or its end, has been shown (a screen that keeps up with
        changes between full reads re-applies them here)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "load" and event.state == WorkerState.ERROR:
            self.stale = True  # tried again on the next change or visit
            self.table.set_failed()

    @on(RecordTable.Opened)
    def _open(self, event: RecordTable.Opened) -> None:
        self.post_message(self.OPENS(event.key))

    def action_filter(self) -> None:
        self.table.open_filter()

    def action_sort(self) -> None:  # the palette's Sort; s on the table does the same
        self.table.next_sort()

    def action_export(self) -> None:
        t = self.table
        if not t.loaded:
            self.session.notify("nothing loaded yet", severity="warning")
            return
        self.app.push_screen(ExportScreen(f"{t.noun}.csv", t.match_count, blink=self.session.blink),
                             self._export_to)

    def _export_to(self, path: str | None) -> None:
        if path:
            self._write_export(path, self.table.columns, self.table.plain_rows())

    @work(group="export", exit_on_error=False)
    async def _write_export(self, path: str, columns: tuple[str, ...], rows: Iterable[list[str]]) -> None:
        try:
            n = await asyncio.to_thread(write_table, path, columns, rows)
        except FileExistsError:
            self.session.notify(f"{path} exists already: name a new file", severity="warning")
        except (StoreError, OSError) as e:
            self.session.notify(f"not saved: {e}", severity="error")
        else:
            self.session.notify(f"saved {n:,} row(s) to {path}")
