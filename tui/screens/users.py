"""Users (key 2): the allowlist. Enter shows a user's rooms; r / i / a change it."""

from __future__ import annotations

from collections.abc import AsyncIterator

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Footer, Header

from store import Store, User
from store.models import REVOKED
from store.text import iso_time

from ..messages import OpenUser
from ..services import UserList, load_users
from ..widgets.record_table import Record, RecordTable
from .base import DataScreen

COLUMNS = ("key", "name", "role", "status", "added", "revoked")


def user_cells(u: User) -> tuple:
    status = Text(u.status, style="bold red") if u.status == REVOKED else u.status
    return (u.key, u.name, u.role, status, iso_time(u.added_at), iso_time(u.revoked_at))


#: what `s` sorts each column by: the value, not its text (times as numbers)
SORT_KEYS = (lambda u: u.key, lambda u: u.name.lower(), lambda u: u.role, lambda u: u.status,
             lambda u: u.added_at, lambda u: u.revoked_at or 0)


def user_record(u: User) -> Record:
    return Record(u.key, u, f"{u.key}\t{u.name}\t{u.role}\t{u.status}".lower())


class UsersScreen(DataScreen):
    OPENS = OpenUser

    def compose(self) -> ComposeResult:
        yield Header()
        yield RecordTable("users", COLUMNS, cells=user_cells, sort_keys=SORT_KEYS, id="users")
        yield Footer(compact=True)

    async def fetch(self, store: Store) -> UserList:
        return await load_users(store)

    async def fetch_parts(self, store: Store) -> AsyncIterator[UserList]:
        async for users, invalid in store.iter_users():
            yield UserList(users, invalid)

    def merge(self, parts: list[UserList]) -> UserList:
        return UserList([u for p in parts for u in p.users], [r for p in parts for r in p.invalid])

    def show(self, data: UserList) -> None:
        self.table.set_records([user_record(u) for u in data.users], invalid=data.invalid)

    def extend(self, data: UserList) -> None:
        self.table.add_records([user_record(u) for u in data.users], invalid=data.invalid)

    def selected_user_key(self) -> str | None:
        return self.table.selected_key

    def marked_user_keys(self) -> list[str]:
        return sorted(self.table.marked)
