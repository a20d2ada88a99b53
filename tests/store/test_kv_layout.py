"""The KV backend against SPEC section 4, read and written around the store with raw nats-py."""

from __future__ import annotations

import base64
import json

import nats
import pytest

from store import BadRecord, InvalidInput, InvalidRecord, NatsSpec, ReadOnly, Unavailable
from store.kv import BUCKETS, KvStore
from tests.helpers import FIXED_NOW


@pytest.fixture
async def raw(nats_server):
    nc = await nats.connect(nats_server.url)
    try:
        yield nc
    finally:
        await nc.close()


@pytest.fixture
async def kv(nats_server, bucket_prefix, clock):
    s = await KvStore.create(NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix, replicas=1),
                             clock=clock)
    try:
        yield s
    finally:
        await s.close()


async def raw_value(nc, bucket: str, key: str) -> bytes:
    return (await (await nc.jetstream().key_value(bucket)).get(key)).value


async def test_values_byte_for_byte(kv, raw, bucket_prefix):
    p = bucket_prefix
    await kv.add_user("ALICE", "Alice Ünïcode", "admin")
    await kv.create_room("Room-1", "Salle é", "Alice", encrypted=True, sealed_key=b"k1")
    await kv.add_member("Room-1", "Bob", sealed_key=b"\x00\xffkey")
    await kv.create_room("plain", "", "bob")

    assert await raw_value(raw, p + "users", "alice") == (
        '{"key":"alice","name":"Alice Ünïcode","role":"admin","status":"active",'
        f'"added_at":{FIXED_NOW},"revoked_at":null}}').encode()
    assert await raw_value(raw, p + "rooms", "Room-1") == (
        '{"id":"Room-1","name":"Salle é","encrypted":true,"owner":"alice","epoch":1,'
        f'"created_at":{FIXED_NOW}}}').encode()
    assert await raw_value(raw, p + "rooms", "plain") == (
        '{"id":"plain","name":"","encrypted":false,"owner":"bob","epoch":0,'
        f'"created_at":{FIXED_NOW}}}').encode()
    assert await raw_value(raw, p + "members", "Room-1.bob") == (
        f'{{"room_id":"Room-1","endpoint":"bob","role":"member","joined_at":{FIXED_NOW}}}').encode()
    assert await raw_value(raw, p + "members", "Room-1.alice") == (
        f'{{"room_id":"Room-1","endpoint":"alice","role":"owner","joined_at":{FIXED_NOW}}}').encode()
    assert await raw_value(raw, p + "rooms_by_member", "bob.Room-1") == \
        b'{"room_id":"Room-1","endpoint":"bob"}'
    # base64 with padding: 6 bytes -> 8 chars without "=", 2 bytes -> "azE="
    assert await raw_value(raw, p + "room_keys", "Room-1.1.alice") == (
        f'{{"room_id":"Room-1","epoch":1,"endpoint":"alice","sealed_key":"azE=","created_at":{FIXED_NOW}}}'
    ).encode()
    assert json.loads(await raw_value(raw, p + "room_keys", "Room-1.1.bob"))["sealed_key"] == \
        base64.b64encode(b"\x00\xffkey").decode()

    await kv.revoke_user("alice")
    v = json.loads(await raw_value(raw, p + "users", "alice"))
    assert v["status"] == "revoked" and v["revoked_at"] == FIXED_NOW and type(v["revoked_at"]) is int

    # exactly the five buckets, named prefix + base, streams KV_<bucket>
    names = {si.config.name async for si in _streams(raw)}
    assert {f"KV_{p}{b}" for b in BUCKETS} <= names
    assert kv.bucket("users") == p + "users" and kv.replicas_used == 1


async def _streams(nc):
    for si in await nc.jetstream().streams_info():
        yield si


async def test_reads_what_the_daemon_wrote(kv, raw, bucket_prefix):
    """Values written by someone else (with unknown extra fields) read back as models."""
    p = bucket_prefix
    js = raw.jetstream()
    users = await js.key_value(p + "users")
    await users.put("carol", b'{"key":"carol","name":"C","role":"user","status":"active",'
                             b'"added_at":5,"revoked_at":null,"extra":1}')
    u = await kv.get_user("CAROL")
    assert (u.key, u.name, u.role, u.status, u.added_at, u.revoked_at) == ("carol", "C", "user", "active", 5, None)
    assert await kv.is_authorized("carol") and not await kv.is_admin("carol")


async def test_malformed_values_are_reported(kv, raw, bucket_prefix):
    p = bucket_prefix
    js = raw.jetstream()
    await kv.add_user("good")
    await kv.create_room("r", "room", "good")
    await (await js.key_value(p + "users")).put("bad", b"not json")
    await (await js.key_value(p + "users")).put("other", b'{"key":"someone","name":"","role":"user",'
                                                          b'"status":"active","added_at":1,"revoked_at":null}')
    await (await js.key_value(p + "users")).put("weird", b'{"key":"weird","name":"","role":"user",'
                                                          b'"status":"paused","added_at":1,"revoked_at":null}')
    await (await js.key_value(p + "rooms")).put("r2", b'{"id":"r2","name":"x","encrypted":"yes",'
                                                      b'"owner":"good","epoch":0,"created_at":1}')
    await (await js.key_value(p + "room_keys")).put(
        "r.1.good", b'{"room_id":"r","epoch":1,"endpoint":"good","sealed_key":"!!notbase64","created_at":1}')
    # a member without its reverse row, and a reverse row without its member
    await (await js.key_value(p + "members")).put(
        "r.dave", b'{"room_id":"r","endpoint":"dave","role":"member","joined_at":1}')
    await (await js.key_value(p + "rooms_by_member")).put("erin.r", b'{"room_id":"r","endpoint":"erin"}')

    snap = await kv.export_snapshot()
    got = {(i.bucket, i.key): i.reason for i in snap.invalid}
    assert set(got) == {
        (p + "users", "bad"), (p + "users", "other"), (p + "users", "weird"), (p + "rooms", "r2"),
        (p + "room_keys", "r.1.good"), (p + "members", "r.dave"), (p + "rooms_by_member", "erin.r"),
    }
    assert "not JSON" in got[(p + "users", "bad")]
    assert "someone" in got[(p + "users", "other")]
    assert "base64" in got[(p + "room_keys", "r.1.good")]
    assert "rooms_by_member" in got[(p + "members", "r.dave")]
    assert all(isinstance(i, InvalidRecord) for i in snap.invalid)
    # the decodable records are all still there
    assert [u.key for u in snap.users] == ["good"]
    assert [r.id for r in snap.rooms] == ["r"]
    assert [(m.room_id, m.endpoint) for m in snap.members] == [("r", "dave"), ("r", "good")]
    # a bad authorization record denies, never raises
    assert await kv.is_authorized("bad") is False
    assert await kv.is_authorized("weird") is False
    with pytest.raises(BadRecord):  # a stored record, not the caller's input
        await kv.get_user("bad")


async def test_deleted_keys_are_not_records(kv, raw, bucket_prefix):
    await kv.add_user("a")
    await kv.add_user("b")
    await kv.create_room("r", "room", "a")
    await kv.add_member("r", "b")
    await kv.remove_member("r", "b")
    await (await raw.jetstream().key_value(bucket_prefix + "users")).purge("b")
    snap = await kv.export_snapshot()
    assert [u.key for u in snap.users] == ["a"]
    assert [(m.room_id, m.endpoint) for m in snap.members] == [("r", "a")]
    assert snap.invalid == ()
    assert await kv.rooms_of_member("b") == []
    assert await kv.member_counts() == {"r": 1}
    assert await kv.is_authorized("b") is False
    await kv.delete_room("r")
    snap = await kv.export_snapshot()
    assert snap.rooms == () and snap.members == () and snap.invalid == ()


async def test_daemon_bucket_with_direct_gets_is_used_as_is(nats_server, raw, bucket_prefix):
    js = raw.jetstream()
    for b in BUCKETS:
        await js.create_key_value(bucket=bucket_prefix + b, history=5, direct=True)
    s = await KvStore.open(NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix, replicas=3))
    try:
        assert s.replicas_used == 1  # found, not created with the requested 3
        info = await js.stream_info(f"KV_{bucket_prefix}users")
        assert info.config.max_msgs_per_subject == 5 and info.config.allow_direct is True
        # a change needs the audit stream, which the migration adds to the daemon's buckets
        await s.ensure_buckets()
        assert (await js.stream_info(f"KV_{bucket_prefix}users")).config.max_msgs_per_subject == 5
        await s.add_user("alice")
        assert (await s.get_user("alice")).key == "alice"

        # a spy sees which JetStream API the authorization read uses
        seen: list[str] = []

        async def spy(msg):
            seen.append(msg.subject)

        sub1 = await raw.subscribe("$JS.API.DIRECT.GET.>", cb=spy)
        sub2 = await raw.subscribe("$JS.API.STREAM.MSG.GET.>", cb=spy)
        await raw.flush()
        assert await s.is_authorized("alice") is True
        await raw.flush()
        await sub1.unsubscribe()
        await sub2.unsubscribe()
        assert any(x.startswith("$JS.API.STREAM.MSG.GET.") for x in seen)
        assert not any(x.startswith("$JS.API.DIRECT.GET.") for x in seen)
    finally:
        await s.close()


async def test_replicas_and_prefix(nats_server, raw, bucket_prefix):
    for bad in (0, 6):
        with pytest.raises(InvalidInput):
            NatsSpec(url=nats_server.url, replicas=bad)
    # None on a single node: R3 does not fit, R1 is used and told
    a = await KvStore.create(NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix + "a_"))
    b = await KvStore.create(NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix + "b_", replicas=1))
    try:
        assert a.replicas_used == 1
        info = await raw.jetstream().stream_info(f"KV_{bucket_prefix}a_rooms")
        assert info.config.num_replicas == 1
        await a.add_user("only-in-a")
        assert [u.key for u in await a.list_users()] == ["only-in-a"]
        assert await b.list_users() == []
        assert await b.is_authorized("only-in-a") is False
    finally:
        await a.close()
        await b.close()


async def test_opening_never_creates_and_read_only_refuses_writes(nats_server, raw, bucket_prefix):
    # SPEC 9: opening (read-only or not) never creates a bucket; a missing one is named
    for read_only in (True, False):
        with pytest.raises(Unavailable, match=rf"buckets {bucket_prefix}rooms, .* do not exist "
                                              rf"\(prefix '{bucket_prefix}', nats://127.0.0.1:\d+\)"):
            await KvStore.open(NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix, read_only=read_only))
    names = {si.config.name for si in await raw.jetstream().streams_info()}
    assert not any(n.startswith(f"KV_{bucket_prefix}") for n in names)
    # on existing buckets: reads work, writes refused and nothing written
    w = await KvStore.create(NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix, replicas=1))
    await w.add_user("alice")
    await w.close()
    s = await KvStore.open(NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix, read_only=True))
    try:
        assert [u.key for u in await s.list_users()] == ["alice"]
        with pytest.raises(ReadOnly):
            await s.add_user("x")
        with pytest.raises(ReadOnly):
            await s.create_room("r", "n", "o")
        with pytest.raises(ReadOnly):
            await s.ensure_buckets(1)
        with pytest.raises(ReadOnly):
            await s.revoke_user("alice")
        assert (await s.get_user("alice")).status == "active"
    finally:
        await s.close()


async def test_compare_and_set_conflicts(kv, raw, bucket_prefix):
    """A change made between read and write (by another admin) is a Conflict, not overwritten."""
    from store import Conflict

    await kv.add_user("alice")
    users = await raw.jetstream().key_value(bucket_prefix + "users")
    entry = await users.get("alice")
    real_get = kv._get
    raced = []

    async def racing_get(base, key):
        got = await real_get(base, key)
        if base == "users" and key == "alice" and not raced:
            # another admin writes right after our (first) read
            raced.append(key)
            await users.update("alice", entry.value.replace(b'"name":""', b'"name":"other"'), entry.revision)
        return got

    kv._get = racing_get
    with pytest.raises(Conflict):
        await kv.revoke_user("alice")
    kv._get = real_get
    u = await kv.get_user("alice")
    assert u.name == "other" and u.status == "active"


GOOD = {
    "room": {"id": "R-1", "name": "n", "encrypted": True, "owner": "abc", "epoch": 2, "created_at": 5},
    "member": {"room_id": "R-1", "endpoint": "abc", "role": "member", "joined_at": 5},
    "reverse": {"room_id": "R-1", "endpoint": "abc"},
    "key": {"room_id": "R-1", "epoch": 1, "endpoint": "abc", "sealed_key": "azE=", "created_at": 5},
    "user": {"key": "abc", "name": "", "role": "user", "status": "revoked", "added_at": 1, "revoked_at": 2},
}
BAD_FIELDS = {  # one changed field each; every one must be refused
    "room": [("id", "bad id"), ("encrypted", 1), ("owner", "ABC"), ("epoch", -1), ("epoch", True),
             ("created_at", 1.5), ("name", None)],
    "member": [("role", "admin"), ("endpoint", "a.b"), ("joined_at", "5"), ("room_id", "x" * 65)],
    "reverse": [("endpoint", "Abc"), ("room_id", 7)],
    "key": [("sealed_key", "azE"), ("sealed_key", "!!"), ("epoch", False), ("endpoint", "")],
    "user": [("status", "paused"), ("revoked_at", True), ("revoked_at", "1"), ("role", "owner"),
             ("key", "K"), ("added_at", None)],
}


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_codec_fast_paths_accept_and_refuse_like_the_checks(kind):
    """The bulk decoders' fast paths must agree with the field-by-field checks."""
    from store import codec

    from_obj, decode = getattr(codec, f"{kind}_from_obj"), getattr(codec, f"decode_{kind}")
    good = GOOD[kind]
    assert from_obj(dict(good)) == decode(json.dumps(good).encode())
    assert from_obj({**good, "unknown": [1]}) == from_obj(good)  # unknown fields ignored
    for name, value in BAD_FIELDS[kind]:
        with pytest.raises(ValueError):
            from_obj({**good, name: value})
    for name in good:
        if not (kind == "user" and name == "revoked_at"):  # revoked_at may be left out
            with pytest.raises(ValueError):
                from_obj({k: v for k, v in good.items() if k != name})
    with pytest.raises(ValueError):
        from_obj([good])
    assert codec.load_many([json.dumps(good).encode(), b"{}"]) == [good, {}]
    assert codec.load_many([b'{"a":1', b'"b":2}']) is None  # would merge into one object


async def test_rewrites_keep_fields_a_newer_daemon_wrote(kv, raw, bucket_prefix, clock):
    """SPEC 4: readers ignore unknown fields and a rewrite keeps them (revoke, reinstate, rekey)."""
    p = bucket_prefix
    js = raw.jetstream()
    users = await js.key_value(p + "users")
    await users.put("carol", b'{"key":"carol","name":"Carol","role":"user","status":"active",'
                             b'"added_at":5,"revoked_at":null,"mfa":{"totp":true},"tier":3}')
    clock.advance(10)
    await kv.revoke_user("carol")
    after = json.loads(await raw_value(raw, p + "users", "carol"))
    assert after == {"key": "carol", "name": "Carol", "role": "user", "status": "revoked", "added_at": 5,
                     "revoked_at": FIXED_NOW + 10, "mfa": {"totp": True}, "tier": 3}
    await kv.reinstate_user("carol")
    after = json.loads(await raw_value(raw, p + "users", "carol"))
    assert (after["status"], after["revoked_at"], after["mfa"], after["tier"]) == ("active", None, {"totp": True}, 3)

    await kv.create_room("r", "Room", "carol", encrypted=True, sealed_key=b"k1")
    rooms = await js.key_value(p + "rooms")
    stored = json.loads(await raw_value(raw, p + "rooms", "r"))
    await rooms.put("r", json.dumps({**stored, "policy": "strict"}, separators=(",", ":")).encode())
    await kv.rekey("r", {"carol": b"k2"})
    after = json.loads(await raw_value(raw, p + "rooms", "r"))
    assert after == {**stored, "epoch": 2, "policy": "strict"}
