"""Every key and action of the TUI, driven with Textual's pilot, on both backends."""

from __future__ import annotations

import html

import pytest

from store import NatsSpec, SqliteSpec, open_store
from store.dev.demo import MISSING_KEY_MEMBER, REVOKED, demo_key
from store.kv import KvStore
from tests.helpers import SIZE, loaded, make_app, settle, text_of, until
from tui.screens.add_user import AddUserScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.health import HealthScreen
from tui.screens.help import HelpScreen
from tui.screens.migration import MigrationScreen
from tui.screens.room import MISSING, REVOKED_HOLDS, RoomScreen
from tui.screens.rooms import RoomsScreen
from tui.screens.user_rooms import UserRoomsScreen
from tui.screens.users import UsersScreen
from tui.widgets.record_table import RecordTable

MALLORY = demo_key(REVOKED)
ADA = demo_key("ada")


def table(app) -> RecordTable:
    return app.screen.query_one(RecordTable)


def count_text(app) -> str:
    return str(table(app).query_one(".count").content)


def cell_text(app, key: str) -> str:
    """The text of the row with that key (all cells joined)."""
    t = table(app)
    row = t.shown_keys.index(key)
    return " | ".join(str(c) for c in t.grid.get_row_at(row))


async def go_to_user(pilot, key: str) -> None:
    await pilot.press("2")
    await loaded(pilot, UsersScreen, 8)
    t = table(pilot.app)
    t.grid.move_cursor(row=t.shown_keys.index(key))
    await pilot.pause()


async def user_status(spec, key: str) -> str:
    store = await open_store(spec)
    try:
        return (await store.get_user(key)).status
    finally:
        await store.close()


async def test_rooms_view_and_header(spec):
    app = make_app(spec)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        assert table(app).shown_keys == ["design", "finance", "incident-2026-01", "lobby", "ops"]
        assert count_text(app).startswith("row 1 of 5 rooms")
        ops = cell_text(app, "ops")
        assert "Operations" in ops and "yes" in ops and ADA in ops and "| 4 | 4" in ops
        assert "| no |" in cell_text(app, "lobby")  # the unencrypted room, epoch 0
        assert app.sub_title.startswith("sqlite:" if isinstance(spec, SqliteSpec) else "nats:")
        if isinstance(spec, NatsSpec):
            assert spec.url in app.sub_title and "replica" in app.sub_title


async def test_enter_opens_room_detail_grid_and_escape_goes_back(spec):
    app = make_app(spec)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        table(app).grid.move_cursor(row=4)  # ops
        await pilot.press("enter")
        await loaded(pilot, RoomScreen, 4)
        assert app.screen.room_id == "ops"
        cols = [str(c.label) for c in table(app).grid.columns.values()]
        assert cols[-4:] == ["epoch 1", "epoch 2", "epoch 3", "epoch 4 (current)"]
        mallory = cell_text(app, MALLORY)
        assert REVOKED_HOLDS in mallory and "revoked" in mallory
        store = await open_store(spec)
        try:
            key = await store.get_key("ops", MALLORY)
        finally:
            await store.close()
        assert key.fingerprint in mallory and key.sealed_key.hex()[:16] not in mallory
        assert "ok" in cell_text(app, ADA)
        await pilot.press("escape")
        await loaded(pilot, RoomsScreen)
        assert len(app.screen_stack) == 1


async def test_missing_current_key_is_flagged(sqlite_spec):
    # the daemon-style join (SQLite demo) is the one way to a member without a current key
    app = make_app(sqlite_spec)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        await pilot.press("enter")  # design is the first row
        await loaded(pilot, RoomScreen, 4)
        assert MISSING in cell_text(app, demo_key(MISSING_KEY_MEMBER))
        assert "missing current key: 1" in app.screen.query_one("#room-info").plain


async def test_users_view_and_user_rooms(spec):
    app = make_app(spec)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_user(pilot, MALLORY)
        row = cell_text(app, MALLORY)
        assert "revoked" in row and "Mallory Byrne" in row
        assert "2026-01-01" in row  # added and revoked as UTC dates (the frozen clock's day)
        assert "| active |" in cell_text(app, ADA) and count_text(app).endswith(" of 8 users")
        await pilot.press("enter")
        await loaded(pilot, UserRoomsScreen, 1)
        assert table(app).shown_keys == ["ops"]
        await pilot.press("escape")
        await loaded(pilot, UsersScreen)


async def test_filter_narrows_live_enter_selects_escape_clears(spec):
    app = make_app(spec)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await loaded(pilot, UsersScreen, 8)
        await pilot.press("slash")
        assert app.focused is table(app).filter_input
        await pilot.press("h")
        assert 1 < len(table(app).shown_keys) < 8  # narrows on the first key
        await pilot.press("o", "p")
        assert table(app).shown_keys == [demo_key("grace")]
        await pilot.press("backspace", "backspace", "backspace", "a", "d", "m", "i", "n")
        assert table(app).shown_keys == [ADA, demo_key("grace")]
        assert "of 2 matching (of 8) users" in count_text(app)
        await pilot.press("enter")
        assert app.focused is table(app).grid and table(app).selected_key == ADA
        await pilot.press("slash", "escape")
        assert len(table(app).shown_keys) == 8 and app.focused is table(app).grid
        assert table(app).filter_input.has_class("hidden")


@pytest.mark.parametrize("answer", ["y", "n", "escape"])
async def test_revoke_confirms_with_y_and_cancels_with_n_or_escape(spec, answer):
    app = make_app(spec)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_user(pilot, ADA)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        body = str(app.screen.query_one(".dialog-body").content)
        assert "finance, incident-2026-01, ops" in body  # rooms where ada holds a current key
        assert ADA in str(app.screen.query_one(".dialog-title").content)
        await pilot.press("2", "r", "1", "slash")  # the dialog answers first: nothing behind it
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press(answer)
        await settle(pilot)
        await until(pilot, lambda: isinstance(app.screen, UsersScreen))
        expected = "revoked" if answer == "y" else "active"
        assert await user_status(spec, ADA) == expected
        await until(pilot, lambda: f"| {expected} |" in cell_text(app, ADA), what="table refresh")


async def test_reinstate_and_revoke_from_room_detail(spec):
    app = make_app(spec)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_user(pilot, MALLORY)
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Reinstate" in str(app.screen.query_one(".dialog-title").content)
        await pilot.press("y")
        await until(pilot, lambda: "| active |" in cell_text(app, MALLORY), what="reinstated")
        assert await user_status(spec, MALLORY) == "active"
        # revoke again from a room's member grid
        await pilot.press("1")
        await loaded(pilot, RoomsScreen, 5)
        table(app).grid.move_cursor(row=4)
        await pilot.press("enter")
        await loaded(pilot, RoomScreen, 4)
        t = table(app)
        t.grid.move_cursor(row=t.shown_keys.index(MALLORY))
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, RoomScreen)
                    and REVOKED_HOLDS in cell_text(app, MALLORY), what="flag back")
        assert await user_status(spec, MALLORY) == "revoked"


async def test_revoking_a_revoked_user_says_so(spec):
    app = make_app(spec)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_user(pilot, MALLORY)
        await pilot.press("r")
        await until(pilot, lambda: any("already revoked" in n for n in app.notices))
        assert not isinstance(app.screen, ConfirmScreen)


async def test_add_user_form_validates_as_you_type(spec):
    app = make_app(spec)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await loaded(pilot, UsersScreen, 8)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AddUserScreen))
        form = app.screen
        error = form.query_one("#error")
        await pilot.press("b", "a", "d", "!")
        assert "invalid key" in str(error.content) and form.query_one("#add").disabled
        await pilot.press("backspace", "tab", "N", "e", "w")
        assert str(error.content) == "" and not form.query_one("#add").disabled
        await pilot.press("enter")  # submits from the name box
        await until(pilot, lambda: "bad" in table(app).shown_keys, what="new user shown")
        store = await open_store(spec)
        try:
            user = await store.get_user("bad")
        finally:
            await store.close()
        assert (user.name, user.role, user.status) == ("New", "user", "active")
        # a duplicate (case differs) is refused by the store: a message, the app stays usable
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AddUserScreen))
        await pilot.press("B", "A", "D", "enter")
        await until(pilot, lambda: any("exist" in n.lower() for n in app.notices), what="error")
        await until(pilot, lambda: isinstance(app.screen, UsersScreen))
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AddUserScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, UsersScreen))


async def test_read_only_refuses_every_change(spec):
    ro = SqliteSpec(spec.path, read_only=True) if isinstance(spec, SqliteSpec) else \
        NatsSpec(url=spec.url, bucket_prefix=spec.bucket_prefix, replicas=1, read_only=True)
    app = make_app(ro)
    async with app.run_test(size=SIZE) as pilot:
        await go_to_user(pilot, ADA)
        assert "read-only" in app.sub_title
        for key in ("r", "i", "a"):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, UsersScreen)
        assert sum("read-only" in n for n in app.notices) == 3
    assert await user_status(spec, ADA) == "active"
    assert await user_status(spec, MALLORY) == "revoked"


async def test_change_by_someone_else_appears_without_a_key_press(spec):
    app = make_app(spec)  # default 1 s polling
    async with app.run_test(size=SIZE) as pilot:
        await go_to_user(pilot, ADA)
        other = await open_store(spec)  # the daemon, or another admin
        try:
            await other.revoke_user(ADA)
        finally:
            await other.close()
        await until(pilot, lambda: "| revoked |" in cell_text(app, ADA), timeout=2.5,
                    what="someone else's change")


async def test_help_palette_placeholders_and_quit(spec):
    app = make_app(spec)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = text_of(app.screen.query_one(".dialog-body Static"))
        for key in ("1 2 3 4", "/", "enter", "escape", "r ", "i ", "a ", "m ", "?", "ctrl+p", "q "):
            assert key in text
        await pilot.press("escape")
        assert isinstance(app.screen, RoomsScreen)
        await pilot.press("m")  # only the migration screen starts a migration
        assert any("migration screen" in n for n in app.notices)
        await pilot.press("3")
        assert isinstance(app.screen, MigrationScreen)
        await pilot.press("4")
        assert isinstance(app.screen, HealthScreen)
        await pilot.press("slash")
        assert any("nothing to filter" in n for n in app.notices)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: type(app.screen).__name__ == "CommandPalette")
        await pilot.press(*"Users")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, UsersScreen), what="palette -> users")
        bindings = {key: b.binding.description for key, b in app.screen.active_bindings.items()}
        for key in ("1", "2", "3", "4", "slash", "escape", "r", "i", "a", "question_mark", "q"):
            assert bindings[key]
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_unreachable_backend_is_a_message_not_a_crash(tmp_path):
    app = make_app(NatsSpec(url="nats://127.0.0.1:1", op_timeout=0.5))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "unavailable" in app.sub_title, what="unavailable shown")
        assert any("connect" in n for n in app.notices)
        await pilot.press("2", "r")
        assert isinstance(app.screen, UsersScreen)


async def test_backend_gone_and_back_is_a_message_and_the_app_stays_usable(tmp_path, clock):
    """A NATS server of this test's own stops under the app, then comes back."""
    import asyncio

    from store import StoreError
    from store.dev.local_nats import LocalNats

    with LocalNats(tmp_path / "nats", size=1) as server:
        spec = NatsSpec(url=server.url, replicas=1, op_timeout=0.5)
        for _ in range(50):  # until JetStream answers
            try:
                store = await KvStore.create(spec, clock=clock)
                try:
                    await store.add_user(ADA, "Ada Lovelace", "admin")
                finally:
                    await store.close()
                break
            except StoreError:
                await asyncio.sleep(0.2)
        app = make_app(spec, poll_interval=0.3)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            await loaded(pilot, UsersScreen, 1)
            server.kill(0)
            await until(pilot, lambda: "unavailable" in app.sub_title, timeout=5,
                        what="outage shown in the header")
            told = len(app.notices)
            assert told >= 1 and app.notices[-1]  # what the poll saw, in one line
            await pilot.press("r")  # the change fails with a readable message, no traceback
            await until(pilot, lambda: len(app.notices) > told, timeout=5, what="error message")
            assert "\n" not in app.notices[-1] and "Traceback" not in app.notices[-1]
            assert not isinstance(app.screen, ConfirmScreen)
            await pilot.press("1")
            assert isinstance(app.screen, RoomsScreen)  # still usable
            server.restart(0)
            await until(pilot, lambda: "unavailable" not in app.sub_title, timeout=15,
                        what="recovery shown in the header")


async def test_invalid_and_unsafe_stored_users_are_shown_flagged_and_escaped(sqlite_spec, clock):
    """A row the schema forbids is a flagged row with its reason (never hidden); a name with
    escape sequences is shown escaped, so it cannot drive the operator's terminal."""
    import sqlite3

    con = sqlite3.connect(sqlite_spec.path, isolation_level=None)
    con.execute("PRAGMA ignore_check_constraints = ON")
    con.execute("INSERT INTO users VALUES ('rooter', 'Root', 'root', 'active', 1, NULL)")
    con.execute("INSERT INTO users VALUES ('esc', 'x\x1b[2Jy\nz', 'user', 'active', 1, NULL)")
    con.execute("INSERT INTO users VALUES ('markup', '[reverse]boss[/reverse]', 'user', 'active', 1, NULL)")
    con.close()
    app = make_app(sqlite_spec, clock=clock, poll_interval=3600, blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await loaded(pilot, UsersScreen, 11)
        assert "INVALID" in cell_text(app, "rooter") and "role 'root'" in cell_text(app, "rooter")
        # a stored name is text, never markup: drawn with its brackets, not styled by them
        assert "[reverse]boss[/reverse]" in html.unescape(app.export_screenshot()).replace("\xa0", " ")
        assert "x\\e[2Jy\\nz" in cell_text(app, "esc")
        assert "\x1b" not in cell_text(app, "esc")
        assert "1 invalid stored record(s), flagged" in count_text(app)
