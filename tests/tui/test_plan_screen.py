"""The bulk confirmation as a plan (SPEC 11) and the change's spread (SPEC 12) in the TUI:
the plan lists each marked user by name and key; w saves it to a file and changes nothing,
and `apply` of that file changes them; y applies it as compare-and-sets, so a user changed
while the dialog was up is named and left alone; on KV the notification says how many
replicas have the change."""

from __future__ import annotations

from pathlib import Path

import pytest

from store import NatsSpec, open_store
from store.plan import Plan
from store.plan_apply import Result, apply_plan
from tests.helpers import SIZE, create_buckets, loaded, make_app, until
from tui.screens.confirm import PlanScreen
from tui.screens.users import UsersScreen


@pytest.fixture(params=["sqlite", "kv"])
async def spec(request, tmp_path, clock, bucket_prefix):
    if request.param == "sqlite":
        from store import SqliteSpec
        from store.sqlite_file import create_database

        create_database(str(tmp_path / "m.sqlite"))
        s = SqliteSpec(str(tmp_path / "m.sqlite"))
    else:
        s = NatsSpec(url=request.getfixturevalue("nats_server").url, bucket_prefix=bucket_prefix, replicas=1)
        await create_buckets(s)
    async with await open_store(s, clock=clock) as store:
        for key, name in (("alice", "Alice Liddell"), ("bob", "Bob Dylan"), ("carol", "Carol King")):
            await store.add_user(key, name)
    return s


async def mark_all_and(app, pilot, key: str) -> PlanScreen:
    await pilot.press("2")
    await loaded(pilot, UsersScreen)
    await pilot.press("space", "space", "space", key)
    await until(pilot, lambda: isinstance(app.screen, PlanScreen), what="the plan")
    return app.screen


def body(screen: PlanScreen) -> str:
    return str(screen.query_one(".dialog-body").content)


async def test_w_saves_the_plan_and_changes_nothing(spec, clock, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app(spec, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        screen = await mark_all_and(app, pilot, "r")
        shown = body(screen)
        assert "3 to revoke, 0 already revoked" in shown
        for key, name in (("alice", "Alice Liddell"), ("bob", "Bob Dylan"), ("carol", "Carol King")):
            assert key in shown and name in shown
        await pilot.press("tab", *"leavers", "shift+tab", "w")
        await until(pilot, lambda: any("plan saved to" in n for n in app.notices), what="saved")
    saved = list(Path(tmp_path).glob("plan-revoke-*.json"))
    assert len(saved) == 1
    plan = Plan.load(str(saved[0]))
    assert [u.key for u in plan.to_change] == ["alice", "bob", "carol"] and plan.reason == "leavers"
    async with await open_store(spec, clock=clock) as store:
        assert {u.status for u in await store.list_users()} == {"active"}  # nothing changed
        report = await apply_plan(store, plan, clock())
        assert [o.result for o in report.outcomes] == [Result.CHANGED] * 3
        assert {u.status for u in await store.list_users()} == {"revoked"}


async def test_y_applies_the_plan_and_leaves_a_drifted_user_alone(spec, clock):
    app = make_app(spec, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await mark_all_and(app, pilot, "r")
        # another admin changes bob while the dialog is up: revoke and reinstate
        async with await open_store(spec, clock=clock) as other:
            clock.advance(5)
            await other.revoke_user("bob")
            await other.reinstate_user("bob")
            if not isinstance(spec, NatsSpec):  # SQLite: the row must differ to be seen
                import sqlite3

                con = sqlite3.connect(spec.path)
                con.execute("UPDATE users SET name = 'Bob D.' WHERE key = 'bob'")
                con.commit()
                con.close()
        await pilot.press("y")
        await until(pilot, lambda: any("Some users not changed" in n or "bob: " in n for n in app.notices),
                    what="the drift named")
        told = " ".join(app.notices)
        assert "2 revoked, 1 not: bob: " in told and "changed since the plan" in told
        await until(pilot, lambda: any(n.startswith("2 users revoked") for n in app.notices), what="done")
        if isinstance(spec, NatsSpec):
            await until(pilot, lambda: any(n == "2 users revoked: 1/1 replicas" for n in app.notices),
                        what="the spread")
    async with await open_store(spec, clock=clock) as store:
        assert {u.key: str(u.status) for u in await store.list_users()} == {
            "alice": "revoked", "bob": "active", "carol": "revoked"}
