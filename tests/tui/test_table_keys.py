"""The keys that belong to a table: j/k move as the arrows do; escape clears a filter first
(as k9s does), and only a second escape goes back."""

from __future__ import annotations

from tests.helpers import SIZE, loaded, make_app, seed_sqlite
from tui.screens.room import RoomScreen
from tui.screens.rooms import RoomsScreen
from tui.screens.users import UsersScreen
from tui.widgets.record_table import RecordTable


def table(app) -> RecordTable:
    return app.screen.query_one(RecordTable)


def count(app) -> str:
    return str(table(app).query_one(".count").content)


async def test_j_and_k_move_down_and_up(tmp_path, clock):
    app = make_app(await seed_sqlite(tmp_path / "demo.sqlite", clock), clock=clock, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await loaded(pilot, UsersScreen, 8)
        t = table(app)
        keys = t.shown_keys
        await pilot.press("j", "j", "j")
        assert t.selected_key == keys[3] and count(app).startswith("row 4 of 8")
        await pilot.press("k")
        assert t.selected_key == keys[2] and count(app).startswith("row 3 of 8")
        await pilot.press("k", "k", "k")  # stops at the first row
        assert t.selected_key == keys[0]


async def test_escape_clears_the_filter_first_then_goes_back(tmp_path, clock):
    app = make_app(await seed_sqlite(tmp_path / "demo.sqlite", clock), clock=clock, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        await pilot.press("enter")
        await loaded(pilot, RoomScreen)
        members = len(table(app).shown_keys)
        assert members > 1
        first = table(app).shown_keys[0]
        await pilot.press("slash", *first, "enter")  # filtered, back on the table
        assert table(app).shown_keys == [first] and "filter:" in count(app)
        assert app.focused is table(app).grid
        await pilot.press("escape")
        assert isinstance(app.screen, RoomScreen)  # not gone back: the filter went
        assert len(table(app).shown_keys) == members and "filter:" not in count(app)
        assert table(app).filter_input.has_class("hidden")
        await pilot.press("escape")
        assert isinstance(app.screen, RoomsScreen)


async def test_escape_in_the_filter_box_clears_it_and_stays(tmp_path, clock):
    app = make_app(await seed_sqlite(tmp_path / "demo.sqlite", clock), clock=clock, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        await pilot.press("enter")
        await loaded(pilot, RoomScreen)
        await pilot.press("slash", "z", "z", "z")
        assert table(app).shown_keys == [] and "0 matching" in count(app)
        await pilot.press("escape")
        assert isinstance(app.screen, RoomScreen) and len(table(app).shown_keys) > 1
        assert app.focused is table(app).grid
