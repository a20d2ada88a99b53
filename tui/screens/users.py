"""Users (key 2): the allowlist. Enter shows a user's rooms; r / i / a change it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Footer, Header

from store import InvalidRecord, Store, UserRow
from store.models import REVOKED
from store.text import iso_time

from ..messages import OpenUser
from ..services import load_users
from ..widgets.record_table import Record, RecordTable, record
from .base import DataScreen

COLUMNS = ("key", "name", "role", "status", "added", "revoked")


def user_cells(u: UserRow) -> tuple:
    key, name, role, status, added, revoked = u
    shown = Text(status, style="bold red") if status == REVOKED else status
    return (key, name, role, shown, iso_time(added), iso_time(revoked))


#: what `s` sorts each column by: the value, not its text (times as numbers)
SORT_KEYS = (lambda u: u[0], lambda u: u[1].lower(), lambda u: u[2], lambda u: u[3],
             lambda u: u[4], lambda u: u[5] or 0)


def user_record(row: UserRow) -> Record:
    """The table's row of a user: the UserRow itself is the data (a tuple the garbage
    collector stops tracking)."""
    key, name, role, status, _, _ = row
    return record(key, row, f"{key}\t{name}\t{role}\t{status}".lower())


def _records(rows: list[UserRow]) -> list[Record]:
    return [user_record(r) for r in rows]


@dataclass(frozen=True)
class UserRows:
    """Users as the table's records (made off the UI thread), and the invalid stored ones."""

    records: list[Record]
    invalid: list[InvalidRecord]


class UsersScreen(DataScreen):
    OPENS = OpenUser

    def compose(self) -> ComposeResult:
        yield Header()
        yield RecordTable("users", COLUMNS, cells=user_cells, sort_keys=SORT_KEYS, id="users")
        yield Footer(compact=True)

    async def fetch_parts(self, store: Store) -> AsyncIterator[UserRows]:
        """The first page at once, then the store's pages grouped into parts that double in
        size (each part re-filters the view: few parts for a million users). The rows are
        made from each page as it comes, in a thread (the UI keeps answering meanwhile), so
        the store's User objects are let go page by page."""
        group, size = UserRows([], []), 0
        async for rows, invalid in store.iter_user_rows():
            group.records.extend(await asyncio.to_thread(_records, rows))
            group.invalid.extend(invalid)
            if len(group.records) >= size:
                yield group
                group, size = UserRows([], []), max(50_000, 2 * size)
        if group.records or group.invalid:
            yield group

    def merge(self, parts: list[UserRows]) -> UserRows:
        return UserRows([r for p in parts for r in p.records], [r for p in parts for r in p.invalid])

    async def fetch(self, store: Store) -> UserRows:
        data = await load_users(store)
        return UserRows([user_record(u.row) for u in data.users], data.invalid)

    def show(self, data: UserRows) -> None:
        self.table.set_records(data.records, invalid=data.invalid)

    def extend(self, data: UserRows) -> None:
        self.table.add_records(data.records, invalid=data.invalid)

    def selected_user_key(self) -> str | None:
        return self.table.selected_key

    def marked_user_keys(self) -> list[str]:
        return sorted(self.table.marked)
