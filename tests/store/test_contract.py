"""The Store contract (SPEC sections 1-2), written only against store.base.Store.

Runs once per backend through the `store` fixture; both must give the same answers.
Values are compared, never revisions.
"""

from __future__ import annotations

import pytest

from store import AlreadyExists, InvalidInput, Member, NotFound, Room, SealedKey, User
from store.snapshot import export_json
from tests.helpers import FIXED_NOW  # the clock fixture's start

K1, K2, K3 = b"sealed-one", b"sealed-two", b"sealed-three"


async def encrypted_room(store, rid="Room-1", owner="Owner") -> Room:
    return await store.create_room(rid, "Room one", owner, encrypted=True, sealed_key=K1)


# -- rooms ---------------------------------------------------------------------

async def test_create_unencrypted_room(store, clock):
    room = await store.create_room("lobby", "Lobby", "AliceKey")
    assert room == Room("lobby", "Lobby", False, "alicekey", 0, FIXED_NOW)
    assert await store.get_room("lobby") == room
    assert await store.list_members("lobby") == [Member("lobby", "alicekey", "owner", FIXED_NOW)]
    assert await store.list_keys("lobby") == []


async def test_create_encrypted_room_starts_at_epoch_1_with_owner_key(store):
    room = await encrypted_room(store)
    assert (room.encrypted, room.epoch, room.owner) == (True, 1, "owner")
    assert await store.list_keys("Room-1") == [SealedKey("Room-1", 1, "owner", K1, FIXED_NOW)]
    assert (await store.get_key("Room-1", "OWNER")).sealed_key == K1


async def test_room_key_rules_on_create(store):
    with pytest.raises(InvalidInput):
        await store.create_room("r", "R", "o", encrypted=True)
    with pytest.raises(InvalidInput):
        await store.create_room("r", "R", "o", encrypted=True, sealed_key=b"")
    with pytest.raises(InvalidInput):
        await store.create_room("r", "R", "o", encrypted=False, sealed_key=K1)
    assert await store.list_rooms() == []


@pytest.mark.parametrize("rid", ["", "a.b", "with space", "x" * 65, "é", "a*"])
async def test_invalid_room_id(store, rid):
    with pytest.raises(InvalidInput):
        await store.create_room(rid, "n", "owner")
    with pytest.raises(InvalidInput):
        await store.get_room(rid)


@pytest.mark.parametrize("name", ["x" * 201, "tab\there", "nl\n", "\x7f"])
async def test_invalid_names(store, name):
    with pytest.raises(InvalidInput):
        await store.create_room("r", name, "owner")
    with pytest.raises(InvalidInput):
        await store.add_user("u", name)


async def test_unicode_name_kept(store):
    room = await store.create_room("r", "Salle ☕ 会议", "o")
    assert (await store.get_room("r")).name == "Salle ☕ 会议" == room.name


async def test_duplicate_room_and_case_of_room_ids(store):
    await store.create_room("Room", "a", "o")
    with pytest.raises(AlreadyExists):
        await store.create_room("Room", "b", "o")
    # room ids keep their case: another id
    await store.create_room("room", "c", "o")
    assert [r.id for r in await store.list_rooms()] == ["Room", "room"]


async def test_list_rooms_sorted_by_code_point(store):
    for rid in ["b", "B", "a", "_", "-", "0"]:
        await store.create_room(rid, rid, "o")
    assert [r.id for r in await store.list_rooms()] == ["-", "0", "B", "_", "a", "b"]


async def test_get_and_delete_missing_room(store):
    with pytest.raises(NotFound):
        await store.get_room("nope")
    with pytest.raises(NotFound):
        await store.delete_room("nope")
    with pytest.raises(NotFound):
        await store.list_members("nope")
    with pytest.raises(NotFound):
        await store.list_keys("nope")


async def test_delete_room_removes_members_and_keys(store):
    await encrypted_room(store)
    await store.add_member("Room-1", "bob", sealed_key=K2)
    await store.create_room("other", "o", "bob")
    await store.delete_room("Room-1")
    with pytest.raises(NotFound):
        await store.get_room("Room-1")
    assert await store.rooms_of_member("bob") == ["other"]
    snap = await store.export_snapshot()
    assert [r.id for r in snap.rooms] == ["other"]
    assert snap.sealed_keys == ()
    assert [(m.room_id, m.endpoint) for m in snap.members] == [("other", "bob")]
    # the id can be used again, from scratch
    room = await store.create_room("Room-1", "again", "carol")
    assert room.epoch == 0 and await store.list_keys("Room-1") == []


# -- members -------------------------------------------------------------------

async def test_add_member_to_encrypted_room_needs_current_epoch_key(store, clock):
    await encrypted_room(store)
    with pytest.raises(InvalidInput):
        await store.add_member("Room-1", "bob")
    clock.advance(5)
    m = await store.add_member("Room-1", "BOB", sealed_key=K2)
    assert m == Member("Room-1", "bob", "member", FIXED_NOW + 5)
    assert await store.get_key("Room-1", "bob") == SealedKey("Room-1", 1, "bob", K2, FIXED_NOW + 5)


async def test_add_member_rules(store):
    await store.create_room("plain", "p", "o")
    with pytest.raises(InvalidInput):  # unencrypted room takes no key
        await store.add_member("plain", "bob", sealed_key=K2)
    with pytest.raises(InvalidInput):  # the owner is set at creation
        await store.add_member("plain", "bob", role="owner")
    with pytest.raises(InvalidInput):
        await store.add_member("plain", "bob", role="admin")
    with pytest.raises(InvalidInput):
        await store.add_member("plain", "bad key!")
    with pytest.raises(NotFound):
        await store.add_member("missing", "bob")
    await store.add_member("plain", "Bob")
    with pytest.raises(AlreadyExists):
        await store.add_member("plain", "BOB")
    with pytest.raises(AlreadyExists):
        await store.add_member("plain", "O")  # the owner is a member already
    assert [m.endpoint for m in await store.list_members("plain")] == ["bob", "o"]


async def test_remove_member(store):
    await encrypted_room(store)
    await store.add_member("Room-1", "bob", sealed_key=K2)
    with pytest.raises(InvalidInput):
        await store.remove_member("Room-1", "OWNER")
    await store.remove_member("Room-1", "Bob")
    with pytest.raises(NotFound):
        await store.remove_member("Room-1", "bob")
    with pytest.raises(NotFound):
        await store.remove_member("nope", "bob")
    assert [m.endpoint for m in await store.list_members("Room-1")] == ["owner"]
    assert await store.rooms_of_member("bob") == []
    # keys of past membership are kept
    assert (await store.get_key("Room-1", "bob", 1)).sealed_key == K2


async def test_rooms_of_member_and_member_counts(store):
    await store.create_room("r2", "r", "alice")
    await store.create_room("R1", "r", "bob")
    await store.create_room("r3", "r", "bob")
    await store.add_member("R1", "ALICE")
    await store.add_member("r3", "carol")
    assert await store.rooms_of_member("Alice") == ["R1", "r2"]
    assert await store.rooms_of_member("bob") == ["R1", "r3"]
    assert await store.rooms_of_member("nobody") == []
    assert await store.member_counts() == {"R1": 2, "r2": 1, "r3": 2}
    with pytest.raises(InvalidInput):
        await store.rooms_of_member("no way")


# -- keys ----------------------------------------------------------------------

async def test_put_and_get_keys(store, clock):
    await encrypted_room(store)
    await store.add_member("Room-1", "bob", sealed_key=K2)
    clock.advance(10)
    k = await store.put_key("Room-1", 1, "BOB", K3)  # overwrite
    assert k == SealedKey("Room-1", 1, "bob", K3, FIXED_NOW + 10)
    assert await store.get_key("Room-1", "bob", 1) == k
    with pytest.raises(InvalidInput):
        await store.put_key("Room-1", 2, "bob", K3)  # beyond the current epoch
    with pytest.raises(InvalidInput):
        await store.put_key("Room-1", 0, "bob", K3)
    with pytest.raises(InvalidInput):
        await store.put_key("Room-1", -1, "bob", K3)
    with pytest.raises(InvalidInput):
        await store.put_key("Room-1", 1, "bob", b"")
    with pytest.raises(NotFound):
        await store.put_key("nope", 1, "bob", K3)
    await store.create_room("plain", "p", "o")
    with pytest.raises(InvalidInput):
        await store.put_key("plain", 1, "o", K3)
    with pytest.raises(NotFound):
        await store.get_key("Room-1", "carol")
    with pytest.raises(NotFound):
        await store.get_key("Room-1", "bob", 7)
    with pytest.raises(NotFound):
        await store.get_key("plain", "o")


async def test_rekey(store, clock):
    await encrypted_room(store)
    await store.add_member("Room-1", "bob", sealed_key=K2)
    clock.advance(60)
    room = await store.rekey("Room-1", {"OWNER": b"o2", "Bob": b"b2"})
    assert room.epoch == 2 and await store.get_room("Room-1") == room
    assert (await store.get_key("Room-1", "bob")) == SealedKey("Room-1", 2, "bob", b"b2", FIXED_NOW + 60)
    assert (await store.get_key("Room-1", "bob", 1)).sealed_key == K2  # old epochs kept
    keys = await store.list_keys("Room-1")
    assert [(k.epoch, k.endpoint) for k in keys] == [(1, "bob"), (1, "owner"), (2, "bob"), (2, "owner")]
    await store.put_key("Room-1", 1, "bob", K3)  # a past epoch can still be written


async def test_rekey_errors(store):
    await encrypted_room(store)
    await store.add_member("Room-1", "bob", sealed_key=K2)
    before = await store.export_snapshot()
    with pytest.raises(InvalidInput, match="bob"):  # the message names who is missing
        await store.rekey("Room-1", {"owner": b"o2"})
    with pytest.raises(InvalidInput, match="carol"):
        await store.rekey("Room-1", {"owner": b"o2", "bob": b"b2", "carol": b"c2"})
    with pytest.raises(InvalidInput):
        await store.rekey("Room-1", {"owner": b"o2", "bob": b""})
    with pytest.raises(InvalidInput):
        await store.rekey("Room-1", {"owner": b"o2", "bob": b"b2", "BOB": b"b3"})
    with pytest.raises(NotFound):
        await store.rekey("nope", {"owner": b"o2"})
    await store.create_room("plain", "p", "o")
    with pytest.raises(InvalidInput):
        await store.rekey("plain", {"o": b"x"})
    after = await store.export_snapshot()
    assert after.sealed_keys == before.sealed_keys and after.rooms[0] == before.rooms[0]


# -- users ---------------------------------------------------------------------

async def test_add_and_get_user(store, clock):
    u = await store.add_user("AbCd", "Alice", "admin")
    assert u == User("abcd", "Alice", "admin", "active", FIXED_NOW, None)
    assert await store.get_user("ABCD") == u
    assert await store.add_user("zed") == User("zed", "", "user", "active", FIXED_NOW, None)
    assert [x.key for x in await store.list_users()] == ["abcd", "zed"]


async def test_user_errors(store):
    await store.add_user("abcd")
    with pytest.raises(AlreadyExists):
        await store.add_user("ABCD")
    with pytest.raises(AlreadyExists):
        await store.add_user("abcd")
    with pytest.raises(InvalidInput):
        await store.add_user("x", role="root")
    for bad in ["", "a b", "k" * 129, "ключ", "a/b"]:
        with pytest.raises(InvalidInput):
            await store.add_user(bad)
        with pytest.raises(InvalidInput):
            await store.get_user(bad)
    with pytest.raises(NotFound):
        await store.get_user("nobody")
    with pytest.raises(NotFound):
        await store.revoke_user("nobody")
    with pytest.raises(NotFound):
        await store.reinstate_user("nobody")
    assert len(await store.list_users()) == 1


async def test_revoke_is_idempotent_and_reinstate_clears(store, clock):
    await store.add_user("bob", "Bob")
    await store.create_room("r", "r", "bob")
    clock.advance(100)
    first = await store.revoke_user("BOB")
    assert (first.status, first.revoked_at) == ("revoked", FIXED_NOW + 100)
    clock.advance(100)
    again = await store.revoke_user("bob")
    assert again == first  # the first revoked_at is kept
    assert await store.rooms_of_member("bob") == ["r"]  # memberships stay
    back = await store.reinstate_user("Bob")
    assert back == User("bob", "Bob", "user", "active", FIXED_NOW, None)
    assert await store.reinstate_user("bob") == back
    assert await store.get_user("bob") == back


async def test_is_authorized_and_is_admin(store):
    await store.add_user("adm", role="admin")
    await store.add_user("usr")
    assert await store.is_authorized("ADM") and await store.is_admin("adm")
    assert await store.is_authorized("usr") and not await store.is_admin("usr")
    assert not await store.is_authorized("unknown") and not await store.is_admin("unknown")
    # never raises, even on input that is invalid
    assert not await store.is_authorized("not a key!") and not await store.is_admin("")
    await store.revoke_user("adm")
    assert not await store.is_authorized("adm") and not await store.is_admin("adm")
    await store.reinstate_user("adm")
    assert await store.is_admin("adm")


async def test_is_authorized_fails_closed_after_close(store):
    await store.add_user("usr")
    await store.close()
    assert await store.is_authorized("usr") is False
    assert await store.is_admin("usr") is False


# -- whole state ---------------------------------------------------------------

async def build_state(store, clock) -> None:
    await store.add_user("Zed", "Zed", "admin")
    await store.add_user("amy", "Amy ☕")
    await store.create_room("b-room", "B", "zed", encrypted=True, sealed_key=K1)
    clock.advance(3)
    await store.add_member("b-room", "AMY", sealed_key=K2)
    await store.rekey("b-room", {"zed": b"z2", "amy": b"a2"})
    await store.create_room("A-room", "A", "amy")
    await store.revoke_user("amy")


async def test_export_snapshot_and_determinism(store, clock):
    await build_state(store, clock)
    snap = await store.export_snapshot()
    assert snap == await store.export_snapshot()
    assert [r.id for r in snap.rooms] == ["A-room", "b-room"]
    assert snap.rooms[1].epoch == 2
    assert [(m.room_id, m.endpoint, m.role) for m in snap.members] == [
        ("A-room", "amy", "owner"), ("b-room", "amy", "member"), ("b-room", "zed", "owner")]
    assert [(k.epoch, k.endpoint, k.sealed_key) for k in snap.sealed_keys] == [
        (1, "amy", K2), (1, "zed", K1), (2, "amy", b"a2"), (2, "zed", b"z2")]
    assert [(u.key, u.status, u.revoked_at) for u in snap.users] == [
        ("amy", "revoked", FIXED_NOW + 3), ("zed", "active", None)]
    assert snap.invalid == ()
    assert snap.record_count == 2 + 3 + 4 + 2
    text = export_json(snap)
    assert text == export_json(await store.export_snapshot())
    assert text.startswith('{"rooms":[{"id":"A-room","name":"A","encrypted":false,"owner":"amy",'
                           f'"epoch":0,"created_at":{FIXED_NOW + 3}}}')
    assert '"sealed_key":"c2VhbGVkLXR3bw=="' in text and '"name":"Amy ☕"' in text


async def test_snapshot_changes_with_state(store, clock):
    await build_state(store, clock)
    before = await store.export_snapshot()
    await store.reinstate_user("amy")
    assert await store.export_snapshot() != before


async def test_export_of_empty_store(store):
    snap = await store.export_snapshot()
    assert snap.record_count == 0
    assert export_json(snap) == '{"rooms":[],"members":[],"sealed_keys":[],"users":[]}'


async def test_change_marker_moves_on_change(store):
    m1 = await store.change_marker()
    await store.add_user("u1")
    m2 = await store.change_marker()
    assert m2 != m1
    await store.revoke_user("u1")
    assert await store.change_marker() != m2


def test_export_json_is_codec_dumps_of_the_value_objects():
    """export_json builds its text per record for speed: the bytes must be codec.dumps' own."""
    from store import codec
    from store.models import Snapshot

    tricky = 'q"uote \\ back/slash ☕ 𝄞 \u2028 é'
    snap = Snapshot(
        rooms=(Room("r1", tricky, True, "o", 3, 10), Room("r2", "", False, "o", 0, 0)),
        members=(Member("r1", "o", "owner", 11), Member("r1", "p", "member", 12)),
        sealed_keys=(SealedKey("r1", 1, "o", bytes(range(256)), 13), SealedKey("r1", 2, "o", b"\xff", 14)),
        users=(User("o", tricky, "admin", "revoked", 1, 2), User("p", "", "user", "active", 3, None)),
    )
    doc = {"rooms": [codec.room_obj(r) for r in snap.rooms],
           "members": [codec.member_obj(m) for m in snap.members],
           "sealed_keys": [codec.key_obj(k) for k in snap.sealed_keys],
           "users": [codec.user_obj(u) for u in snap.users]}
    assert export_json(snap) == codec.dumps(doc)
    from store.snapshot import export_chunks
    assert "".join(export_chunks(snap, batch=1)) == codec.dumps(doc)
    for r in snap.rooms:
        assert codec.decode_room(codec.room_json(r).encode()) == r
