"""A room's detail: members (role, user status) and the epoch-by-member grid of key fingerprints.

The grid flags a member without a key at the current epoch and a revoked user that still
holds one. Sealed keys are shown only as fingerprints, never their bytes.
"""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Footer, Header, Static

from store import NotFound, User

from store.text import printable

from ..messages import RoomLoaded
from ..widgets.record_table import Record, RecordTable
from .base import DataScreen

#: epochs shown as columns (the most recent ones), so the grid fits the screen
MAX_EPOCH_COLUMNS = 6
BASE_COLUMNS = ("member", "role", "user", "check")
MISSING = "MISSING current key"
REVOKED_HOLDS = "REVOKED, holds key"


async def _user_or_none(store, key: str) -> User | None:
    try:
        return await store.get_user(key)
    except NotFound:
        return None


class RoomScreen(DataScreen):
    def __init__(self, room_id: str) -> None:
        super().__init__()
        self.room_id = room_id

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"room {self.room_id}", classes="info", id="room-info")
        yield RecordTable("members", BASE_COLUMNS, id="members")
        yield Footer(compact=True)

    @work(exclusive=True, group="load", exit_on_error=False)
    async def load(self) -> None:
        store = self.admin.store
        room = await store.get_room(self.room_id)
        members, keys = await asyncio.gather(store.list_members(self.room_id),
                                             store.list_keys(self.room_id))
        endpoints = sorted({m.endpoint for m in members} | {k.endpoint for k in keys})
        found = await asyncio.gather(*(_user_or_none(store, e) for e in endpoints))
        users = {e: u for e, u in zip(endpoints, found) if u is not None}
        self.post_message(RoomLoaded(room, members, keys, users))

    def on_room_loaded(self, message: RoomLoaded) -> None:
        room = message.room
        first = max(1, room.epoch - MAX_EPOCH_COLUMNS + 1)
        epochs = list(range(first, room.epoch + 1)) if room.encrypted else []
        table = self.query_one(RecordTable)
        table.set_columns(BASE_COLUMNS + tuple(
            f"epoch {e}" + (" (current)" if e == room.epoch else "") for e in epochs))

        fingerprints: dict[tuple[str, int], str] = {
            (k.endpoint, k.epoch): k.fingerprint for k in message.keys}
        roles = {m.endpoint: m.role for m in message.members}
        # members first (by endpoint), then former members that still have keys
        former = sorted({k.endpoint for k in message.keys} - roles.keys())
        missing = revoked_holding = 0
        records = []
        for endpoint in sorted(roles) + former:
            user = message.users.get(endpoint)
            status = user.status if user else "not on allowlist"
            holds = (endpoint, room.epoch) in fingerprints
            check: str | Text = ""
            if room.encrypted and endpoint in roles and not holds:
                check, missing = Text(MISSING, style="bold red"), missing + 1
            elif holds and user is not None and user.status == "revoked":
                check, revoked_holding = Text(REVOKED_HOLDS, style="bold red"), revoked_holding + 1
            elif room.encrypted and endpoint in roles:
                check = "ok"
            cells = [endpoint, roles.get(endpoint, "(former)"),
                     Text(status, style="red") if status != "active" else status, check]
            cells += [fingerprints.get((endpoint, e), "-") for e in epochs]
            records.append(Record(endpoint, tuple(cells), f"{endpoint}\t{status}".lower()))
        table.set_records(records)

        parts = [f"room {room.id}", room.name, f"owner {room.owner}"]
        if room.encrypted:
            parts.append(f"encrypted, epoch {room.epoch}")
            if room.epoch > len(epochs):
                parts.append(f"epochs {first}-{room.epoch} of {room.epoch} shown")
            parts.append(f"missing current key: {missing}, revoked holding: {revoked_holding}")
        else:
            parts.append("unencrypted: no keys")
        self.query_one("#room-info", Static).update(printable("  ·  ".join(parts)))

    @on(RecordTable.Opened)
    def _open(self, event: RecordTable.Opened) -> None:
        from .user_rooms import UserRoomsScreen

        self.app.push_screen(UserRoomsScreen(event.key))

    def selected_user_key(self) -> str | None:
        return self.query_one(RecordTable).selected_key

    def open_filter(self) -> None:
        self.query_one(RecordTable).open_filter()
