"""The audit view (5) and a user's history (h), on both backends, and the revoke
confirmation's reason reaching the trail."""

from __future__ import annotations

from store import SqliteSpec
from store.dev.demo import REVOKED, demo_key
from store.kv import KvStore
from tests.helpers import SIZE, loaded, make_app, run_sync, seed_sqlite, select, shows, steps, until
from tui.screens.audit import AuditScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.history import HistoryScreen
from tui.screens.users import UsersScreen
from tui.widgets.record_table import RecordTable

MALLORY = demo_key(REVOKED)
USERS = 8  # the demo's allowlist: one add each, then mallory's revoke


def rows(app) -> list[tuple[str, ...]]:
    """The events' whole cells, newest first (the grid cuts a long reason with "…")."""
    return [tuple(r) for r in app.screen.query_one(RecordTable).plain_rows()]


async def test_audit_view_newest_first_and_a_reason_from_the_confirmation(spec):
    per_change = 2 if not isinstance(spec, SqliteSpec) else 1  # KV: intent and done
    app = make_app(spec)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await loaded(pilot, AuditScreen, (USERS + 1) * per_change)
        first = rows(app)[0]
        assert first[1:4] == ("revoke_user", "done", MALLORY) and first[4] == "ada@admin-1"
        assert first[5:] == ("ok", "left the company; key seen on a lost laptop")
        shown = str(app.screen.query_one(RecordTable).grid.get_row_at(0)[-1])
        assert shown.endswith("…") and first[6].startswith(shown[:-1])  # cut to fit 120 columns
        # reinstate mallory with a reason typed in the confirmation
        await pilot.press("2")
        await loaded(pilot, UsersScreen, USERS)
        t = app.screen.query_one(RecordTable)
        t.grid.move_cursor(row=t.shown_keys.index(MALLORY))
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("tab")
        await pilot.press(*"back from leave")  # y and n are text here, not answers
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")
        await until(pilot, lambda: any("reinstated" in n for n in app.notices), what="reinstated")
        await pilot.press("5")
        await loaded(pilot, AuditScreen, (USERS + 2) * per_change)
        assert rows(app)[0][1:4] == ("reinstate_user", "done", MALLORY)
        assert rows(app)[0][5:] == ("ok", "back from leave")
        # enter on a user's event opens that user's rooms; h its history
        await pilot.press("h")
        await loaded(pilot, HistoryScreen)
        assert app.screen.key == MALLORY


async def test_history_of_a_user(spec):
    on_kv = not isinstance(spec, SqliteSpec)
    app = make_app(spec)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await loaded(pilot, UsersScreen, USERS)
        await select(MALLORY)(pilot)
        await pilot.press("h")
        await loaded(pilot, HistoryScreen)
        what = [r[1] for r in rows(app)]
        if on_kv:  # the bucket keeps revisions: added, then revoked
            assert sum(w.startswith("revision ") for w in what) == 2
            assert what.count("revoke_user intent") == 1 and what.count("add_user done") == 1
        else:  # SQLite keeps the current row; the trail has the changes
            assert what.count("current record") == 1
            assert what.count("revoke_user done") == 1 and what.count("add_user done") == 1
        revoke = next(r for r in rows(app) if r[1] == "revoke_user done")
        assert revoke[2] == "revoked" and "reason: left the company" in revoke[3]
        await pilot.press("escape")
        await loaded(pilot, UsersScreen, USERS)


async def test_h_without_a_user_says_so(spec):
    app = make_app(spec)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("h")  # the rooms view: no user selected
        await until(pilot, lambda: any("select a user first" in n for n in app.notices))


def demo(tmp_path, clock, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_sync(seed_sqlite(tmp_path / "demo.sqlite", clock))
    return make_app(SqliteSpec("demo.sqlite"), clock=clock, poll_interval=3600, blink=False)


def test_snapshot_audit_view(snap_compare, tmp_path, clock, monkeypatch):
    assert snap_compare(demo(tmp_path, clock, monkeypatch), terminal_size=SIZE,
                        run_before=steps(("5",), shows(AuditScreen, USERS + 1)))


def test_snapshot_user_history(snap_compare, tmp_path, clock, monkeypatch):
    assert snap_compare(demo(tmp_path, clock, monkeypatch), terminal_size=SIZE, run_before=steps(
        ("2",), shows(UsersScreen, USERS), select(MALLORY), ("h",), shows(HistoryScreen, 3)))


async def test_kv_buckets_made_by_the_tool_keep_sixteen_revisions(nats_server, bucket_prefix, clock):
    from store import NatsSpec

    async with await KvStore.create(NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix, replicas=1),
                                    clock) as s:
        await s.add_user("bob")
        for _ in range(10):
            await s.revoke_user("bob")
            await s.reinstate_user("bob")
        history = await s.user_history("bob")
    assert len(history) == 16 and history[-1].user is not None and history[-1].user.status == "active"


async def test_enter_opens_only_what_a_row_names(tmp_path, clock):
    """enter on the audit view: the event's user, one screen; an event naming no user (a
    migration): nothing. enter on a history row: that event or revision whole, in a pane."""
    from store import open_store
    from store.audit import Action, Actor, AuditEvent, AuditPhase
    from tui.screens.detail import DetailScreen
    from tui.screens.user_rooms import UserRoomsScreen

    spec = await seed_sqlite(tmp_path / "demo.sqlite", clock)
    migration = AuditEvent("m1", clock() + 60, AuditPhase.DONE, Actor("ada", "admin-1", "sqlite:demo"),
                           Action.MIGRATE, "sqlite:demo.sqlite -> nats://127.0.0.1:4222")
    store = await open_store(spec, clock)
    try:
        await store.write_audit([migration])
    finally:
        await store.close()
    app = make_app(spec)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await loaded(pilot, AuditScreen, USERS + 2)
        assert rows(app)[0][1] == "migrate"
        base = len(app.screen_stack)
        await pilot.press("enter")  # the migration's event: it names no user
        await pilot.pause(0.3)
        assert len(app.screen_stack) == base and isinstance(app.screen, AuditScreen)
        await pilot.press("down", "enter")  # mallory's revoke
        await until(pilot, lambda: isinstance(app.screen, UserRoomsScreen), what="the user's rooms")
        await pilot.pause(0.3)
        assert len(app.screen_stack) == base + 1 and app.screen.key == MALLORY
        await pilot.press("escape")
        await loaded(pilot, AuditScreen)
        await pilot.press("h")  # mallory's history
        await loaded(pilot, HistoryScreen)
        first = rows(app)[0]
        assert first[1] == "revoke_user done"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail pane")
        await pilot.pause(0.3)
        assert len(app.screen_stack) == base + 2  # the pane alone, no "user 0"
        text = app.screen.text
        assert '"action": "revoke_user"' in text and '"reason": "left the company' in text
        assert '"status": "revoked"' in text  # the record after the change, whole
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        # SQLite's one stored revision: the current record
        at = [r[1] for r in rows(app)].index("current record")
        app.screen.query_one(RecordTable).grid.move_cursor(row=at)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail pane")
        assert app.screen.title_text == "current record" and f'"key": "{MALLORY}"' in app.screen.text
