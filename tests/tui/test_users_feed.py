"""The users view's live feed as a state machine, on a clock moved by hand: when it follows a
watch, reads everything, patches the rows on screen, waits for a running read, and tries a
watch again after one ended."""

from __future__ import annotations

from tui.screens.users_feed import CATCH_UP, Do, UsersFeed, Watch
from tui.widgets.table_model import record


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def feed() -> tuple[UsersFeed, Clock]:
    clock = Clock()
    return UsersFeed(clock), clock


def user(key: str, status: str = "active") -> tuple:
    return record(key, (key, "", "user", status, 0, None), f"{key}\t\tuser\t{status}")


def test_a_backend_with_a_watch_follows_it_before_the_first_read():
    f, _ = feed()
    assert f.full_read(can_watch=True, reading=False, loaded=False) is Do.FOLLOW
    assert f.watch is Watch.STARTING  # the full read waits for the watch's first batch
    assert f.watch_began() is Do.READ and f.watch is Watch.ON
    assert f.full_read(can_watch=True, reading=False, loaded=False) is Do.READ


def test_while_the_watch_is_on_a_change_needs_no_read_until_catch_up_is_overdue():
    f, clock = feed()
    f.full_read(can_watch=True, reading=False, loaded=False)
    f.watch_began()
    f.full_read(can_watch=True, reading=False, loaded=False)
    assert f.changed(can_patch=True) is Do.NOTHING
    clock.now += CATCH_UP + 1
    assert f.changed(can_patch=True) is Do.READ


def test_watched_rows_are_patched_and_a_newcomer_is_a_full_read():
    f, _ = feed()
    f.watch_began()
    assert f.watched([user("a", "revoked")], behind=False) is Do.PATCH
    assert f.watched([user("new")], behind=True) is Do.READ
    assert set(f.since_read) == {"a", "new"} and f.catch_up
    # a full read begins: what was written before it is in it
    assert f.full_read(can_watch=True, reading=False, loaded=True) is Do.READ
    assert f.since_read == {} and not f.catch_up


def test_an_ended_watch_is_tried_again_after_catch_up():
    f, clock = feed()
    f.full_read(can_watch=True, reading=False, loaded=False)
    f.watch_began()
    assert f.watch_ended() is Do.READ and f.watch is Watch.OFF
    assert f.full_read(can_watch=True, reading=False, loaded=True) is Do.READ  # not following yet
    # meanwhile changes are read as a store without a watch reads them
    assert f.changed(can_patch=False) is Do.READ
    clock.now += CATCH_UP
    assert f.full_read(can_watch=True, reading=False, loaded=True) is Do.FOLLOW


def test_without_a_watch_the_rows_on_screen_are_read_again_then_everything_when_quiet():
    f, clock = feed()
    assert f.full_read(can_watch=False, reading=False, loaded=False) is Do.READ
    assert f.changed(can_patch=True) is Do.PATCH and f.catch_up
    assert f.quiet() is True and f.quiet() is False  # the catch-up read is due once
    assert f.changed(can_patch=False) is Do.READ  # the store cannot count cheaply, or a load runs
    clock.now += CATCH_UP + 1
    assert f.changed(can_patch=True) is Do.READ  # changes for too long: a full read anyway


def test_a_full_read_wanted_while_one_runs_follows_it_once():
    f, _ = feed()
    f.full_read(can_watch=False, reading=False, loaded=False)
    assert f.full_read(can_watch=False, reading=True, loaded=True) is Do.NOTHING
    assert f.full_read(can_watch=False, reading=True, loaded=True) is Do.NOTHING
    assert f.read_ended() is True and f.read_ended() is False
    # a first load (nothing shown yet) is restarted, not waited for
    assert f.full_read(can_watch=False, reading=True, loaded=False) is Do.READ and not f.again


def test_a_full_read_makes_a_pending_catch_up_needless():
    f, _ = feed()
    f.full_read(can_watch=False, reading=False, loaded=False)
    f.changed(can_patch=True)
    f.full_read(can_watch=False, reading=False, loaded=True)
    assert f.quiet() is False
