"""Rooms (key 1): id, name, encrypted, owner, epoch, member count. Enter opens a room."""

from __future__ import annotations

from textual.app import ComposeResult

from store import Store

from ..messages import OpenRoom
from ..services import RoomList, load_rooms
from ..widgets.columns import Col
from ..widgets.footer import FittedFooter
from ..widgets.header import AppHeader
from ..widgets.record_table import RecordTable, record
from .base import DataScreen

#: on a narrow screen the owner goes first, then the member count; the name is cut
COLUMNS = (Col("id"), Col("name", 1, shrink=True), Col("encrypted"), Col("owner", 3), Col("epoch"),
           Col("members", 2))


#: a room as the table keeps it: (id, name, encrypted, owner, epoch, member count), a plain
#: tuple the garbage collector stops tracking (100,000 Room objects would stay tracked)
RoomRow = tuple[str, str, bool, str, int, int]


def room_cells(row: RoomRow) -> tuple[str, ...]:
    id, name, encrypted, owner, epoch, count = row
    return (id, name, "yes" if encrypted else "no", owner, str(epoch), str(count))


#: what `s` sorts each column by: the value, not its text (epochs and counts as numbers)
SORT_KEYS = (lambda d: d[0], lambda d: d[1].lower(), lambda d: d[2], lambda d: d[3],
             lambda d: d[4], lambda d: d[5])


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
            [record(r.id, (r.id, r.name, r.encrypted, r.owner, r.epoch, counts.get(r.id, 0)),
                    f"{r.id}\t{r.name}\t{r.owner}".lower())
             for r in data.rooms], invalid=data.invalid)
