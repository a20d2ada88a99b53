"""An 80x24 terminal: the columns that matter stay and the rest give way (again on every
resize), key hints are whole, the header keeps the backend, info lines break between facts."""

from __future__ import annotations

import hashlib

import pytest
from textual.widgets import Footer

from tests.helpers import SIZE, loaded, make_app, until
from tui.screens.audit import AuditScreen
from tui.screens.health import HealthScreen
from tui.screens.migration import MigrationScreen
from tui.screens.room import RoomScreen
from tui.screens.rooms import RoomsScreen
from tui.screens.users import UsersScreen
from tui.textual_private import FooterKey, screen_line
from tui.widgets.columns import Col, fit_columns
from tui.widgets.flow_text import flow, middle_ellipsis, path_parts
from tui.widgets.record_table import RecordTable

NARROW = (80, 24)


def line(app, y: int) -> str:
    """The text of one line of the screen as drawn."""
    return screen_line(app.screen, y)


def table(app) -> RecordTable:
    return app.screen.query_one(RecordTable)


# -- the pure parts ------------------------------------------------------------------------------

def test_columns_give_way_by_priority():
    cols = (Col("key"), Col("name", 1, shrink=True), Col("status"), Col("added", 3), Col("revoked", 2))
    natural = [20, 30, 7, 16, 16]  # each column's widest cell; 2 of padding each
    assert fit_columns(cols, natural, 200) == tuple((i, None) for i in range(5))
    # the name is cut first (to 12), then "added" goes, then "revoked"; the room left goes back to the name
    assert fit_columns(cols, natural, 80) == ((0, None), (1, 29), (2, None), (4, None))
    assert fit_columns(cols, natural, 60) == ((0, None), (1, 27), (2, None))
    # never hidden, even when they do not fit: the table scrolls sideways
    assert fit_columns(cols, natural, 20) == ((0, None), (2, None))


def test_flow_breaks_only_between_parts():
    parts = ["room ops", "Operations", "owner ada_efb6416ab0a7", "encrypted, epoch 4",
             "missing current key: 0, revoked holding: 1"]
    lines = flow(parts, 80)
    assert lines == ["room ops  ·  Operations  ·  owner ada_efb6416ab0a7  ·  encrypted, epoch 4",
                     "missing current key: 0, revoked holding: 1"]
    assert all(len(x) <= 80 for x in lines)
    path = "/srv/membership/a-rather-long-folder-name/backups/demo.backup-20260101T000000Z.sqlite"
    assert flow(path_parts(path), 45, sep="") == ["/srv/membership/a-rather-long-folder-name/",
                                                  "backups/demo.backup-20260101T000000Z.sqlite"]
    # a part wider than the line keeps its end (the file name)
    assert middle_ellipsis("sqlite:/very/long/path/to/the/demo.sqlite", 24) == "sqlite:…/the/demo.sqlite"


# -- the running app -----------------------------------------------------------------------------

def check_footer(app) -> list[str]:
    """The footer's line: every hint shown whole, the hidden ones not at all, "? Help" and the
    palette hint always, nothing after the palette hint. Returns the hints shown."""
    footer = app.screen.query_one(Footer)
    text = line(app, footer.region.y)
    keys = [k for k in footer.query(FooterKey) if not k.has_class("-command-palette")]
    shown = [f"{k.key_display} {k.description}" for k in keys if k.display]
    hidden = [f"{k.key_display} {k.description}" for k in keys if not k.display]
    assert text.rstrip().endswith("▏^p Palette"), text  # nothing after it but its padding
    assert "? Help" in shown, text
    before_palette = text[:text.index("▏^p Palette")]
    for hint in shown:
        assert hint in before_palette, (hint, text)
    for hint in hidden:
        assert hint not in text, (hint, text)
    return shown


async def test_whole_key_hints_on_every_screen_at_80_columns(sqlite_spec):
    app = make_app(sqlite_spec)
    async with app.run_test(size=NARROW) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        assert check_footer(app)[:2] == ["1 Rooms", "2 Users"]
        for key, screen in (("2", UsersScreen), ("5", AuditScreen), ("3", MigrationScreen), ("4", HealthScreen)):
            await pilot.press(key)
            await until(pilot, lambda s=screen: isinstance(app.screen, s), what=screen.__name__)
            await pilot.pause(0.1)
            shown = check_footer(app)
            assert len(shown) < 11  # some gave way (they are in the help)
        await pilot.resize_terminal(*SIZE)
        await pilot.pause(0.2)
        assert len(check_footer(app)) == 11  # 120 columns: every hint (q Quit under the palette's)


async def test_key_columns_stay_and_the_rest_give_way_again_on_resize(sqlite_spec):
    app = make_app(sqlite_spec)
    async with app.run_test(size=NARROW) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        assert table(app).shown_columns == ["id", "name", "encrypted", "owner", "epoch", "members"]
        assert "Design revie…" in line(app, 2)  # the name cut, the epoch and members whole
        await pilot.press("2")
        await loaded(pilot, UsersScreen, 8)
        assert table(app).shown_columns == ["key", "name", "role", "status", "revoked"]
        await pilot.resize_terminal(60, 24)
        await until(pilot, lambda: table(app).shown_columns == ["key", "name", "role", "status"],
                    what="revoked gone at 60 columns")
        await pilot.resize_terminal(*SIZE)
        await until(pilot, lambda: len(table(app).shown_columns) == 6, what="every column at 120")
        # the cursor stayed on its row through the resizes
        assert table(app).selected_key == table(app).shown_keys[0]


async def test_a_rooms_current_epoch_outlasts_the_older_ones(sqlite_spec):
    app = make_app(sqlite_spec)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        t = table(app)
        t.grid.move_cursor(row=t.shown_keys.index("ops"))
        await pilot.press("enter")
        await loaded(pilot, RoomScreen, 4)
        assert table(app).shown_columns[-1] == "epoch 4 (current)" and len(table(app).shown_columns) == 8
        await pilot.resize_terminal(*NARROW)
        await until(pilot, lambda: table(app).shown_columns == ["member", "role", "user", "check",
                                                                "epoch 4 (current)"],
                    what="older epochs gone")
        info = line(app, 1) + line(app, 2)
        assert "encrypted, epoch 4" in info and "missing current key: 0, revoked holding: 1" in info


@pytest.mark.parametrize("read_only", [False, True])
async def test_the_header_keeps_the_backend_at_80_columns(tmp_path, clock, read_only):
    from store import SqliteSpec
    from tests.helpers import seed_sqlite

    folder = tmp_path / "a-folder-with-a-rather-long-name" / "and-another-one-below-it"
    folder.mkdir(parents=True)
    spec = await seed_sqlite(folder / "demo.sqlite", clock)
    app = make_app(SqliteSpec(spec.path, read_only=read_only), label="PRODUCTION")
    async with app.run_test(size=NARROW) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        header = line(app, 0).strip()
        assert header.startswith("⭘") and "PRODUCTION · sqlite:" in header and "…" in header
        assert header.endswith("demo.sqlite (read-only)" if read_only else "demo.sqlite")
        await pilot.resize_terminal(320, 36)  # room for the whole of tmp_path
        await until(pilot, lambda: f"membership-admin — PRODUCTION · sqlite:{spec.path}" in line(app, 0),
                    what="the whole header on a wide terminal")


def test_a_long_identifier_is_shortened_in_its_middle_before_text_is_cut():
    from tui.widgets.columns import cut

    cols = (Col("key", middle=True), Col("name", 1, shrink=True), Col("role"), Col("status"),
            Col("added", 3), Col("revoked", 2))
    natural = [64, 20, 5, 7, 16, 16]
    # 80 columns: added goes, the key is shortened, the name and status stay whole
    assert fit_columns(cols, natural, 78) == ((0, 20), (1, None), (2, None), (3, None), (5, None))
    # narrower: the name is whole as long as the key can be shorter, then cut
    assert fit_columns(cols, natural, 58) == ((0, 18), (1, None), (2, None), (3, None))
    assert fit_columns(cols, natural, 52) == ((0, 17), (1, 15), (2, None), (3, None))
    key = "7f3a9c0d" + "0" * 48 + "d6e7f809"
    assert str(cut(key, 17, middle=True)) == "7f3a9c0d…d6e7f809"
    assert str(cut(key, 16, middle=True)) == "7f3a9c0d…6e7f809"
    assert cut(key, 64, middle=True) == key


async def test_64_character_keys_at_80x24_keep_the_name_and_the_whole_status(tmp_path, clock):
    """A user key of 64 hex digits is shortened in its middle, the name and status stay (they
    were hidden and cut to "revoke"); y copies the key whole."""
    from store import open_store
    from tests.helpers import seed_sqlite

    spec = await seed_sqlite(tmp_path / "demo.sqlite", clock)
    keys = [hashlib.sha256(f"k{i}".encode()).hexdigest() for i in range(3)]
    store = await open_store(spec, clock)
    try:
        for i, key in enumerate(keys):
            await store.add_user(key, f"operator {i}")
        await store.revoke_user(keys[0])
    finally:
        await store.close()
    app = make_app(spec)
    async with app.run_test(size=NARROW) as pilot:
        await pilot.press("2")
        await loaded(pilot, UsersScreen, 11)
        t = table(app)
        assert t.shown_columns[:4] == ["key", "name", "role", "status"]
        t.grid.move_cursor(row=t.shown_keys.index(keys[0]))
        await pilot.pause()
        y = t.grid.region.y + 1 + t.shown_keys.index(keys[0])
        shown = line(app, y)
        cell = shown.split()[0]
        assert cell[:8] == keys[0][:8] and cell[-8:] == keys[0][-8:] and "…" in cell, shown
        assert "operator 0" in shown and " revoked " in shown, shown
        await pilot.press("y")
        assert app.clipboard == keys[0]


async def test_a_long_migration_target_leaves_by_and_reason_in_the_audit_view(tmp_path, clock):
    from store import open_store
    from store.audit import Action, Actor, AuditEvent, AuditPhase
    from tests.helpers import seed_sqlite

    spec = await seed_sqlite(tmp_path / "demo.sqlite", clock)
    target = ("sqlite:/srv/membership/data/production/membershipd.sqlite -> "
              "nats://admin:***@nats-1.prod.example.org:4222,nats-2.prod.example.org:4222 prefix=prod_")
    event = AuditEvent("m1", clock() + 60, AuditPhase.DONE, Actor("ada", "admin-1", "sqlite:x"),
                       Action.MIGRATE, target, reason="moving to the cluster")
    store = await open_store(spec, clock)
    try:
        await store.write_audit([event])
    finally:
        await store.close()
    app = make_app(spec)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await loaded(pilot, AuditScreen, 10)
        assert table(app).shown_columns == ["time", "action", "phase", "target", "by", "result", "reason"]
        shown = line(app, table(app).grid.region.y + 1)
        assert "sqlite:/srv/" in shown and "prefix=prod_" in shown and "…" in shown, shown
        assert "ada@admin-1" in shown and "moving to" in shown, shown  # the reason cut, not pushed out
