"""A picture of every view, from the seeded demo state with a frozen clock.

Regenerate after an intended change: .venv/bin/pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import pytest

from store import SqliteSpec
from store.dev.demo import REVOKED, demo_key
from tests.helpers import SIZE, make_app, modal, run_sync, seed_sqlite, select, shows, steps
from tui.screens.add_user import AddUserScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.room import RoomScreen
from tui.screens.rooms import RoomsScreen
from tui.screens.user_rooms import UserRoomsScreen
from tui.screens.users import UsersScreen


@pytest.fixture
def demo_app(tmp_path, clock, monkeypatch):
    """An app factory on a seeded SQLite file named relatively, so the header is the same every run."""
    monkeypatch.chdir(tmp_path)
    run_sync(seed_sqlite(tmp_path / "demo.sqlite", clock))

    def make(read_only: bool = False):
        return make_app(SqliteSpec("demo.sqlite", read_only=read_only), clock=clock,
                        poll_interval=3600, blink=False)
    return make


def test_rooms(snap_compare, demo_app):
    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=steps(shows(RoomsScreen, 5)))


def test_room_detail_revoked_user_holds_key(snap_compare, demo_app):
    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=steps(
        shows(RoomsScreen, 5), select("ops"), ("enter",), shows(RoomScreen, 4)))


def test_room_detail_member_missing_key(snap_compare, demo_app):
    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=steps(
        shows(RoomsScreen, 5), ("enter",), shows(RoomScreen, 4)))


def test_room_detail_unencrypted(snap_compare, demo_app):
    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=steps(
        shows(RoomsScreen, 5), select("lobby"), ("enter",), shows(RoomScreen, 7)))


def test_users(snap_compare, demo_app):
    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=steps(("2",), shows(UsersScreen, 8)))


def test_user_rooms(snap_compare, demo_app):
    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=steps(
        ("2",), shows(UsersScreen, 8), select(demo_key("ada")), ("enter",), shows(UserRoomsScreen, 4)))


def test_users_filtered(snap_compare, demo_app):
    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=steps(
        ("2",), shows(UsersScreen, 8), ("slash", "a", "d", "m", "i", "n"), shows(UsersScreen, 2)))


def test_revoke_confirmation(snap_compare, demo_app):
    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=steps(
        ("2",), shows(UsersScreen, 8), select(demo_key("grace")), ("r",), modal(ConfirmScreen)))


def test_reinstate_confirmation(snap_compare, demo_app):
    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=steps(
        ("2",), shows(UsersScreen, 8), select(demo_key(REVOKED)), ("i",), modal(ConfirmScreen)))


def test_add_user_form_with_error(snap_compare, demo_app):
    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=steps(
        ("2",), shows(UsersScreen, 8), ("a",), modal(AddUserScreen), ("n", "e", "w", "!")))


def test_help(snap_compare, demo_app):
    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=steps(
        shows(RoomsScreen, 5), ("question_mark",)))


def test_read_only_header(snap_compare, demo_app):
    assert snap_compare(demo_app(read_only=True), terminal_size=SIZE,
                        run_before=steps(("2",), shows(UsersScreen, 8)))
