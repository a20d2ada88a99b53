"""A user's rooms (enter on a user): each room with the user's role and current-epoch key.
Enter opens the selected room; r and i act on this user."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult

from store import Store
from store.text import iso_time

from ..messages import OpenRoom
from ..services import UserRooms, load_user_rooms
from ..session import Session
from ..widgets.columns import Col
from ..widgets.flow_text import FlowText
from ..widgets.footer import FittedFooter
from ..widgets.header import AppHeader
from ..widgets.record_table import RecordTable, record
from .base import DataScreen

#: on a narrow screen the epoch goes first, then whether the room is encrypted (the current
#: key column says it too); the name is cut
COLUMNS = (Col("room"), Col("name", 1, shrink=True), Col("role"), Col("encrypted", 2), Col("epoch", 3),
           Col("current key"))


class UserRoomsScreen(DataScreen[UserRooms]):
    OPENS = OpenRoom

    def __init__(self, session: Session, key: str) -> None:
        super().__init__(session)
        self.key = key

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield FlowText([f"user {self.key}"], classes="info", id="user-info")
        yield RecordTable("rooms", COLUMNS, id="user-rooms")
        yield FittedFooter(compact=True)

    async def fetch(self, store: Store) -> UserRooms:
        return await load_user_rooms(store, self.key)

    def show(self, data: UserRooms) -> None:
        records = []
        for room, member, key in data.rooms:
            if not room.encrypted:
                current: str | Text = "(unencrypted)"
            elif key is None:
                current = Text("MISSING", style="bold red")
            else:
                current = key.fingerprint
            records.append(record(room.id, (room.id, room.name, member.role if member else "-",
                                            "yes" if room.encrypted else "no", str(room.epoch),
                                            current),
                                  f"{room.id}\t{room.name}".lower()))
        self.table.set_records(records)
        u = data.user
        if u is None:
            info = [f"user {data.key}", "not on the allowlist"]
        else:
            info = [f"user {u.key}", u.name or "(no name)", u.role, u.status, f"added {iso_time(u.added_at)}"]
            if u.revoked_at is not None:
                info.append(f"revoked {iso_time(u.revoked_at)}")
        self.query_one("#user-info", FlowText).update(info)

    def selected_user_key(self) -> str | None:
        return self.key
