"""A user's rooms (enter on a user): each room with the user's role and current-epoch key."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Footer, Header, Static

from store import Member, NotFound, Room, SealedKey, User

from store.text import printable

from ..messages import UserRoomsLoaded
from ..widgets.record_table import Record, RecordTable
from .base import DataScreen, iso_date

COLUMNS = ("room", "name", "role", "encrypted", "epoch", "current key")


async def room_with_key(store, room_id: str, endpoint: str
                        ) -> tuple[Room, Member | None, SealedKey | None] | None:
    """The room, the endpoint's membership and its key at the current epoch (None if gone)."""
    try:
        room = await store.get_room(room_id)
    except NotFound:
        return None  # deleted meanwhile
    members = await store.list_members(room_id)
    member = next((m for m in members if m.endpoint == endpoint), None)
    key = None
    if room.encrypted:
        try:
            key = await store.get_key(room_id, endpoint)
        except NotFound:
            pass
    return room, member, key


async def load_user_rooms(store, key: str) -> UserRoomsLoaded:
    try:
        user: User | None = await store.get_user(key)
    except NotFound:
        user = None
    room_ids = await store.rooms_of_member(key)
    rows = await asyncio.gather(*(room_with_key(store, r, key) for r in room_ids))
    return UserRoomsLoaded(key, user, [r for r in rows if r is not None])


class UserRoomsScreen(DataScreen):
    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"user {self.key}", classes="info", id="user-info")
        yield RecordTable("rooms", COLUMNS, id="user-rooms")
        yield Footer(compact=True)

    @work(exclusive=True, group="load", exit_on_error=False)
    async def load(self) -> None:
        self.post_message(await load_user_rooms(self.admin.store, self.key))

    def on_user_rooms_loaded(self, message: UserRoomsLoaded) -> None:
        records = []
        for room, member, key in message.rooms:
            if not room.encrypted:
                current: str | Text = "(unencrypted)"
            elif key is None:
                current = Text("MISSING", style="bold red")
            else:
                current = key.fingerprint
            records.append(Record(room.id, (room.id, room.name, member.role if member else "-",
                                            "yes" if room.encrypted else "no", str(room.epoch),
                                            current),
                                  f"{room.id}\t{room.name}".lower()))
        self.query_one(RecordTable).set_records(records)
        u = message.user
        if u is None:
            info = f"user {message.key}  ·  not on the allowlist"
        else:
            info = f"user {u.key}  ·  {u.name or '(no name)'}  ·  {u.role}  ·  {u.status}"
            info += f"  ·  added {iso_date(u.added_at)}"
            if u.revoked_at is not None:
                info += f"  ·  revoked {iso_date(u.revoked_at)}"
        self.query_one("#user-info", Static).update(printable(info))

    @on(RecordTable.Opened)
    def _open(self, event: RecordTable.Opened) -> None:
        from .room import RoomScreen

        self.app.push_screen(RoomScreen(event.key))

    def selected_user_key(self) -> str | None:
        return self.key

    def open_filter(self) -> None:
        self.query_one(RecordTable).open_filter()
