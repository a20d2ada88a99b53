"""`:` opens another backend without leaving (the migration's target, the ones opened before in
this run, the natscli contexts) and the header follows; `o` after a migration opens its target.
Real SQLite files and a real nats-server."""

from __future__ import annotations

import json

from store import NatsSpec
from tests.helpers import SIZE, demo_file, frozen_clock, loaded, make_app, seed_kv, until
from tui.screens.backends import BackendPicker
from tui.screens.migration import MigrationScreen
from tui.screens.rooms import RoomsScreen
from tui.screens.users import UsersScreen

USERS = 8


def picked(app, kind: str) -> int:
    """The picker's line of the first choice of that kind."""
    screen = app.screen
    assert isinstance(screen, BackendPicker)
    return next(i for i, c in enumerate(screen.found) if c.kind == kind)


async def pick(pilot, kind: str) -> None:
    app = pilot.app
    await pilot.press("colon")
    await until(pilot, lambda: isinstance(app.screen, BackendPicker), what="the picker")
    for _ in range(picked(app, kind)):
        await pilot.press("down")
    await pilot.press("enter")


async def test_colon_opens_the_migration_target_and_back_and_the_header_follows(tmp_path, nats_server,
                                                                               bucket_prefix):
    sqlite = demo_file(tmp_path / "demo.sqlite")
    target = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    await seed_kv(target, frozen_clock)
    await_kv_user = "kv-only"
    from store import open_store

    kv = await open_store(target, frozen_clock)
    try:
        await kv.add_user(await_kv_user)  # so the two backends' users differ
    finally:
        await kv.close()
    app = make_app(sqlite, clock=frozen_clock, migration_target=target)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await loaded(pilot, UsersScreen, USERS)
        assert app.sub_title.startswith("sqlite:")
        await pick(pilot, "migration target")
        await until(pilot, lambda: app.sub_title.startswith("nats:"), what="the header on KV")
        assert bucket_prefix in app.sub_title
        await loaded(pilot, UsersScreen, USERS + 1)  # the same view, on the other backend
        assert await_kv_user in app.screen.query_one("RecordTable").shown_keys
        assert len(app.screen_stack) == 1
        # back: the SQLite file is offered as opened before
        await pick(pilot, "recent")
        await until(pilot, lambda: app.sub_title.startswith("sqlite:"), what="the header on SQLite")
        await loaded(pilot, UsersScreen, USERS)
        await pilot.press("1")
        await loaded(pilot, RoomsScreen, 5)
        # escape keeps the backend open
        await pilot.press("colon")
        await until(pilot, lambda: isinstance(app.screen, BackendPicker))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RoomsScreen))
        assert app.sub_title.startswith("sqlite:")


async def test_colon_offers_the_natscli_contexts_with_their_header(tmp_path, nats_server, bucket_prefix,
                                                                  monkeypatch):
    config = tmp_path / "config"
    (config / "nats" / "context").mkdir(parents=True)
    (config / "nats" / "context" / "staging.json").write_text(json.dumps(
        {"url": nats_server.url, "description": "the staging cluster"}))
    (config / "membership-admin").mkdir()
    (config / "membership-admin" / "config.toml").write_text(
        '[contexts.staging]\nlabel = "STAGING"\ncolor = "darkgreen"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:1")  # the context's own URL wins in the picker
    # the KV deployment the app started on gives the prefix
    started = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    await seed_kv(started, frozen_clock)
    sqlite = demo_file(tmp_path / "demo.sqlite")
    app = make_app(sqlite, clock=frozen_clock, migration_target=started)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        await pilot.press("colon")
        await until(pilot, lambda: isinstance(app.screen, BackendPicker))
        kinds = [c.kind for c in app.screen.found]
        assert kinds == ["migration target", "context"]
        await pilot.press("escape")
        await pick(pilot, "context")
        await until(pilot, lambda: "context=staging" in app.sub_title, what="the context in the header")
        assert app.sub_title.startswith("STAGING · nats:")
        await loaded(pilot, RoomsScreen, 5)


async def test_o_after_a_migration_opens_its_target(tmp_path, nats_server, bucket_prefix):
    sqlite = demo_file(tmp_path / "demo.sqlite")
    target = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    app = make_app(sqlite, clock=frozen_clock, migration_target=target)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: isinstance(app.screen, MigrationScreen), what="screen 3")
        screen = app.screen
        await pilot.press("o")  # no migration yet
        await until(pilot, lambda: any("once a migration is done" in n for n in app.notices))
        assert app.sub_title.startswith("sqlite:")
        await pilot.press("m")
        await until(pilot, lambda: screen.outcome is not None, timeout=30, what="migration end")
        await pilot.press("o")
        await until(pilot, lambda: app.sub_title.startswith("nats:"), what="the header on the target")
        await pilot.press("2")
        await loaded(pilot, UsersScreen, USERS)


async def test_the_backends_opened_are_offered_in_the_next_run_never_with_a_secret(tmp_path, nats_server,
                                                                                  bucket_prefix):
    import os

    from tui.backends import load_recent

    recent = tmp_path / "state" / "recent.json"
    sqlite = demo_file(tmp_path / "demo.sqlite")
    target = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    await seed_kv(target, frozen_clock)
    app = make_app(sqlite, clock=frozen_clock, migration_target=target, recent_file=recent)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        await pick(pilot, "migration target")
        await until(pilot, lambda: app.sub_title.startswith("nats:"), what="the header on KV")
    opened = [f"nats:{nats_server.url} prefix={bucket_prefix}", f"sqlite:{os.path.abspath(sqlite.path)}"]
    assert [c.spec.label for c in load_recent(recent, read_only=False)] == opened  # newest first
    # the next run, on another file, offers both
    other = demo_file(tmp_path / "other.sqlite")
    app = make_app(other, clock=frozen_clock, recent_file=recent)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        await pilot.press("colon")
        await until(pilot, lambda: isinstance(app.screen, BackendPicker))
        assert [c.spec.label for c in app.screen.found] == opened
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.sub_title == f"sqlite:{os.path.abspath(sqlite.path)}", what="reopened")
    # a password is never written: such a backend is offered in its own run only
    secret = NatsSpec(nats_server.url.replace("nats://", "nats://admin:s3cret@"), bucket_prefix=bucket_prefix)
    app = make_app(secret, clock=frozen_clock, recent_file=recent)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.5)
    assert "s3cret" not in recent.read_text() and "admin" not in recent.read_text()
