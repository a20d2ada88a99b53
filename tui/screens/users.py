"""Users (key 2): the allowlist. Enter shows a user's rooms; r / i / a change it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.message import Message
from textual.timer import Timer

from store import InvalidRecord, Store, StoreError, UserChanges, UserRow
from store.models import REVOKED
from store.text import iso_time

from ..messages import OpenUser
from ..services import load_users
from ..session import Session
from ..widgets.columns import Col
from ..widgets.footer import FittedFooter
from ..widgets.header import AppHeader
from ..widgets.record_table import DATA, KEY, Chunk, Record, RecordTable, record
from .base import DataScreen

#: on a narrow screen the times go first (added before revoked); the name is cut
COLUMNS = (Col("key", middle=True), Col("name", 1, shrink=True), Col("role"), Col("status"), Col("added", 3),
           Col("revoked", 2))


def user_cells(u: UserRow) -> tuple:
    key, name, role, status, added, revoked = u
    shown = Text(status, style="bold red") if status == REVOKED else status
    return (key, name, role, shown, iso_time(added), iso_time(revoked))


#: what `s` sorts each column by: the value, not its text (times as numbers)
SORT_KEYS = (lambda u: u[0], lambda u: u[1].lower(), lambda u: u[2], lambda u: u[3],
             lambda u: u[4], lambda u: u[5] or 0)


def _search(row: UserRow) -> str:
    """What the filter searches: the key first (the table keeps it once), name, role, status."""
    key, name, role, status, _, _ = row
    return f"{key}\t{name}\t{role}\t{status}".lower()


def user_record(row: UserRow) -> Record:
    """The table's row of a user: the UserRow itself is the data."""
    return record(row[0], row, _search(row))


def _records(rows: list[UserRow]) -> list[Record]:
    return [user_record(r) for r in rows]


def _packed(rows: list[UserRow]) -> Chunk:
    return Chunk(list(map(itemgetter(0), rows)), rows, list(map(_search, rows)))


@dataclass(frozen=True)
class UserRows:
    """Users as the table's records, packed (off the UI thread), and the invalid stored ones."""

    chunks: list[Chunk]
    invalid: list[InvalidRecord]
    preview: bool = False  # users to show until the whole list replaces them (Store.preview_users)


async def _pages(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    yield first
    async for page in rest:
        yield page


class UsersScreen(DataScreen):
    OPENS = OpenUser
    #: users shown at once on a first load from a backend that reads every user first (KV)
    PREVIEW = 2000
    _preview = False  # the table shows a preview: the next part replaces it

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield RecordTable("users", COLUMNS, cells=user_cells, sort_keys=SORT_KEYS, id="users")
        yield FittedFooter(compact=True)

    async def fetch_parts(self, store: Store) -> AsyncIterator[UserRows]:
        """The first page at once, then the store's pages grouped into parts that double in
        size (each part re-filters the view: few parts for a million users). The records
        are made and packed from each page as it comes, in a thread (the UI keeps answering
        meanwhile): no part is ever held as a list of records. On a first load from a
        backend whose first part is the whole list (KV), a preview comes first."""
        pages = store.iter_user_rows()
        ahead = asyncio.ensure_future(anext(pages))  # the whole read begins now
        try:
            if not self.table.loaded:  # a reload keeps showing what it has meanwhile
                try:
                    preview = await store.preview_users(self.PREVIEW)
                except StoreError:
                    preview = None  # the whole read says what is wrong
                if preview and not ahead.done():
                    yield UserRows([await asyncio.to_thread(_packed, preview)], [], preview=True)
            first = await ahead
        except StopAsyncIteration:
            return
        finally:
            ahead.cancel()  # when this load was cancelled (done already: no effect)
        group, held, size = UserRows([], []), 0, 0
        async for rows, invalid in _pages(first, pages):
            group.chunks.append(await asyncio.to_thread(_packed, rows))
            group.invalid.extend(invalid)
            held += len(rows)
            if held >= size:
                yield group
                group, held, size = UserRows([], []), 0, max(50_000, 2 * size)
        if group.chunks or group.invalid:
            yield group

    def merge(self, parts: list[UserRows]) -> UserRows:
        parts = [p for p in parts if not p.preview]
        return UserRows([c for p in parts for c in p.chunks], [r for p in parts for r in p.invalid])

    async def fetch(self, store: Store) -> UserRows:
        data = await load_users(store)
        return UserRows([_packed([u.row for u in data.users])], data.invalid)

    def show(self, data: UserRows) -> None:
        self.table.set_chunks(data.chunks, invalid=data.invalid)
        self._preview = data.preview

    def extend(self, data: UserRows) -> None:
        if self._preview:  # the first part of the whole list replaces the preview
            self.show(data)
        else:
            self.table.add_chunks(data.chunks, invalid=data.invalid)

    # -- keeping current: the changed rows, not a million rows read again ----------------
    # KV: a watch on the users bucket brings each change (Store.watch_users), shown at once.
    # SQLite: a change re-reads the rows on screen and the count (Store.user_rows,
    # count_users). Either way a new or deleted user, or a broken record, is a full read,
    # and so is a quiet moment after changes (QUIET) or a long run of them (CATCH_UP): a
    # patched row is shown where it was, and only a full read re-sorts and re-filters.
    #: a full read once changes have stopped for this long
    QUIET = 3.0
    #: and at the latest this long after the last full read while changes keep coming
    CATCH_UP = 30.0
    _full_read_at = 0.0
    _catch_up: Timer | None = None
    _following = False  # a watch worker runs
    _watch_on = False  # the watch has begun: every change from then on comes to this screen
    _follow_again_at = 0.0  # after a watch ended, following is tried again from then on
    _again = False  # a full read is wanted once the running one ends

    @dataclass
    class Patched(Message):
        """Users read again or written (from a worker to the screen)."""

        records: list[Record]
        behind: bool  # a user came or went, or broke the rules: read everything

    @dataclass
    class Followed(Message):
        """A batch of the watch's changes (its first, empty, says it has begun), or None:
        the watch has ended."""

        changes: UserChanges | None

    def __init__(self, session: Session, **kw: Any) -> None:
        super().__init__(session, **kw)
        self._since_load: dict[str, Record] = {}  # rows written since the last load began

    def _loading(self) -> bool:
        return any(w.group == "load" and w.node is self and not w.is_finished for w in self.workers)

    def reload(self) -> None:
        store = self.session.store
        if (store is not None and store.watches_users and not self._following
                and time.monotonic() >= self._follow_again_at):
            self._following, self._watch_on = True, False
            self._follow(store)
            return  # the full read begins once the watch has: no change falls between
        if self._loading() and self.table.loaded:
            self._again = True  # once this one ends (restarting it would never end, at 50/s)
            return
        self._full_read_at = time.monotonic()
        self._since_load = {}
        super().reload()

    def after_load(self, message: DataScreen.Loaded) -> None:
        if self._since_load:  # written while this load read: the newer of the two is the change
            self.table.patch(list(self._since_load.values()), anywhere=True)
        if (message.data is None or message.complete) and self._again:
            self._again = False
            self.reload()

    def changed_in_view(self) -> None:
        store, table = self.session.store, self.table
        overdue = time.monotonic() - self._full_read_at > self.CATCH_UP
        if self._watch_on and not overdue:
            self.stale = False  # the watch brings the users' changes
            return
        if (store is None or not store.counts_users_cheaply or not table.loaded or not table.complete
                or overdue):
            self.reload()
            return
        self.stale = False
        keys = [r[KEY] for r in table.shown_records if type(r[DATA]) is tuple]  # not the flagged
        self._patch(store, keys, table.held)
        self._catch_up_when_quiet()

    def _catch_up_when_quiet(self) -> None:
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

    @work(exclusive=True, group="follow", exit_on_error=False)
    async def _follow(self, store: Store) -> None:
        try:
            async for changes in store.watch_users():
                self.post_message(self.Followed(changes))
        except StoreError:
            pass  # the marker poll and full reads instead, until following works again
        finally:
            self.post_message(self.Followed(None))

    def on_users_screen_followed(self, message: Followed) -> None:
        changes = message.changes
        if changes is None:  # the watch ended
            self._following = self._watch_on = False
            self._follow_again_at = time.monotonic() + self.CATCH_UP
            self.reload()
        elif not self._watch_on:  # its first batch, empty: it has begun; now the full read
            self._watch_on = True
            self.reload()
        else:
            records = _records(changes.rows)
            self._since_load.update((r[KEY], r) for r in records)
            if changes.deleted or changes.invalid or not all(self.table.holds(r[KEY]) for r in records):
                self.reload()
            else:
                self.table.patch(records, anywhere=True)
            self._catch_up_when_quiet()

    def selected_user_key(self) -> str | None:
        return self.table.selected_key

    def marked_user_keys(self) -> list[str]:
        return sorted(self.table.marked)
