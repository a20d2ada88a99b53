"""Users (key 2): the allowlist. Enter shows a user's rooms; r / i / a change it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Footer, Header

from store import InvalidRecord, Store, UserRow
from store.models import REVOKED
from store.text import iso_time

from ..messages import OpenUser
from ..services import load_users
from ..widgets.record_table import DATA, KEY, Record, RecordTable, record
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

    # -- a change while in view: the rows on screen and the count, not a million rows ----
    #: a full read once changes have stopped for this long (rows out of view are behind)
    QUIET = 3.0
    #: and at the latest this long after the last full read while changes keep coming
    CATCH_UP = 30.0
    _full_read_at = 0.0
    _catch_up: Timer | None = None

    @dataclass
    class Patched(Message):
        """The users in view read again (from the patch worker to the screen)."""

        records: list[Record]
        behind: bool  # the count moved or a row in view is gone or broken: read everything

    def reload(self) -> None:
        self._full_read_at = time.monotonic()
        super().reload()

    def changed_in_view(self) -> None:
        store, table = self.session.store, self.table
        if (store is None or not store.counts_users_cheaply or not table.loaded or not table.complete
                or time.monotonic() - self._full_read_at > self.CATCH_UP):
            self.reload()
            return
        self.stale = False
        keys = [r[KEY] for r in table.shown_records if type(r[DATA]) is tuple]  # not the flagged
        self._patch(store, keys, table.held)
        if self._catch_up is not None:
            self._catch_up.stop()
        self._catch_up = self.set_timer(self.QUIET, self._caught_up)

    def _caught_up(self) -> None:
        self._catch_up = None
        if self.is_current:
            self.reload()
        else:
            self.stale = True

    @work(exclusive=True, group="patch", exit_on_error=False)
    async def _patch(self, store: Store, keys: list[str], held: int) -> None:
        count = await store.count_users()
        rows, invalid = await store.user_rows(keys)
        behind = count != held or len(rows) != len(keys) or bool(invalid)
        self.post_message(self.Patched(_records(rows), behind))

    def on_users_screen_patched(self, message: Patched) -> None:
        if message.behind:
            self.reload()
        else:
            self.table.patch(message.records)

    def selected_user_key(self) -> str | None:
        return self.table.selected_key

    def marked_user_keys(self) -> list[str]:
        return sorted(self.table.marked)
