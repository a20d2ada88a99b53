"""A screen of store data (DataScreen): loaded when first shown, and again when the data
changed. The keys every full screen shares are AdminScreen's (admin.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from textual import on, work
from textual.message import Message
from textual.worker import Worker, WorkerState

from store import Store

from .. import heap
from ..messages import OpenRoom, OpenUser
from ..widgets.record_table import RecordTable
from .admin import AdminScreen
from .export import ExportScreen, save_table

__all__ = ["AdminScreen", "DataScreen"]

#: what a screen's fetch reads and its show shows; D: the same, carried by Loaded
T = TypeVar("T")
D = TypeVar("D")


class DataScreen(AdminScreen, Generic[T]):
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
    class Loaded(Message, Generic[D]):
        """What fetch() read, carried from the worker to the screen (a worker never touches
        a widget): part 0 is shown, later parts extend it; complete: the last one. data
        None: the end of a load shown part by part."""

        data: D | None
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
                self.table.failed = self.session.open_error
            return  # the app announces the store once it is open
        self.stale = False
        self._load(store)

    @work(exclusive=True, group="load", exit_on_error=False)
    async def _load(self, store: Store) -> None:
        # The first load shows each part as it comes (the first rows long before a million
        # are read); a reload gathers its parts and swaps once, so the view never shrinks.
        progressive = not self.table.loaded
        parts: list[T] = []  # a reload's parts, until it swaps
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

    async def fetch(self, store: Store) -> T:
        """Read this screen's data (in a worker)."""
        raise NotImplementedError

    async def fetch_parts(self, store: Store) -> AsyncIterator[T]:
        """The data in parts (a screen of many rows overrides it); by default fetch() whole."""
        yield await self.fetch(store)

    def merge(self, parts: list[T]) -> T:
        """The parts of fetch_parts as one data (for show)."""
        raise NotImplementedError

    def extend(self, data: T) -> None:
        """Show a later part of a load."""
        raise NotImplementedError

    def show(self, data: T) -> None:
        """Show what fetch() read."""
        raise NotImplementedError

    def on_data_screen_loaded(self, message: Loaded[T]) -> None:
        if message.data is None:  # the end of a progressive load
            self.table.loading_more = False
            heap.settle(len(self.table.records))
        elif message.part == 0:
            self.show(message.data)
            if not message.complete:
                self.table.loading_more = True
                self.call_after_refresh(self._painted.set)
        else:
            self.extend(message.data)
        self.after_load(message)

    def after_load(self, message: Loaded[T]) -> None:
        """A part of a load, or its end, has been shown (a screen that keeps up with
        changes between full reads re-applies them here)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "load" and event.state == WorkerState.ERROR:
            self.stale = True  # tried again on the next change or visit
            self.table.failed = ""

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
        notice, severity = await save_table(path, columns, rows)
        self.session.notify(notice, severity=severity)
