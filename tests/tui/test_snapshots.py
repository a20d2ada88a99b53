"""A picture of every view, from the seeded demo state with a frozen clock, at 120x36 and
again at 80x24 (the smallest terminal every view must be usable in).

Regenerate after an intended change: .venv/bin/pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import pytest

from store import SqliteSpec
from store.dev.demo import REVOKED, demo_key
from tests.helpers import SIZE, Step, make_app, modal, run_sync, seed_sqlite, select, shows, steps
from tui.screens.add_user import AddUserScreen
from tui.screens.audit import AuditScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.export import ExportScreen
from tui.screens.history import HistoryScreen
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


# -- 80x24 -------------------------------------------------------------------------------------

NARROW = (80, 24)

#: every view at 80x24: the key columns shown, names cut with "…", whole key hints
NARROW_VIEWS: dict[str, list[Step]] = {
    "rooms": [shows(RoomsScreen, 5)],
    "room_detail_revoked_user_holds_key": [shows(RoomsScreen, 5), select("ops"), ("enter",), shows(RoomScreen, 4)],
    "room_detail_member_missing_key": [shows(RoomsScreen, 5), ("enter",), shows(RoomScreen, 4)],
    "users": [("2",), shows(UsersScreen, 8)],
    "users_filtered": [("2",), shows(UsersScreen, 8), ("slash", *"admin"), shows(UsersScreen, 2)],
    "user_rooms": [("2",), shows(UsersScreen, 8), select(demo_key("ada")), ("enter",), shows(UserRoomsScreen, 4)],
    "user_history": [("2",), shows(UsersScreen, 8), select(demo_key(REVOKED)), ("h",), shows(HistoryScreen, 3)],
    "audit": [("5",), shows(AuditScreen, 9)],
    "revoke_confirmation": [("2",), shows(UsersScreen, 8), select(demo_key("grace")), ("r",), modal(ConfirmScreen)],
    "add_user_form_with_error": [("2",), shows(UsersScreen, 8), ("a",), modal(AddUserScreen), tuple("new!")],
    "save_table": [("2",), shows(UsersScreen, 8), ("e",), modal(ExportScreen)],
    "help": [shows(RoomsScreen, 5), ("question_mark",)],
}


@pytest.mark.parametrize("view", list(NARROW_VIEWS))
def test_80x24(snap_compare, demo_app, view):
    assert snap_compare(demo_app(), terminal_size=NARROW, run_before=steps(*NARROW_VIEWS[view]))


def test_80x24_header_keeps_the_backend(snap_compare, tmp_path, clock, monkeypatch):
    """A long path, a context's label and read-only: the program's name gives way, the path's
    middle is cut, its file name and "(read-only)" stay."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "backups" / "membership" / "a-folder-with-a-long-name" / "copies"
    folder.mkdir(parents=True)
    run_sync(seed_sqlite(folder / "demo.sqlite", clock))
    app = make_app(SqliteSpec(str((folder / "demo.sqlite").relative_to(tmp_path)), read_only=True),
                   clock=clock, poll_interval=3600, blink=False, label="PRODUCTION")
    assert snap_compare(app, terminal_size=NARROW, run_before=steps(("2",), shows(UsersScreen, 8)))
