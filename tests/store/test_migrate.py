"""The migration SQLite -> KV on real SQLite files and real nats-server processes."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
from pathlib import Path

import nats
import pytest

from store import NatsSpec, SqliteSpec, open_store
from store.backup import backup_database, backup_name
from store.dev.local_nats import free_port
from store.errors import InvalidInput
from store.migrate import WRITE_ORDER, KvChangesFound, migrate, run_migration
from store.parity import ONLY_IN_KV, diff
from store.restore import write_database
from store.snapshot import export_json
from store.sqlite_file import build_database


def make_db(path: Path, rooms: int = 12, per_room: int = 4, epochs: int = 3) -> None:
    """A schema-v1 file with every shape of record: encrypted rooms at several epochs,
    plain rooms at epoch 0, revoked users, admins, non-ASCII names."""
    def fill(con: sqlite3.Connection) -> None:
        con.execute("BEGIN")
        n_users = rooms * per_room
        con.executemany("INSERT INTO users VALUES (?,?,?,?,?,?)", [
            (f"u{i:06d}", f"Usér {i}", "admin" if i % 7 == 0 else "user",
             "revoked" if i % 5 == 0 else "active", 1000 + i, 2000 + i if i % 5 == 0 else None)
            for i in range(n_users)])
        for r in range(rooms):
            rid = f"Room-{r:05d}"
            enc = r % 3 != 0
            epoch = (1 + (r // 3) % epochs) if enc else 0
            mem = [f"u{(r * per_room + j) % n_users:06d}" for j in range(per_room)]
            con.execute("INSERT INTO rooms VALUES (?,?,?,?,?,?)",
                        (rid, f"Room {r} ✓", int(enc), mem[0], epoch, 500 + r))
            con.executemany("INSERT INTO members VALUES (?,?,?,?)",
                            [(rid, m, "owner" if j == 0 else "member", 600 + j) for j, m in enumerate(mem)])
            con.executemany("INSERT INTO room_keys VALUES (?,?,?,?,?)",
                            [(rid, e, m, hashlib.sha256(f"{rid}{e}{m}".encode()).digest(), 700 + e)
                             for e in range(1, epoch + 1) for m in mem])
        con.execute("COMMIT")
    build_database(str(path), fill)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def kv_state(spec: NatsSpec):
    s = await open_store(spec)
    try:
        return await s.export_snapshot()
    finally:
        await s.close()


async def sqlite_state(path: Path):
    s = await open_store(SqliteSpec(str(path)))
    try:
        return await s.export_snapshot()
    finally:
        await s.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "membership.sqlite"
    make_db(path)
    return path


async def test_migration_copies_everything_and_reports_progress(db, nats_server, bucket_prefix):
    target = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    events = [ev async for ev in migrate(SqliteSpec(str(db)), target)]

    phases = [ev.phase for ev in events]
    assert phases[0] == "connect" and phases[-1] == "done"
    assert [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p] == [
        "connect", "backup", "export", "import", "parity", "done"]
    report = events[-1].report
    assert report is not None and report.identical
    source = await sqlite_state(db)
    assert report.counts == {"users": 48, "room_keys": len(source.sealed_keys), "members": 48,
                             "rooms_by_member": 48, "rooms": 12}
    final = events[-1].progress
    assert [p.bucket for p in final] == list(WRITE_ORDER)
    assert all(p.done == p.total for p in final)
    # the backup is a verified copy next to the database
    assert report.backup is not None and report.backup.verified
    backup = Path(report.backup.path)
    assert backup.parent == db.parent and backup.stat().st_size == report.backup.size
    assert await sqlite_state(backup) == source
    # byte for byte the same export on both sides: epochs, statuses, revoked_at preserved
    kv = await kv_state(target)
    assert export_json(kv) == export_json(source)
    assert {u.status for u in kv.users} == {"active", "revoked"}
    assert {r.epoch for r in kv.rooms} == {0, 1, 2, 3}


async def last_sequences(url: str, prefix: str) -> dict[str, int]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        return {b: (await js.stream_info(f"KV_{prefix}{b}")).state.last_seq for b in WRITE_ORDER}
    finally:
        await nc.close()


async def test_second_run_changes_nothing(db, nats_server, bucket_prefix):
    target = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    first = await run_migration(SqliteSpec(str(db)), target, backup=False)
    assert first.written == first.records and not any(first.unchanged.values())
    before = await kv_state(target)
    sequences = await last_sequences(nats_server.url, bucket_prefix)
    second = await run_migration(SqliteSpec(str(db)), target, backup=False)
    assert first.identical and second.identical
    assert second.backup is None
    assert await kv_state(target) == before
    # not one write: no new revision a daemon watching the buckets would see
    assert await last_sequences(nats_server.url, bucket_prefix) == sequences
    assert second.written == 0 and second.unchanged == second.counts


async def test_a_run_again_writes_only_what_differs(db, nats_server, bucket_prefix):
    target = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    await run_migration(SqliteSpec(str(db)), target, backup=False)
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        users = await js.key_value(f"{bucket_prefix}users")
        await users.delete("u000001")  # as if a crash had lost it
        await users.put("u000002", b'{"key":"u000002"}')  # a stale value
        # changed in KV since the migration, by someone else: a re-run writes nothing (SPEC 5.7)
        with pytest.raises(KvChangesFound) as found:
            await run_migration(SqliteSpec(str(db)), target, backup=False)
        assert {(c.bucket, c.key, c.kv) for c in found.value.conflicts} == {
            ("users", "u000001", None), ("users", "u000002", b'{"key":"u000002"}')}
        assert (await users.get("u000002")).value == b'{"key":"u000002"}'
    finally:
        await nc.close()
    again = await run_migration(SqliteSpec(str(db)), target, backup=False, overwrite_kv_changes=True)
    assert again.identical
    assert again.written == 2 and again.unchanged["users"] == again.counts["users"] - 2
    assert {c.key for c in again.overwritten} == {"u000001", "u000002"}
    assert await kv_state(target) == await sqlite_state(db)
    # each overwrite is its own audited change; then the records are the migration's again
    kv = await open_store(target)
    try:
        events = await kv.audit_events()
    finally:
        await kv.close()
    done = {e.target: e for e in events if e.action == "overwrite_kv" and e.phase == "done"}
    assert set(done) == {"u000001", "u000002"}
    assert done["u000001"].before is None and done["u000001"].after["key"] == "u000001"
    assert done["u000002"].before == {"key": "u000002"}
    third = await run_migration(SqliteSpec(str(db)), target, backup=False)
    assert third.identical and third.written == 0


async def test_records_only_in_kv_are_reported_then_pruned_when_asked(db, nats_server, bucket_prefix, clock):
    target = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    await run_migration(SqliteSpec(str(db)), target, backup=False)
    kv = await open_store(target, clock=clock)
    try:
        await kv.add_user("Extra", "only in kv")
        await kv.create_room("kv-only", "KV room", "extra")
    finally:
        await kv.close()

    report = await run_migration(SqliteSpec(str(db)), target, backup=False)
    assert not report.identical
    assert {(d.entity, d.key, d.kind) for d in report.parity.differences} == {
        ("users", "extra", ONLY_IN_KV), ("rooms", "kv-only", ONLY_IN_KV),
        ("members", "kv-only.extra", ONLY_IN_KV), ("rooms_by_member", "extra.kv-only", ONLY_IN_KV)}
    assert report.pruned == {}

    # an admin added them in KV after the migration: pruning them overwrites KV's changes
    with pytest.raises(KvChangesFound) as found:
        await run_migration(SqliteSpec(str(db)), target, backup=False, prune_extra=True)
    assert {(c.bucket, c.key, c.sqlite) for c in found.value.conflicts} == {
        ("users", "extra", None), ("rooms", "kv-only", None), ("members", "kv-only.extra", None),
        ("rooms_by_member", "extra.kv-only", None)}
    by = {c.key: c.by for c in found.value.conflicts}
    assert "add_user" in by["extra"] and by["kv-only"] == ""  # the trail knows who added the user
    pruned = await run_migration(SqliteSpec(str(db)), target, backup=False, prune_extra=True,
                                 overwrite_kv_changes=True)
    assert pruned.identical
    assert pruned.pruned == {"rooms": 1, "rooms_by_member": 1, "members": 1, "room_keys": 0, "users": 1}
    assert export_json(await kv_state(target)) == export_json(await sqlite_state(db))


async def test_unreachable_target_leaves_nothing_behind(db, bucket_prefix):
    before = digest(db)
    files = sorted(os.listdir(db.parent))
    target = NatsSpec(f"nats://127.0.0.1:{free_port()}", bucket_prefix=bucket_prefix, op_timeout=0.5)
    events = [ev async for ev in migrate(SqliteSpec(str(db)), target)]
    assert events[-1].phase == "failed" and events[-1].error_kind == "unavailable"
    assert "backup" not in [ev.phase for ev in events]
    assert digest(db) == before
    assert sorted(os.listdir(db.parent)) == files


async def test_bad_source_fails_as_invalid_input(tmp_path, nats_server, bucket_prefix):
    target = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    foreign = tmp_path / "notes.txt"
    foreign.write_text("not a database")
    for path in (tmp_path / "missing.sqlite", foreign):
        events = [ev async for ev in migrate(SqliteSpec(str(path)), target)]
        assert events[-1].phase == "failed" and events[-1].error_kind == "invalid", events[-1]
    assert foreign.read_text() == "not a database"
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


@pytest.mark.cluster
async def test_r3_migration_survives_a_node_restart(tmp_path, cluster, bucket_prefix):
    path = tmp_path / "big.sqlite"
    make_db(path, rooms=600, per_room=10, epochs=3)  # ~30k records: the import lasts a while
    target = NatsSpec(cluster.url, bucket_prefix=bucket_prefix, replicas=3, op_timeout=2.0)
    killed = restarted = False
    report = None
    async for ev in migrate(SqliteSpec(str(path)), target, backup=False):
        # the writes begin (the buckets are made after the conflict check, SPEC 5.7)
        if ev.phase == "import" and ev.message.startswith("importing") and not killed:
            cluster.kill(1)
            killed = True
        elif ev.phase == "import" and killed and not restarted and ev.elapsed > 1.0:
            await asyncio.to_thread(cluster.restart, 1)
            restarted = True
        if ev.phase == "failed":
            pytest.fail(ev.message)
        report = ev.report or report
    assert killed
    if not restarted:  # the import was faster than the restart: bring it back now
        cluster.restart(1)
    assert report is not None and report.identical and report.replicas == 3
    assert report.records > 25_000
    assert export_json(await kv_state(target)) == export_json(await sqlite_state(path))


def test_backup_never_overwrites_and_is_verified(db):
    first = backup_database(db, now=0)
    second = backup_database(db, now=0)
    assert first.path != second.path
    assert Path(first.path).name == "membership.backup-19700101T000000Z.sqlite"
    assert Path(second.path).name == "membership.backup-19700101T000000Z-1.sqlite"
    assert first.verified and second.verified
    assert first.counts == {"rooms": 12, "members": 48, "room_keys": first.counts["room_keys"], "users": 48}
    assert backup_name(db, now=0).name == "membership.backup-19700101T000000Z-2.sqlite"
    assert not [f for f in os.listdir(db.parent) if f.endswith(".tmp")]


async def test_restore_writes_a_new_database_equal_to_the_snapshot(db, tmp_path):
    snap = await sqlite_state(db)
    out = tmp_path / "restored.sqlite"
    info = write_database(snap, out)
    assert info.counts["rooms"] == 12 and info.size == out.stat().st_size
    assert await sqlite_state(out) == snap
    with pytest.raises(InvalidInput):
        write_database(snap, out)  # never overwrites
    with pytest.raises(InvalidInput):
        write_database(snap, tmp_path / "nodir" / "x.sqlite")
    assert sorted(os.listdir(tmp_path)) == ["membership.sqlite", "restored.sqlite"]
    assert diff(await sqlite_state(out), snap).identical


@pytest.mark.parametrize("room_id,endpoint,epoch", [
    ("room-1", "abc_DEF-09", 3), ('we"ird', "a\\b", 1), ("tab\there", "é", 2), ("x", "\x7f", 0),
    ("ünï", "ok", 10**12), ("r", "e", True),
])
def test_fast_key_encoding_is_byte_identical_to_the_json_encoder(room_id, endpoint, epoch):
    import json

    from store import codec
    from store.models import SealedKey

    k = SealedKey(room_id, epoch, endpoint, b"\x00\xffsecret", 1_767_225_600)
    expected = json.dumps(codec.key_obj(k), separators=(",", ":"), ensure_ascii=False).encode()
    assert codec.encode_key(k) == expected
