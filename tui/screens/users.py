"""Users (key 2): the allowlist. Enter shows a user's rooms; r / i / a change it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult

from store import InvalidRecord, Store, User
from store.models import REVOKED
from store.text import iso_time

from ..messages import OpenUser
from ..services import load_users
from ..widgets.columns import Col
from ..widgets.footer import FittedFooter
from ..widgets.header import AppHeader
from ..widgets.record_table import Record, RecordTable
from .base import DataScreen

#: on a narrow screen the times go first (added before revoked); the name is cut
COLUMNS = (Col("key"), Col("name", 1, shrink=True), Col("role"), Col("status"), Col("added", 3),
           Col("revoked", 2))


def user_cells(u: User) -> tuple:
    status = Text(u.status, style="bold red") if u.status == REVOKED else u.status
    return (u.key, u.name, u.role, status, iso_time(u.added_at), iso_time(u.revoked_at))


#: what `s` sorts each column by: the value, not its text (times as numbers)
SORT_KEYS = (lambda u: u.key, lambda u: u.name.lower(), lambda u: u.role, lambda u: u.status,
             lambda u: u.added_at, lambda u: u.revoked_at or 0)


def user_record(u: User) -> Record:
    return Record(u.key, u, f"{u.key}\t{u.name}\t{u.role}\t{u.status}".lower())


def _records(users: list[User]) -> list[Record]:
    return [user_record(u) for u in users]


@dataclass(frozen=True)
class UserRows:
    """Users as the table's records (made off the UI thread), and the invalid stored ones."""

    records: list[Record]
    invalid: list[InvalidRecord]


class UsersScreen(DataScreen):
    OPENS = OpenUser

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield RecordTable("users", COLUMNS, cells=user_cells, sort_keys=SORT_KEYS, id="users")
        yield FittedFooter(compact=True)

    async def fetch_parts(self, store: Store) -> AsyncIterator[UserRows]:
        async for users, invalid in store.iter_users():
            # a hundred thousand rows are made in a thread: the UI keeps answering meanwhile
            records = await asyncio.to_thread(_records, users)
            yield UserRows(records, invalid)

    def merge(self, parts: list[UserRows]) -> UserRows:
        return UserRows([r for p in parts for r in p.records], [r for p in parts for r in p.invalid])

    async def fetch(self, store: Store) -> UserRows:
        data = await load_users(store)
        return UserRows([user_record(u) for u in data.users], data.invalid)

    def show(self, data: UserRows) -> None:
        self.table.set_records(data.records, invalid=data.invalid)

    def extend(self, data: UserRows) -> None:
        self.table.add_records(data.records, invalid=data.invalid)

    def selected_user_key(self) -> str | None:
        return self.table.selected_key

    def marked_user_keys(self) -> list[str]:
        return sorted(self.table.marked)
