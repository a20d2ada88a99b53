"""Users (key 2): the allowlist. Enter shows a user's rooms; r / i / a change it."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Footer, Header

from store import User

from ..messages import UsersLoaded
from ..widgets.record_table import Record, RecordTable, invalid_record
from .base import DataScreen, iso_date

COLUMNS = ("key", "name", "role", "status", "added", "revoked")


def user_cells(u: User) -> tuple:
    status = Text(u.status, style="bold red") if u.status == "revoked" else u.status
    return (u.key, u.name, u.role, status, iso_date(u.added_at), iso_date(u.revoked_at))


def user_record(u: User) -> Record:
    return Record(u.key, u, f"{u.key}\t{u.name}\t{u.role}\t{u.status}".lower())


class UsersScreen(DataScreen):
    def compose(self) -> ComposeResult:
        yield Header()
        yield RecordTable("users", COLUMNS, cells=user_cells, id="users")
        yield Footer(compact=True)

    @work(exclusive=True, group="load", exit_on_error=False)
    async def load(self) -> None:
        invalid: list = []
        users = await self.admin.store.list_users(invalid=invalid)
        self.post_message(UsersLoaded(users, invalid))

    def on_users_loaded(self, message: UsersLoaded) -> None:
        records = [user_record(u) for u in message.users]
        records += [invalid_record(r, len(COLUMNS)) for r in message.invalid]
        note = f"{len(message.invalid):,} invalid stored record(s), flagged" if message.invalid else ""
        self.query_one(RecordTable).set_records(records, note)

    @on(RecordTable.Opened)
    def _open(self, event: RecordTable.Opened) -> None:
        from .user_rooms import UserRoomsScreen

        self.app.push_screen(UserRoomsScreen(event.key))

    def selected_user_key(self) -> str | None:
        return self.query_one(RecordTable).selected_key

    def open_filter(self) -> None:
        self.query_one(RecordTable).open_filter()
