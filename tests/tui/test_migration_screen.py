"""The migration screen (key 3): run the migration from the TUI against real nats-servers.

Pilot tests drive the real app on a seeded SQLite file and check what the screen shows and
what landed in the buckets (read around the store with raw nats-py, compared to codec);
snapshot tests fix every varying text (paths, URL, timings, rates) through the screen's
formatters.
"""

from __future__ import annotations

import asyncio
import io
import concurrent.futures
import os
import time
from pathlib import Path

import nats
import pytest
from rich.console import Console

from store import NatsSpec, SqliteSpec, User, codec, open_store
from store.demo import daemon_join_without_key, demo_key, seed_demo
from store.sqlite import create_database
import tui.app
from tui.app import MembershipApp
from tui.screens.migration import MigrationScreen
from tui.widgets.health_panel import HealthPanel
from tui.widgets.migration_progress import MigrationProgress
from tui.widgets.parity_view import ParityView

from pilot_helpers import until

SIZE = (120, 36)
ADA = demo_key("ada")


def text_of(widget) -> str:
    """The plain text a Static shows (rich Text, Table or Group alike)."""
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(widget.content)
    return out.getvalue()


def screen_text(app, selector: str) -> str:
    return text_of(app.screen.query_one(selector))


async def run_migration(pilot, timeout: float = 30.0) -> MigrationScreen:
    await pilot.press("3")
    await until(pilot, lambda: isinstance(pilot.app.screen, MigrationScreen), what="screen 3")
    await pilot.press("m")
    screen = pilot.app.screen
    await until(pilot, lambda: screen.outcome is not None, timeout=timeout, what="migration end")
    return screen


async def raw_get(url: str, bucket: str, key: str) -> bytes:
    nc = await nats.connect(url.split(","))
    try:
        kv = await nc.jetstream().key_value(bucket)
        return (await kv.get(key)).value
    finally:
        await nc.close()


async def sqlite_state(spec: SqliteSpec):
    store = await open_store(spec)
    try:
        return await store.export_snapshot()
    finally:
        await store.close()


async def test_migration_single_node_identical_and_spec_layout(sqlite_spec, nats_server,
                                                              bucket_prefix, clock):
    target = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    app = MembershipApp(sqlite_spec, clock=clock, migration_target=target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_migration(pilot)
        assert screen.outcome == "done" and screen.identical is True
        steps = screen_text(app, "#migration-steps")
        assert "parity  identical" in steps
        assert "verified" in steps and "66 records" in steps
        parity = text_of(screen.query_one(ParityView).query_one(".parity-summary"))
        assert "parity: identical" in parity
        for line in ("rooms", "members", "sealed_keys", "users"):
            assert line in parity
        # every bar full, with its count
        bars = screen.query_one(MigrationProgress)
        assert "8/8" in text_of(bars.query_one("#count-users"))
        assert "21/21" in text_of(bars.query_one("#count-rooms_by_member"))
        # the backup is next to the database, named by the app's clock, and verified
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(clock()))
        backup = Path(sqlite_spec.path).with_name(f"demo.backup-{stamp}.sqlite")
        assert backup.is_file() and str(backup) in steps
        # then the target's health appears
        panel = screen.query_one(HealthPanel)
        await until(pilot, lambda: panel.report is not None, timeout=10, what="target health")
        assert panel.report.overall == "healthy" and panel.report.probe.allowed

    snap = await sqlite_state(sqlite_spec)
    ada: User = next(u for u in snap.users if u.key == ADA)
    assert await raw_get(target.url, bucket_prefix + "users", ADA) == codec.encode_user(ada)
    room = snap.rooms[0]
    assert await raw_get(target.url, bucket_prefix + "rooms", room.id) == codec.encode_room(room)
    k = snap.sealed_keys[-1]
    assert await raw_get(target.url, bucket_prefix + "room_keys",
                         f"{k.room_id}.{k.epoch}.{k.endpoint}") == codec.encode_key(k)
    m = snap.members[0]
    assert await raw_get(target.url, bucket_prefix + "rooms_by_member",
                         f"{m.endpoint}.{m.room_id}") == codec.encode_reverse(m)


@pytest.mark.cluster
async def test_migration_to_three_node_cluster(sqlite_spec, cluster, bucket_prefix, clock):
    target = NatsSpec(cluster.url, bucket_prefix=bucket_prefix, replicas=3)
    app = MembershipApp(sqlite_spec, clock=clock, migration_target=target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_migration(pilot, timeout=60)
        assert screen.outcome == "done", screen_text(app, "#migration-steps")
        assert screen.identical is True
        assert "replicas 3" in screen_text(app, "#migration-replicas")
        panel = screen.query_one(HealthPanel)
        await until(pilot, lambda: panel.report is not None and panel.report.overall == "healthy",
                    timeout=15, what="healthy R3 target")
        assert all(b.replicas == 3 and b.leader for b in panel.report.buckets)
        assert all(len(b.peers) == 2 for b in panel.report.buckets)
        assert "HEALTHY" in text_of(panel)

    nc = await nats.connect(cluster.url.split(","))
    try:
        info = await nc.jetstream().stream_info(f"KV_{bucket_prefix}users")
        assert info.config.num_replicas == 3
    finally:
        await nc.close()
    snap = await sqlite_state(sqlite_spec)
    ada = next(u for u in snap.users if u.key == ADA)
    assert await raw_get(cluster.url, bucket_prefix + "users", ADA) == codec.encode_user(ada)


async def test_failure_is_shown_at_its_step_and_the_screen_runs_again(sqlite_spec, nats_server,
                                                                     bucket_prefix, clock):
    bad = NatsSpec("nats://127.0.0.1:1", bucket_prefix=bucket_prefix, replicas=1, op_timeout=0.5)
    app = MembershipApp(sqlite_spec, clock=clock, migration_target=bad)
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_migration(pilot)
        assert screen.outcome == "failed"
        steps = screen_text(app, "#migration-steps")
        assert "✖ connect" in steps and "127.0.0.1:1" in steps
        assert "failed at connect" in screen_text(app, "#migration-status")
        # nothing was backed up: the connect step comes first
        assert not list(Path(sqlite_spec.path).parent.glob("*.backup-*"))

        # type the right URL and run again
        field = screen.query_one("#migration-target")
        field.value = nats_server.url
        await pilot.press("m")
        await until(pilot, lambda: screen.outcome == "done", timeout=30, what="re-run")
        assert screen.identical is True
        assert "✔ connect" in screen_text(app, "#migration-steps")


async def test_kv_app_and_missing_target_say_what_is_needed(nats_server, bucket_prefix, tmp_path,
                                                           clock):
    app = MembershipApp(NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1),
                        clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        assert "--db" in screen_text(app, "#migration-status")
        await pilot.press("m")
        await pilot.pause()
        assert any("needs --db" in n for n in app.notices)
        assert app.screen.outcome is None

    create_database(str(tmp_path / "empty.sqlite"))
    app = MembershipApp(SqliteSpec(str(tmp_path / "empty.sqlite")), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        await pilot.press("m")
        await pilot.pause()
        assert any("no target" in n for n in app.notices)
        # the target field took the focus: typing goes there
        await pilot.press(*"nats://x")
        assert app.screen.query_one("#migration-target").value == "nats://x"


async def test_progress_messages_are_coalesced(sqlite_spec, nats_server, bucket_prefix, clock):
    """A burst of progress ticks is shown at most ~10 times a second (MIN_TICK apart)."""
    target = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    app = MembershipApp(sqlite_spec, clock=clock, migration_target=target)
    seen: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        screen = app.screen
        original = screen.on_migration_event_message

        def spy(message):
            if message.event.phase == "import" and not message.event.message:
                seen.append(time.monotonic())
            original(message)

        screen.on_migration_event_message = spy
        await pilot.press("m")
        await until(pilot, lambda: screen.outcome is not None, timeout=30)
    gaps = [b - a for a, b in zip(seen, seen[1:])]
    assert all(g >= 0.05 for g in gaps), gaps  # never a burst (messages may bunch a little)


# -- snapshots ------------------------------------------------------------------------------

class FakeClock:
    """A frozen clock (snapshot tests are plain functions: no fixtures from an event loop)."""

    def __call__(self) -> int:
        return 1_767_225_600  # 2026-01-01T00:00:00Z


def run_sync(coro) -> None:
    # a loop of its own in a thread: safe whether or not a loop runs here
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


def _seed_file(path: Path) -> SqliteSpec:
    """The demo database of tests/tui/conftest.py, seeded the same way."""
    create_database(str(path))
    spec = SqliteSpec(str(path))

    async def go() -> None:
        store = await open_store(spec, clock=FakeClock())
        try:
            await seed_demo(store, FakeClock())
        finally:
            await store.close()

    run_sync(go())
    daemon_join_without_key(str(path), FakeClock()())
    return spec


def _hide(_value: object = None) -> str:
    return ""


class SnapshotApp(MembershipApp):
    """The app with every varying text of the migration screen fixed."""

    CSS_PATH = Path(tui.app.__file__).with_name("app.tcss")  # relative paths follow the subclass

    MODES = {**MembershipApp.MODES,
             "migration": lambda: MigrationScreen(format_path=os.path.basename,
                                                  format_seconds=_hide, format_rate=_hide)}


async def _migrate_for_picture(pilot) -> None:
    app = pilot.app
    screen = await run_migration(pilot)
    assert screen.outcome == "done"
    panel = screen.query_one(HealthPanel)
    await until(pilot, lambda: panel.report is not None, timeout=10, what="target health")
    # the URL's port is random: show a fixed one; the header would show the temp path
    screen.query_one("#migration-target").value = "nats://127.0.0.1:4222"
    app.sub_title = "sqlite:demo.sqlite"
    await pilot.pause()


def test_snapshot_finished_migration(snap_compare, tmp_path, nats_server):
    spec = _seed_file(tmp_path / "demo.sqlite")
    target = NatsSpec(nats_server.url, bucket_prefix="snapdone_", replicas=1)
    app = SnapshotApp(spec, clock=FakeClock(), migration_target=target)
    assert snap_compare(app, terminal_size=SIZE, run_before=_migrate_for_picture)


def test_snapshot_parity_difference(snap_compare, tmp_path, nats_server):
    """Records only in KV (and a value that does not decode) are differences after a run."""
    spec = _seed_file(tmp_path / "demo.sqlite")
    prefix = "snapdiff_"
    target = NatsSpec(nats_server.url, bucket_prefix=prefix, replicas=1)

    async def plant() -> None:
        store = await open_store(target, clock=FakeClock())
        try:
            await store.add_user("zed_only_in_kv", "Zed", "user")
        finally:
            await store.close()
        nc = await nats.connect(nats_server.url)
        try:
            kv = await nc.jetstream().key_value(prefix + "users")
            await kv.put("zz_broken", b'{"key": "zz_broken", "name": 7}')
        finally:
            await nc.close()

    run_sync(plant())
    app = SnapshotApp(spec, clock=FakeClock(), migration_target=target)

    async def run_before(pilot) -> None:
        await _migrate_for_picture(pilot)
        assert pilot.app.screen.identical is False

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
