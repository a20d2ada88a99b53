"""Every row of a table is reachable (the window follows the cursor), `s` sorts, `y` copies:
on a few hundred users, both backends."""

from __future__ import annotations

import asyncio
import gc
import sqlite3

import pytest

from store import NatsSpec, SqliteSpec, open_store
from store.dev.demo import demo_key
from store.kv.store import KvStore
from tests.helpers import SIZE, create_buckets, loaded, make_app, seed_sqlite, settle, shows, steps, until
from tui.screens.confirm import ConfirmScreen
from tui.screens.users import UsersScreen
from tui.screens.users_feed import Watch
from tui.widgets import record_table
from tui.widgets.record_table import RecordTable

N = 450  # more than four windows of 100 rows (RecordTable's window)


@pytest.fixture(params=["sqlite", "kv"])
async def many(request, tmp_path, clock, bucket_prefix):
    """The demo state and N more users named u000..u449 (added in reverse name order)."""
    if request.param == "sqlite":
        spec = await seed_sqlite(tmp_path / "demo.sqlite", clock)
    else:
        spec = NatsSpec(url=request.getfixturevalue("nats_server").url, bucket_prefix=bucket_prefix, replicas=1)
        await create_buckets(spec)
    async with await open_store(spec, clock=clock) as s:
        for i in range(N):
            await s.add_user(f"u{i:03d}", f"name {N - i:03d}")
    return spec


def table(app) -> RecordTable:
    return app.screen.query_one(RecordTable)


def count(app) -> str:
    return str(table(app).query_one(".count").content)


async def test_every_row_is_reachable(many):
    total = N + (8 if isinstance(many, SqliteSpec) else 0)
    app = make_app(many)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await loaded(pilot, UsersScreen)
        t = table(app)
        w = t.window
        assert w < N // 2 and len(t.shown_keys) == w and count(app) == f"row 1 of {total} users"
        await pilot.press("G")
        assert t.selected_key == "u449" and count(app) == f"row {total} of {total} users"
        await pilot.press("g")
        assert count(app).startswith("row 1 of") and t.selected_key == t.records[0][0]
        for _ in range(3):
            await pilot.press("pagedown")
        page = t.position
        assert page > 3
        t.go_to(w - 1)  # the window's last row; down goes past it
        await pilot.press("down", "down")
        assert t.position == w + 1 and t.selected_key == t.records[w + 1][0]
        await pilot.press("up")
        assert t.selected_key == t.records[w][0]
        await pilot.press("end")
        await pilot.press("up")
        assert t.selected_key == "u448" and count(app) == f"row {total - 1} of {total} users"
        # the filter works on everything; the count says where the cursor is among the matches
        await pilot.press("slash", *"u44")
        await until(pilot, lambda: "of 10 matching" in count(app))
        await pilot.press("enter", "G")
        assert t.selected_key == "u449" and count(app).startswith("row 10 of 10 matching")


async def on_the_last_user(pilot) -> tuple[RecordTable, str | None]:
    """The users view loaded, its last row selected: the table and that row's key."""
    await pilot.press("2")
    await loaded(pilot, UsersScreen)
    t = table(pilot.app)
    await pilot.press("G")
    return t, t.selected_key


async def test_sort_reverse_and_copy(many):
    app = make_app(many)
    async with app.run_test(size=SIZE) as pilot:
        t, selected = await on_the_last_user(pilot)
        await pilot.press("s")  # by key
        assert "sorted by key" in count(app) and t.selected_key == selected  # the row stays selected
        assert str(t.grid.columns[next(iter(t.grid.columns))].label) == "key ▲"
        await pilot.press("s")  # reversed
        await pilot.press("g")
        keys = [r[0] for r in t.records]
        assert keys == sorted(keys, reverse=True) and "sorted by key, reversed" in count(app)
        await pilot.press("s", "G")  # by name: u000 has the last name
        assert t.selected_key == "u000" and "sorted by name" in count(app)
        await pilot.press("y")
        assert app.clipboard == "u000" and any("copied u000" in n for n in app.notices)
        for _ in range(10):  # past the last column: the screen's order again
            await pilot.press("s")
        assert "sorted" not in count(app) and [r[0] for r in t.records] == sorted(keys)


async def test_a_big_table_sorts_in_a_thread(many, monkeypatch):
    """A table of SORT_IN_THREAD rows or more sorts off the UI thread: the count says it is
    sorting, the rows come sorted, the selected row stays selected; a sort overtaken by the
    next press is dropped."""
    monkeypatch.setattr(record_table, "SORT_IN_THREAD", 100)
    app = make_app(many)
    async with app.run_test(size=SIZE) as pilot:
        t, selected = await on_the_last_user(pilot)
        sorted_by = []
        real = record_table.RecordTable._sorted

        def spy(self, rows, sort):  # runs in the sort's thread
            sorted_by.append(sort)
            return real(self, rows, sort)

        monkeypatch.setattr(record_table.RecordTable, "_sorted", spy)
        t.next_sort()  # by key
        assert "sorting by key…" in count(app)
        await until(pilot, lambda: "sorted by key" in count(app), what="the sort")
        assert t.selected_key == selected and sorted_by == [(0, False)]
        t.next_sort()  # reversed, then by name before that one is done: only by name counts
        t.next_sort()
        await until(pilot, lambda: "sorted by name" in count(app), what="the second sort")
        await pilot.press("G")
        assert t.selected_key == "u000"  # it has the last name
        names = [r[1][1] for r in t.records if type(r[1]) is tuple]
        assert names == sorted(names)


def test_snapshot_sorted_table(snap_compare, tmp_path, clock, monkeypatch):
    from tests.helpers import run_sync

    monkeypatch.chdir(tmp_path)
    run_sync(seed_sqlite(tmp_path / "demo.sqlite", clock))
    app = make_app(SqliteSpec("demo.sqlite"), clock=clock, poll_interval=3600, blink=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=steps(
        ("2",), shows(UsersScreen, 8), ("s", "s"), settle))  # by key, reversed


async def test_marks_and_one_confirmation_for_all(many, clock):
    app = make_app(many, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await loaded(pilot, UsersScreen)
        t = table(app)
        await pilot.press("slash", *"u00", "enter")  # u000..u009
        await until(pilot, lambda: "of 10 matching" in count(app))
        await pilot.press("space", "space", "space")  # marks u000, u001, u002; the cursor moves on
        assert t.marked == {"u000", "u001", "u002"} and "3 marked" in count(app)
        assert str(t.grid.get_row_at(0)[0]).startswith("● u000")
        await pilot.press("up", "space")  # unmark u002
        assert t.marked == {"u000", "u001"}
        await pilot.press("space")  # u003: a mark moves the cursor on
        assert t.marked == {"u000", "u001", "u003"}
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        title = str(app.screen.query_one(".dialog-title").content)
        assert title == "Revoke 3 marked user(s)?"
        await pilot.press("tab", *"bulk leavers", "enter")
        await until(pilot, lambda: any("3 users revoked" in n for n in app.notices), what="bulk revoke")
        await until(pilot, lambda: not t.marked)
        await until(pilot, lambda: str(t.grid.get_row_at(0)[0]) == "u000", what="marks drawn away")
    async with await open_store(many, clock=clock) as s:
        assert {k: (await s.get_user(k)).status for k in ("u000", "u001", "u002", "u003")} == {
            "u000": "revoked", "u001": "revoked", "u002": "active", "u003": "revoked"}
        revokes = [e for e in await s.audit_events() if e.action == "revoke_user" and e.phase == "done"]
        assert sorted(e.target for e in revokes)[-3:] == ["u000", "u001", "u003"]
        assert all(e.reason == "bulk leavers" for e in revokes if e.target.startswith("u"))


def test_snapshot_marks_and_bulk_confirmation(snap_compare, tmp_path, clock, monkeypatch):
    from tests.helpers import modal, run_sync, select

    monkeypatch.chdir(tmp_path)
    run_sync(seed_sqlite(tmp_path / "demo.sqlite", clock))
    app = make_app(SqliteSpec("demo.sqlite"), clock=clock, poll_interval=3600, blink=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=steps(
        ("2",), shows(UsersScreen, 8), select(demo_key("brian")), ("space", "space", "space"), ("r",),
        modal(ConfirmScreen)))


async def test_e_saves_the_table_as_shown(many, tmp_path, monkeypatch):
    import csv
    import json

    from tui.screens.export import ExportScreen

    monkeypatch.chdir(tmp_path)
    app = make_app(many)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await loaded(pilot, UsersScreen)
        await pilot.press("slash", *"u01", "enter", "s", "s")  # u010..u019, by key reversed
        await until(pilot, lambda: "of 10 matching" in count(app))
        for name in ("users.csv", "users.json", "users.csv"):
            await pilot.press("e")
            await until(pilot, lambda: isinstance(app.screen, ExportScreen))
            box = app.screen.query_one("#path")
            box.value = name
            await pilot.press("enter")
            await until(pilot, lambda name=name: any(name in n for n in app.notices[-1:]), what=name)
        assert "exists already" in app.notices[-1]  # never overwritten
    rows = list(csv.reader((tmp_path / "users.csv").open()))
    assert rows[0] == ["key", "name", "role", "status", "added", "revoked"]
    assert [r[0] for r in rows[1:]] == [f"u0{i}" for i in range(19, 9, -1)]
    assert [o["key"] for o in json.loads((tmp_path / "users.json").read_text())] == [r[0] for r in rows[1:]]


async def test_first_rows_show_before_the_whole_list_is_read(tmp_path, clock, monkeypatch):
    """A large SQLite allowlist arrives in parts: the view shows the first part, saying it
    is still loading, before the next is read; at the end the count is complete."""
    spec = await seed_sqlite(tmp_path / "demo.sqlite", clock)
    async with await open_store(spec, clock=clock) as s:
        for i in range(2500):  # more than the first part (2,000)
            await s.add_user(f"u{i:04d}")
    seen: list[str] = []
    extend = UsersScreen.extend

    def spy(self, data):  # what was on view when the next part came
        seen.append(str(self.table.query_one(".count").content))
        extend(self, data)

    monkeypatch.setattr(UsersScreen, "extend", spy)
    app = make_app(spec)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await loaded(pilot, UsersScreen)
        assert seen == ["row 1 of 2,000 users so far, loading…"]
        assert count(app) == "row 1 of 2,508 users"


def tracked_under(root: object) -> int:
    """How many objects the garbage collector tracks among those reachable from root."""
    seen, todo, tracked = {id(root)}, [root], 0
    while todo:
        obj = todo.pop()
        if gc.is_tracked(obj):
            tracked += 1
        for ref in gc.get_referents(obj):
            if id(ref) not in seen and not isinstance(ref, type):
                seen.add(id(ref))
                todo.append(ref)
    return tracked


@pytest.mark.parametrize("many", ["kv"], indirect=True)
async def test_kv_shows_a_preview_until_the_whole_list_replaces_it(many, monkeypatch):
    """KV reads every user before its first part: the view shows a preview of the first
    users the bucket delivers (sorted) at once, then the whole list in their place."""
    release = asyncio.Event()
    whole = KvStore.iter_user_rows

    async def held_back(self, *args, **kw):  # the whole read, held until the preview is checked
        await release.wait()
        async for part in whole(self, *args, **kw):
            yield part

    monkeypatch.setattr(KvStore, "iter_user_rows", held_back)
    monkeypatch.setattr(UsersScreen, "PREVIEW", 50)
    app = make_app(many)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, UsersScreen) and table(app).loaded, what="a preview")
        assert count(app) == "row 1 of 50 users so far, loading…"
        keys = [r[0] for r in table(app).records]
        assert len(keys) == 50 and keys == sorted(keys)
        release.set()
        await loaded(pilot, UsersScreen)
        assert count(app) == f"row 1 of {N:,} users"
        assert [r[0] for r in table(app).records] == [f"u{i:03d}" for i in range(N)]  # none twice


async def test_rows_are_left_out_of_the_garbage_collectors_walks(many):
    # the table's rows are packed into strings, arrays and tuples of untracked values: the
    # collector tracks a few objects a chunk, not one a row, so its full collections do not
    # walk the rows (a UI stall at 100k users); rows kept as objects (a dataclass, a
    # NamedTuple, a list of them) would be tracked one a row and fail this
    app = make_app(many)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await loaded(pilot, UsersScreen)
        gc.collect()
        gc.collect()  # a tuple is let go once the tuples in it are: one collection a level
        rows = table(app).records
        assert len(rows) >= N
        assert tracked_under(rows) < 20 * len(rows.rows.chunks) + 20


@pytest.mark.parametrize("many", ["sqlite"], indirect=True)
async def test_a_daemons_change_re_reads_the_rows_in_view_and_the_count(many, monkeypatch):
    """SQLite: a change re-reads the rows on screen and the count, not every row; the rows
    out of view follow once the changes stop (QUIET), and a new user (the count moved)
    is a full read at once."""
    monkeypatch.setattr(UsersScreen, "QUIET", 2.0)
    app = make_app(many)  # the default 1 s change poll
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await loaded(pilot, UsersScreen)
        screen = app.screen
        await until(pilot, lambda: not screen.feed.catch_up, timeout=5, what="no catch-up read pending")
        t = table(app)
        before = t.records
        in_view, out_of_view = t.shown_keys[3], "u449"
        assert out_of_view not in t.shown_keys
        con = sqlite3.connect(many.path, isolation_level=None)  # the daemon
        con.execute("UPDATE users SET status = 'revoked', revoked_at = 5 WHERE key IN (?, ?)",
                    (in_view, out_of_view))

        def status(key: str, rows) -> str:
            return next(r[1][3] for r in rows if r[0] == key)

        await until(pilot, lambda: status(in_view, t.shown_records) == "revoked", timeout=2.5,
                    what="the row in view")
        assert "revoked" in str(t.grid.get_row_at(3)[3])
        # shown beside the rows held: none of them read again, sorted, filtered or copied
        assert t.records is before and status(out_of_view, t.records) == "active"
        await until(pilot, lambda: status(out_of_view, t.records) == "revoked", timeout=4,
                    what="the catch-up read")
        assert status(in_view, t.records) == "revoked"

        con.execute("INSERT INTO users VALUES ('zz-new', '', 'user', 'active', 1, NULL)")
        con.close()
        await until(pilot, lambda: t.held == N + 9, timeout=2.5, what="the new user counted")
        assert count(app).endswith(f"of {N + 9} users")


@pytest.mark.parametrize("many", ["kv"], indirect=True)
async def test_a_watch_brings_each_change_to_the_users_view(many, clock):
    """KV: the view follows the users bucket; a change by someone else is on screen well
    within a second, wherever the row is, without the bucket read again; a new user (a
    row the view does not hold) is a full read."""
    app = make_app(many, poll_interval=3600)  # no marker poll: only the watch can tell
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await loaded(pilot, UsersScreen)
        screen = app.screen
        await until(pilot, lambda: screen.feed.watch is Watch.ON, timeout=5, what="the watch begun")
        t = table(app)
        before = t.records
        in_view = t.shown_keys[3]
        async with await open_store(many, clock=clock) as other:
            await other.revoke_user(in_view)
            await other.revoke_user("u449")  # out of view
            await until(pilot, lambda: "revoked" in str(t.grid.get_row_at(3)[3]), timeout=1,
                        what="the change in view")
            assert t.records is before  # nothing read again
            t.go_to(t.match_count - 1)
            await until(pilot, lambda: t.selected_key == "u449" and "revoked" in str(t.grid.get_row_at(
                t.grid.cursor_row)[3]), timeout=1, what="the change out of view, shown when scrolled to")
            await other.add_user("zz-new")
        await until(pilot, lambda: t.held == N + 1, timeout=5, what="the new user read")
