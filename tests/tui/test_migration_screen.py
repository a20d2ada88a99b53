"""The migration screen (key 3): run the migration from the TUI against real nats-servers.

Pilot tests drive the real app on a seeded SQLite file and check what the screen shows and
what landed in the buckets (read around the store with raw nats-py, compared to codec);
snapshot tests fix every varying text (paths, URL, timings, rates) through the screen's
formatters.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import nats
import pytest

from store import NatsSpec, SqliteSpec, User, codec, open_store
from store.dev.demo import demo_key
from store.kv import KvStore
from store.sqlite_file import create_database
from tests.helpers import SIZE, demo_file, frozen_clock, make_app, run_sync, text_of, until
from tui.screens.migration import MigrationScreen
from tui.widgets.health_panel import HealthPanel
from tui.widgets.migration_progress import MigrationProgress
from tui.widgets.parity_view import ParityView

ADA = demo_key("ada")


@pytest.fixture
def sqlite_spec(tmp_path) -> SqliteSpec:
    """The demo database, seeded with a clock that does not move."""
    return demo_file(tmp_path / "demo.sqlite")


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
                                                              bucket_prefix):
    clock = frozen_clock
    target = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    app = make_app(sqlite_spec, clock=clock, migration_target=target)
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
        assert backup.is_file() and str(backup) in screen.query_one("#migration-backup").plain
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
async def test_migration_to_three_node_cluster(sqlite_spec, cluster, bucket_prefix):
    clock = frozen_clock
    target = NatsSpec(cluster.url, bucket_prefix=bucket_prefix, replicas=3)
    app = make_app(sqlite_spec, clock=clock, migration_target=target)
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
                                                                     bucket_prefix):
    clock = frozen_clock
    bad = NatsSpec("nats://127.0.0.1:1", bucket_prefix=bucket_prefix, replicas=1, op_timeout=0.5)
    app = make_app(sqlite_spec, clock=clock, migration_target=bad)
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


async def test_kv_app_and_missing_target_say_what_is_needed(nats_server, bucket_prefix, tmp_path):
    clock = frozen_clock
    app = make_app(NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1),
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
    app = make_app(SqliteSpec(str(tmp_path / "empty.sqlite")), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        await pilot.press("m")
        await pilot.pause()
        assert any("no target" in n for n in app.notices)
        # the target field took the focus: typing goes there
        await pilot.press(*"nats://x")
        assert app.screen.query_one("#migration-target").value == "nats://x"


async def burst_migration(source, target, **_kw):
    """A scripted engine: 1,000 progress ticks in 4 bursts of 250 with no pause inside a burst."""
    from store.migrate import BucketProgress, MigrationEvent, MigrationReport
    from store.models import Snapshot
    from store.parity import diff

    total = 1000

    def prog(done: int) -> tuple:
        return tuple(BucketProgress(b, done if b == "users" else 0, total if b == "users" else 0)
                     for b in ("users", "room_keys", "members", "rooms_by_member", "rooms"))

    yield MigrationEvent("connect", "opening")
    yield MigrationEvent("backup", "backup skipped (--no-backup)")
    yield MigrationEvent("export", "exported", progress=prog(0))
    yield MigrationEvent("import", "writing", progress=prog(0), elapsed=0.1)
    for done in range(1, total + 1):
        yield MigrationEvent("import", "", progress=prog(done), elapsed=0.1 + done / 1e4)
        if done % 250 == 0:
            await asyncio.sleep(0.12)
    yield MigrationEvent("import", "wrote", progress=prog(total), elapsed=0.3)
    parity = diff(Snapshot(), Snapshot())
    yield MigrationEvent("parity", "parity: identical", parity=parity, elapsed=0.4)
    report = MigrationReport(source.path, target.label, 1, None, {"users": total}, {}, {}, parity,
                             0.5, 0.2, 0)
    yield MigrationEvent("done", "done", progress=prog(total), parity=parity, report=report,
                         elapsed=0.5)


async def test_a_burst_of_progress_is_coalesced(sqlite_spec):
    """1,000 ticks in 4 bursts are shown as a handful of updates, ending on the last counts."""

    app = make_app(sqlite_spec, clock=frozen_clock, migration_target=NatsSpec("nats://unused:4222"),
                   migration={"run": burst_migration})
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_migration(pilot)
        assert screen.outcome == "done" and screen.identical
        assert 2 <= screen.ticks_shown <= 8, screen.ticks_shown
        assert "1,000/1,000" in text_of(screen.query_one(MigrationProgress).query_one("#count-users"))
        assert "! backup  skipped" in screen_text(app, "#migration-steps")


async def test_ui_stays_responsive_during_a_large_import(tmp_path, nats_server, bucket_prefix):
    """While ~60k records are written, the app still opens the help screen on a key press."""
    from store.dev.seed import seed_database

    db = tmp_path / "big.sqlite"
    seed_database(str(db), rooms=1000, users=10000, members_per_room=10, epochs=3)
    target = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    app = make_app(SqliteSpec(str(db)), clock=frozen_clock, migration_target=target)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        screen = app.screen
        app.simulate_key("m")  # not pilot.press: it waits for an idle process
        deadline = time.monotonic() + 20
        while screen._steps["import"][0] != "running":
            assert time.monotonic() < deadline and screen.outcome is None, screen._steps
            await asyncio.sleep(0.01)
        # pilot.press waits for the process to be idle, which a busy import never is:
        # post the key like a terminal would and let the loop run
        app.simulate_key("question_mark")
        while type(app.screen).__name__ != "HelpScreen" and screen.running:
            await asyncio.sleep(0.01)
        assert type(app.screen).__name__ == "HelpScreen"
        assert screen.running, "the import ended before the help screen showed"
        assert screen._steps["import"][0] == "running"
        app.simulate_key("escape")
        app.simulate_key("m")  # a second m while it runs starts nothing
        while not any("running already" in n for n in app.notices) and screen.running:
            await asyncio.sleep(0.01)
        assert any("running already" in n for n in app.notices)
        await until(pilot, lambda: screen.outcome is not None, timeout=60, what="migration end")
        assert screen.outcome == "done" and screen.identical
        bars = screen.query_one(MigrationProgress)
        assert "30,000/30,000" in text_of(bars.query_one("#count-room_keys")) or \
            "/" in text_of(bars.query_one("#count-room_keys"))
        assert screen.ticks_shown >= 1


# -- snapshots ------------------------------------------------------------------------------

def _hide(_value: object = None) -> str:
    return ""


#: every varying text of the migration screen fixed
STILL = {"format_path": os.path.basename, "format_seconds": _hide, "format_rate": _hide}


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
    spec = demo_file(tmp_path / "demo.sqlite")
    target = NatsSpec(nats_server.url, bucket_prefix="snapdone_", replicas=1)
    app = make_app(spec, clock=frozen_clock, migration_target=target, migration=STILL)
    assert snap_compare(app, terminal_size=SIZE, run_before=_migrate_for_picture)


def test_snapshot_finished_migration_80x24(snap_compare, tmp_path, nats_server):
    """At 80 columns the steps and the target's health stack; the backup path wraps at its
    folders (here a long relative one, so the picture does not depend on tmp_path)."""
    folder = tmp_path / "a-folder-with-a-rather-long-name" / "for-the-membership-database"
    folder.mkdir(parents=True)
    spec = demo_file(folder / "demo.sqlite")
    target = NatsSpec(nats_server.url, bucket_prefix="snapdone80_", replicas=1)
    app = make_app(spec, clock=frozen_clock, migration_target=target,
                   migration={**STILL, "format_path": lambda p: os.path.relpath(p, tmp_path)})
    assert snap_compare(app, terminal_size=(80, 24), run_before=_migrate_for_picture)


def test_snapshot_parity_difference(snap_compare, tmp_path, nats_server):
    """Records only in KV (and a value that does not decode) are differences after a run."""
    spec = demo_file(tmp_path / "demo.sqlite")
    prefix = "snapdiff_"
    target = NatsSpec(nats_server.url, bucket_prefix=prefix, replicas=1)

    async def plant() -> None:
        store = await KvStore.create(target, clock=frozen_clock)
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
    app = make_app(spec, clock=frozen_clock, migration_target=target, migration=STILL)

    async def run_before(pilot) -> None:
        await _migrate_for_picture(pilot)
        assert pilot.app.screen.identical is False

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_difference_rows_show_fields_with_both_values_and_fingerprints_never_key_bytes():
    from store.models import SealedKey, Snapshot
    from store.parity import diff
    from store.text import fingerprint
    from tui.widgets.parity_view import difference_rows

    secret_a, secret_b = b"\x01sealed-for-ada-epoch-1", b"\x02sealed-for-ada-epoch-1"
    a = Snapshot(sealed_keys=(SealedKey("r1", 1, ADA, secret_a, 10),),
                 users=(User(ADA, "Ada", "admin", "active", 5, None),))
    b = Snapshot(sealed_keys=(SealedKey("r1", 1, ADA, secret_b, 10),),
                 users=(User(ADA, "Ada", "admin", "revoked", 5, 9),
                        User("kv_only", "", "user", "active", 5, None)))
    rows, covered = difference_rows(diff(a, b))
    assert covered == 3
    assert ("sealed_keys", f"r1.1.{ADA}", "field sealed_key", repr(fingerprint(secret_a)),
            repr(fingerprint(secret_b))) in rows
    assert ("users", ADA, "field status", "'active'", "'revoked'") in rows
    assert ("users", ADA, "field revoked_at", "null", "9") in rows
    assert ("users", "kv_only", "only in KV", "", "") in rows
    text = repr(rows)
    assert "sealed-for-ada" not in text and secret_a.hex() not in text
    rows, covered = difference_rows(diff(a, b), limit=1)
    assert len(rows) == 1 and covered == 1
