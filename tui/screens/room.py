"""A room's detail: members (role, user status) and the epoch-by-member grid of key fingerprints.

The grid flags a member without a key at the current epoch and a revoked user that still
holds one. Sealed keys are shown only as fingerprints, never their bytes. Enter shows the
selected member's rooms; r and i act on it.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult

from store import Store
from store.models import ACTIVE, REVOKED

from ..messages import OpenUser
from ..services import RoomDetail, load_room
from ..session import Session
from ..widgets.columns import Col
from ..widgets.flow_text import FlowText
from ..widgets.footer import FittedFooter
from ..widgets.header import AppHeader
from ..widgets.record_table import RecordTable, record
from .base import DataScreen

#: epochs shown as columns (the most recent ones), so the grid fits the screen
MAX_EPOCH_COLUMNS = 6
#: on a narrow screen the oldest epochs go first, then the role, then the current epoch
BASE_COLUMNS = (Col("member"), Col("role", 2), Col("user"), Col("check"))
MISSING = "MISSING current key"
REVOKED_HOLDS = "REVOKED, holds key"


class RoomScreen(DataScreen[RoomDetail]):
    OPENS = OpenUser

    def __init__(self, session: Session, room_id: str) -> None:
        super().__init__(session)
        self.room_id = room_id

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield FlowText([f"room {self.room_id}"], classes="info", id="room-info")
        yield RecordTable("members", BASE_COLUMNS, id="members")
        yield FittedFooter(compact=True)

    async def fetch(self, store: Store) -> RoomDetail:
        return await load_room(store, self.room_id)

    def show(self, data: RoomDetail) -> None:
        room = data.room
        first = max(1, room.epoch - MAX_EPOCH_COLUMNS + 1)
        epochs = list(range(first, room.epoch + 1)) if room.encrypted else []
        table = self.table
        table.set_columns(BASE_COLUMNS + tuple(
            Col(f"epoch {e} (current)", 1) if e == room.epoch else Col(f"epoch {e}", 3 + room.epoch - e)
            for e in epochs))

        fingerprints: dict[tuple[str, int], str] = {
            (k.endpoint, k.epoch): k.fingerprint for k in data.keys}
        roles = {m.endpoint: m.role for m in data.members}
        # members first (by endpoint), then former members that still have keys
        former = sorted({k.endpoint for k in data.keys} - roles.keys())
        missing = revoked_holding = 0
        records = []
        for endpoint in sorted(roles) + former:
            user = data.users.get(endpoint)
            status = user.status if user else "not on allowlist"
            holds = (endpoint, room.epoch) in fingerprints
            check: str | Text = ""
            if room.encrypted and endpoint in roles and not holds:
                check, missing = Text(MISSING, style="bold red"), missing + 1
            elif holds and user is not None and user.status == REVOKED:
                check, revoked_holding = Text(REVOKED_HOLDS, style="bold red"), revoked_holding + 1
            elif room.encrypted and endpoint in roles:
                check = "ok"
            cells = [endpoint, roles.get(endpoint, "(former)"),
                     Text(status, style="red") if status != ACTIVE else status, check]
            cells += [fingerprints.get((endpoint, e), "-") for e in epochs]
            records.append(record(endpoint, tuple(cells), f"{endpoint}\t{status}".lower()))
        table.set_records(records)

        parts = [f"room {room.id}", room.name, f"owner {room.owner}"]
        if room.encrypted:
            parts.append(f"encrypted, epoch {room.epoch}")
            if room.epoch > len(epochs):
                parts.append(f"epochs {first}-{room.epoch} of {room.epoch} shown")
            parts.append(f"missing current key: {missing}, revoked holding: {revoked_holding}")
        else:
            parts.append("unencrypted: no keys")
        self.query_one("#room-info", FlowText).update(parts)

    def selected_user_key(self) -> str | None:
        return self.table.selected_key
