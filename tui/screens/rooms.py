"""Rooms (key 1): id, name, encrypted, owner, epoch, member count. Enter opens a room."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from textual.app import ComposeResult

from store import InvalidRecord, Room, Store

from ..messages import OpenRoom
from ..widgets.columns import Col
from ..widgets.footer import FittedFooter
from ..widgets.header import AppHeader
from ..widgets.record_table import Chunk, RecordTable
from .base import DataScreen

#: on a narrow screen the owner goes first, then the member count; the name is cut
COLUMNS = (Col("id"), Col("name", 1, shrink=True), Col("encrypted"), Col("owner", 3), Col("epoch"),
           Col("members", 2))


#: a room as the table keeps it: (id, name, encrypted, owner, epoch, member count), a plain
#: tuple the garbage collector stops tracking (100,000 Room objects would stay tracked); the
#: count None while the counts are still being read
RoomRow = tuple[str, str, bool, str, int, "int | None"]
COUNT = 5


def room_cells(row: RoomRow) -> tuple[str, ...]:
    id, name, encrypted, owner, epoch, count = row
    return (id, name, "yes" if encrypted else "no", owner, str(epoch), "…" if count is None else str(count))


#: what `s` sorts each column by: the value, not its text (epochs and counts as numbers)
SORT_KEYS = (lambda d: d[0], lambda d: d[1].lower(), lambda d: d[2], lambda d: d[3],
             lambda d: d[4], lambda d: -1 if d[5] is None else d[5])


def _packed(rooms: list[Room]) -> Chunk:
    """The rooms as rows, packed, their member counts not read yet."""
    return Chunk([r.id for r in rooms], [(r.id, r.name, r.encrypted, r.owner, r.epoch, None) for r in rooms],
                 [f"{r.id}\t{r.name}\t{r.owner}".lower() for r in rooms])


def _counted(rooms: Chunk, counts: dict[str, int]) -> Chunk:
    """The same rooms with their member counts (the Room objects are let go meanwhile)."""
    return rooms.replaced(COUNT, [counts.get(key, 0) for key in rooms.keys])


@dataclass(frozen=True)
class RoomRows:
    """Rooms as the table's records, packed (off the UI thread), and the invalid stored ones."""

    rooms: Chunk
    invalid: list[InvalidRecord]


class RoomsScreen(DataScreen[RoomRows]):
    OPENS = OpenRoom

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield RecordTable("rooms", COLUMNS, cells=room_cells, sort_keys=SORT_KEYS, id="rooms")
        yield FittedFooter(compact=True)

    async def fetch_parts(self, store: Store) -> AsyncIterator[RoomRows]:
        """The rooms at once, then again with their member counts (counting a million
        members takes most of a second: the rooms need not wait for it)."""
        invalid: list[InvalidRecord] = []
        first = await asyncio.to_thread(_packed, await store.list_rooms(invalid=invalid))
        yield RoomRows(first, invalid)
        counts = await store.member_counts()
        yield RoomRows(await asyncio.to_thread(_counted, first, counts), invalid)

    def merge(self, parts: list[RoomRows]) -> RoomRows:
        return parts[-1]  # the rooms with their counts

    def show(self, data: RoomRows) -> None:
        self.table.set_chunks([data.rooms], invalid=data.invalid)

    def extend(self, data: RoomRows) -> None:
        self.show(data)  # the same rooms, now counted
