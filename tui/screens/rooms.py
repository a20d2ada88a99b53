"""Rooms (key 1): id, name, encrypted, owner, epoch, member count. Enter opens a room."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Footer, Header

from store import Room

from ..messages import RoomsLoaded
from ..widgets.record_table import Record, RecordTable, invalid_record
from .base import DataScreen

COLUMNS = ("id", "name", "encrypted", "owner", "epoch", "members")


def room_cells(data: tuple[Room, int]) -> tuple[str, ...]:
    r, count = data
    return (r.id, r.name, "yes" if r.encrypted else "no", r.owner, str(r.epoch), str(count))


class RoomsScreen(DataScreen):
    def compose(self) -> ComposeResult:
        yield Header()
        yield RecordTable("rooms", COLUMNS, cells=room_cells, id="rooms")
        yield Footer(compact=True)

    @work(exclusive=True, group="load", exit_on_error=False)
    async def load(self) -> None:
        store = self.admin.store
        invalid: list = []
        rooms, counts = await asyncio.gather(store.list_rooms(invalid=invalid), store.member_counts())
        self.post_message(RoomsLoaded(rooms, counts, invalid))

    def on_rooms_loaded(self, message: RoomsLoaded) -> None:
        counts = message.member_counts
        records = [Record(r.id, (r, counts.get(r.id, 0)), f"{r.id}\t{r.name}\t{r.owner}".lower())
                   for r in message.rooms]
        records += [invalid_record(r, len(COLUMNS)) for r in message.invalid]
        note = f"{len(message.invalid):,} invalid stored record(s), flagged" if message.invalid else ""
        self.query_one(RecordTable).set_records(records, note)

    @on(RecordTable.Opened)
    def _open(self, event: RecordTable.Opened) -> None:
        from .room import RoomScreen

        self.app.push_screen(RoomScreen(event.key))

    def open_filter(self) -> None:
        self.query_one(RecordTable).open_filter()
