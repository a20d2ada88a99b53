"""Rooms (key 1): id, name, encrypted, owner, epoch, member count. Enter opens a room."""

from __future__ import annotations

from textual.app import ComposeResult

from store import Room, Store

from ..messages import OpenRoom
from ..services import RoomList, load_rooms
from ..widgets.columns import Col
from ..widgets.footer import FittedFooter
from ..widgets.header import AppHeader
from ..widgets.record_table import Record, RecordTable
from .base import DataScreen

#: on a narrow screen the owner goes first, then the member count; the name is cut
COLUMNS = (Col("id"), Col("name", 1, shrink=True), Col("encrypted"), Col("owner", 3), Col("epoch"),
           Col("members", 2))


def room_cells(data: tuple[Room, int]) -> tuple[str, ...]:
    r, count = data
    return (r.id, r.name, "yes" if r.encrypted else "no", r.owner, str(r.epoch), str(count))


#: what `s` sorts each column by: the value, not its text (epochs and counts as numbers)
SORT_KEYS = (lambda d: d[0].id, lambda d: d[0].name.lower(), lambda d: d[0].encrypted, lambda d: d[0].owner,
             lambda d: d[0].epoch, lambda d: d[1])


class RoomsScreen(DataScreen):
    OPENS = OpenRoom

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield RecordTable("rooms", COLUMNS, cells=room_cells, sort_keys=SORT_KEYS, id="rooms")
        yield FittedFooter(compact=True)

    async def fetch(self, store: Store) -> RoomList:
        return await load_rooms(store)

    def show(self, data: RoomList) -> None:
        counts = data.member_counts
        self.table.set_records(
            [Record(r.id, (r, counts.get(r.id, 0)), f"{r.id}\t{r.name}\t{r.owner}".lower())
             for r in data.rooms], invalid=data.invalid)
