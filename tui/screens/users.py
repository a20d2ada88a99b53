"""Users (key 2): the allowlist. Enter shows a user's rooms; r / i / a change it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.message import Message

from store import Store, StoreError, UserChanges, UserRow
from store.models import REVOKED
from store.text import iso_time

from ..messages import OpenUser
from ..session import Session
from ..widgets.columns import Col
from ..widgets.footer import FittedFooter
from ..widgets.header import AppHeader
from ..widgets.record_table import DATA, KEY, Record, RecordTable, record
from .base import DataScreen
from .user_parts import UserRows, user_parts, user_search
from .users_feed import Do, UsersFeed, Watch

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


def user_record(row: UserRow) -> Record:
    """The table's row of a user: the UserRow itself is the data."""
    return record(row[0], row, user_search(row))


def _records(rows: list[UserRow]) -> list[Record]:
    return [user_record(r) for r in rows]


class UsersScreen(DataScreen[UserRows]):
    OPENS = OpenUser
    #: users shown at once on a first load from a backend that reads every user first (KV)
    PREVIEW = 2000
    #: a full read once changes have stopped for this long (users_feed)
    QUIET = 3.0

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield RecordTable("users", COLUMNS, cells=user_cells, sort_keys=SORT_KEYS, id="users")
        yield FittedFooter(compact=True)

    def fetch_parts(self, store: Store) -> AsyncIterator[UserRows]:
        # a reload keeps showing what it has meanwhile: no preview
        return user_parts(store, 0 if self.table.loaded else self.PREVIEW)

    def merge(self, parts: list[UserRows]) -> UserRows:
        return UserRows.merged(parts)

    def show(self, data: UserRows) -> None:
        self.table.set_chunks(data.chunks, invalid=data.invalid)
        self.feed.preview = data.preview

    def extend(self, data: UserRows) -> None:
        if self.feed.preview:  # the first part of the whole list replaces the preview
            self.show(data)
        else:
            self.table.add_chunks(data.chunks, invalid=data.invalid)

    # -- keeping current: the changed rows, not a million rows read again (users_feed) -----
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
        self.feed = UsersFeed()

    def on_mount(self) -> None:  # then DataScreen's (Textual runs each class's on_mount)
        # a full read once changes have stopped for QUIET: made anew by each change
        self._quiet = self.set_timer(self.QUIET, self._caught_up, pause=True)

    def reload(self) -> None:
        store = self.session.store
        reading = any(w.group == "load" and w.node is self and not w.is_finished for w in self.workers)
        do = self.feed.full_read(can_watch=store is not None and store.watches_users, reading=reading,
                                 loaded=self.table.loaded)
        if do is Do.FOLLOW:
            assert store is not None
            self._follow(store)  # the full read begins once the watch has: no change falls between
        elif do is Do.READ:
            super().reload()

    def after_load(self, message: DataScreen.Loaded[UserRows]) -> None:
        if self.feed.since_read:  # written while this load read: the newer of the two is the change
            self.table.patch(list(self.feed.since_read.values()), anywhere=True)
        if (message.data is None or message.complete) and self.feed.read_ended():
            self.reload()

    def changed_in_view(self) -> None:
        store, table = self.session.store, self.table
        can_patch = store is not None and store.counts_users_cheaply and table.loaded and table.complete
        do = self.feed.changed(can_patch=can_patch)
        if do is Do.READ:
            self.reload()
            return
        self.stale = False  # the watch brings the change, or the patch reads it
        if do is Do.PATCH:
            assert store is not None
            keys = [r[KEY] for r in table.shown_records if type(r[DATA]) is tuple]  # not the flagged
            self._patch(store, keys, table.held)
            self._restart_quiet()

    def _restart_quiet(self) -> None:
        self._quiet.stop()
        self._quiet = self.set_timer(self.QUIET, self._caught_up)

    def _caught_up(self) -> None:
        if self.feed.quiet():  # else a full read began since the last change
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
        changes, feed = message.changes, self.feed
        if changes is None:
            do = feed.watch_ended()
        elif feed.watch is not Watch.ON:  # its first batch, empty: it has begun
            do = feed.watch_began()
        else:
            records = _records(changes.rows)
            behind = bool(changes.deleted or changes.invalid) or not all(self.table.holds(r[KEY]) for r in records)
            do = feed.watched(records, behind=behind)
            if do is Do.PATCH:
                self.table.patch(records, anywhere=True)
            self._restart_quiet()
        if do is Do.READ:
            self.reload()

    def selected_user_key(self) -> str | None:
        return self.table.selected_key

    def marked_user_keys(self) -> list[str]:
        return sorted(self.table.marked)
