"""How the users view keeps current without reading a million users on every change: a
small state machine, with no terminal in it (tests/tui/test_users_feed.py).

KV: a watch on the users bucket brings each change (Store.watch_users), shown at once.
SQLite: a change re-reads the rows on screen and the count (Store.user_rows, count_users).
Either way a new or deleted user, or a broken record, is a full read, and so is a quiet
moment after changes (the screen's QUIET) or a long run of them (CATCH_UP): a patched row is shown where
it was, and only a full read re-sorts and re-filters.

The screen asks the feed what to do (a Do) when a full read is wanted, when the data
changed, when the watch says something and when a read ends; it does it (workers, timers,
the table), and tells the feed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from enum import Enum

from ..widgets.packed_rows import KEY, Record

#: at the latest this long after the last full read while changes keep coming; also
#: how long after a watch ended following is tried again
CATCH_UP = 30.0


class Watch(Enum):
    """The watch on the users (a backend that has one: KV)."""

    OFF = "off"  # none runs: changes are read (the rows on screen, or everything)
    STARTING = "starting"  # one runs, not begun yet: the full read waits for it, so no change falls between
    ON = "on"  # it has begun: every change from then on comes through it


class Do(Enum):
    """What the screen does next."""

    NOTHING = "nothing"  # the watch brings it, or a read runs and another follows it
    FOLLOW = "follow"  # start the watch (the full read begins once it has)
    READ = "read"  # read everything now
    PATCH = "patch"  # read again the rows on screen and the count (or show the watched rows)


class UsersFeed:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.watch = Watch.OFF
        self.follow_again_at = 0.0  # after a watch ended, following is tried again from then on
        self.full_read_at = float("-inf")  # when the last full read began
        self.again = False  # a full read is wanted once the running one ends
        self.catch_up = False  # rows were patched: a full read once the changes stop
        self.preview = False  # the table shows a preview: the load's next part replaces it
        #: rows written since the last full read began (the newer of the two is the change)
        self.since_read: dict[str, Record] = {}

    def full_read(self, *, can_watch: bool, reading: bool, loaded: bool) -> Do:
        """A full read is wanted. can_watch: the store has a watch; reading: a full read
        runs; loaded: the table shows rows (a first load is restarted, not waited for)."""
        now = self.clock()
        if can_watch and self.watch is Watch.OFF and now >= self.follow_again_at:
            self.watch = Watch.STARTING
            return Do.FOLLOW
        if reading and loaded:
            self.again = True  # once this one ends (restarting it would never end, at 50/s)
            return Do.NOTHING
        self.again = self.catch_up = False
        self.full_read_at = now
        self.since_read = {}
        return Do.READ

    def read_ended(self) -> bool:
        """The full read's last part is shown: True when another is wanted now."""
        again, self.again = self.again, False
        return again

    def changed(self, *, can_patch: bool) -> Do:
        """The data changed (the poll said so). can_patch: the store counts users cheaply and
        the table holds a complete load, so reading the rows on screen is enough."""
        overdue = self.clock() - self.full_read_at > CATCH_UP
        if self.watch is Watch.ON and not overdue:
            return Do.NOTHING
        if can_patch and not overdue:
            self.catch_up = True
            return Do.PATCH
        return Do.READ

    def quiet(self) -> bool:
        """The changes have stopped for a while: True when rows were patched since the last
        full read, which is then due."""
        due, self.catch_up = self.catch_up, False
        return due

    def watch_began(self) -> Do:
        """The watch's first batch (empty) came: now the full read."""
        self.watch = Watch.ON
        return Do.READ

    def watch_ended(self) -> Do:
        """The watch ended (the server went, or the store closed): read, and follow again
        after CATCH_UP."""
        self.watch = Watch.OFF
        self.follow_again_at = self.clock() + CATCH_UP
        return Do.READ

    def watched(self, records: Sequence[Record], *, behind: bool) -> Do:
        """A batch of the watch's changes. behind: a user came or went, or broke the rules."""
        self.since_read.update((r[KEY], r) for r in records)
        self.catch_up = True
        return Do.READ if behind else Do.PATCH
