"""The audit trail (SPEC section 10) on both backends: each change leaves exactly its events,
a change whose audit cannot be written is not made, the trail survives a migration once."""

from __future__ import annotations

import sqlite3

import nats
import nats.js.errors
import pytest

from store import InvalidInput, NatsSpec, SqliteSpec, open_store
from store.audit import Action, Actor, AuditEvent, AuditQuery, parse_since
from store.kv import KvStore
from store.migrate import run_migration
from store.sqlite_file import create_database

ACTOR = Actor("ops", "admin-1", "test")


def phases(events: list[AuditEvent]) -> list[tuple[str, str, str]]:
    return [(e.action, e.target, e.phase) for e in events]


def expected(store, *changes: tuple[str, str]) -> list[tuple[str, str, str]]:
    """SQLite writes done in the change's transaction; KV an acknowledged intent, then done."""
    kinds = ("intent", "done") if isinstance(store, KvStore) else ("done",)
    return [(action, target, phase) for action, target in changes for phase in kinds]


async def test_each_change_leaves_its_events(store, clock):
    store.actor = ACTOR
    await store.add_user("Bob", "Bob B", reason="new hire")
    clock.advance(60)
    await store.revoke_user("bob", reason="laptop lost")
    await store.revoke_user("bob", reason="again")  # no change: no event
    clock.advance(60)
    await store.reinstate_user("bob")
    events = await store.audit_events()
    assert phases(events) == expected(store, ("add_user", "bob"), ("revoke_user", "bob"), ("reinstate_user", "bob"))
    done = [e for e in events if e.phase == "done"]
    add, revoke, reinstate = done
    assert add.actor == ACTOR and add.reason == "new hire" and add.result == "ok"
    assert add.before is None and add.after["key"] == "bob" and add.after["status"] == "active"
    assert revoke.before["status"] == "active" and revoke.after["status"] == "revoked"
    assert revoke.after["revoked_at"] == revoke.at and revoke.reason == "laptop lost"
    assert reinstate.reason is None and reinstate.after["revoked_at"] is None
    assert len({e.id for e in events}) == 3  # the phases of one change share its id
    # filters, as `audit --since/--action/--target` use them
    assert phases(await store.audit_events(AuditQuery(action=Action.REVOKE_USER)))[-1][2] == "done"
    assert await store.audit_events(AuditQuery(target="alice")) == []
    assert len(await store.audit_events(AuditQuery(since=revoke.at))) == len(events) - len(expected(store, ("a", "b")))
    # the cursor of --follow: nothing new, then exactly the new change's events
    _, cursor = await store.audit_after(0)
    assert (await store.audit_after(cursor))[0] == []
    await store.add_user("carol")
    new, _ = await store.audit_after(cursor)
    assert phases(new) == expected(store, ("add_user", "carol"))


async def test_a_reason_is_checked(store):
    with pytest.raises(InvalidInput, match="reason too long"):
        await store.revoke_user("bob", reason="x" * 201)
    assert await store.audit_events() == []


async def test_sqlite_table_comes_with_the_first_change_and_leaves_the_schema_alone(tmp_path, clock):
    path = tmp_path / "m.sqlite"
    create_database(str(path))

    def tables() -> list[str]:
        con = sqlite3.connect(path)
        try:
            return [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        finally:
            con.close()

    before = tables()
    async with await open_store(SqliteSpec(str(path)), clock=clock) as s:
        assert await s.audit_events() == [] and await s.list_users() == []  # reading creates nothing
        assert tables() == before
        await s.add_user("bob")
    assert tables() == sorted([*before, "admin_audit"])
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone() == (1,)
    assert con.execute("SELECT phase, json_extract(event, '$.action') FROM admin_audit").fetchall() == [
        ("done", "add_user")]
    con.close()
    async with await open_store(SqliteSpec(str(path), read_only=True), clock=clock) as s:
        assert len(await s.audit_events()) == 1  # opened again, with the table


async def test_kv_change_refused_without_its_audit_stream(nats_server, bucket_prefix, clock):
    """Buckets a daemon made, no audit stream: a change is refused and nothing changes."""
    spec = NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    for b in ("rooms", "members", "rooms_by_member", "room_keys", "users"):
        await js.create_key_value(bucket=bucket_prefix + b)
    await nc.close()
    async with await KvStore.open(spec, clock) as s:
        from store import Unavailable

        with pytest.raises(Unavailable, match=f"no audit stream {bucket_prefix}membership_audit"):
            await s.add_user("bob")
        assert await s.list_users() == []
        assert await s.audit_events() == []


async def test_kv_stream_is_append_only_and_keeps_history(nats_server, bucket_prefix, clock):
    spec = NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    async with await KvStore.create(spec, clock) as s:
        await s.add_user("bob")
        for _ in range(3):
            clock.advance(10)
            await s.revoke_user("bob")
            clock.advance(10)
            await s.reinstate_user("bob")
        history = await s.user_history("bob")
        assert [r.user.status for r in history] == ["active"] + ["revoked", "active"] * 3
        assert all(r.at is not None and r.revision > 0 for r in history)
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    try:
        info = await js.stream_info(f"{bucket_prefix}membership_audit")
        assert info.config.deny_delete and info.config.deny_purge
        assert info.config.subjects == [f"{bucket_prefix}membership_audit.>"]
        for bucket, kept in (("users", 16), ("rooms", 16), ("members", 1)):
            assert (await js.stream_info(f"KV_{bucket_prefix}{bucket}")).config.max_msgs_per_subject == kept
        with pytest.raises(nats.js.errors.APIError):
            await js.delete_msg(f"{bucket_prefix}membership_audit", 1)
        with pytest.raises(nats.js.errors.APIError):
            await js.purge_stream(f"{bucket_prefix}membership_audit")
        assert (await js.stream_info(f"{bucket_prefix}membership_audit")).state.messages == 14
        # a retried publish (the same Nats-Msg-Id) is stored once
        first = await js.get_msg(f"{bucket_prefix}membership_audit", 1)
        ack = await js.publish(first.subject, first.data, headers={"Nats-Msg-Id": first.headers["Nats-Msg-Id"]})
        assert ack.duplicate
    finally:
        await nc.close()


async def test_migration_copies_the_trail_once(nats_server, bucket_prefix, tmp_path, clock):
    path = tmp_path / "m.sqlite"
    create_database(str(path))
    async with await open_store(SqliteSpec(str(path)), clock=clock) as s:
        s.actor = ACTOR
        await s.add_user("bob")
        await s.revoke_user("bob", reason="left")
        sqlite_events = await s.audit_events()
    target = NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    first = await run_migration(SqliteSpec(str(path)), target, backup=False, reason="go live")
    second = await run_migration(SqliteSpec(str(path)), target, backup=False)
    assert (first.audit.copied, second.audit.copied) == (2, 0)
    assert first.audit.identical and second.audit.missing_in_kv == 0
    async with await KvStore.open(target, clock) as kv:
        events = await kv.audit_events()
    copied = [e for e in events if e.action != Action.MIGRATE]
    assert copied == sqlite_events  # each once, exactly as SQLite recorded it
    runs = [(e.phase, e.reason) for e in events if e.action == Action.MIGRATE]
    assert runs == [("intent", "go live"), ("done", "go live"), ("intent", None), ("done", None)]
    done = next(e for e in events if e.action == Action.MIGRATE and e.phase == "done")
    assert done.after["parity"] == "identical" and done.after["counts"]["users"] == 1
    assert done.target == f"{SqliteSpec(str(path)).label} -> {target.label}"


def test_since_accepts_ages_and_unix_seconds():
    assert parse_since("24h", 100_000) == 100_000 - 86400
    assert parse_since("1h30m", 10_000) == 10_000 - 5400
    assert parse_since("1795000000", 0) == 1795000000
    for bad in ("yesterday", "h", "-1h", "1h 2m", "2x"):
        with pytest.raises(InvalidInput):
            parse_since(bad, 0)
