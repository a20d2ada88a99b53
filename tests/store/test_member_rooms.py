"""Store.member_rooms: a user's rooms with its membership and current-epoch key, alike on
both backends (SQLite reads them in one transaction, KV a read per room)."""

from __future__ import annotations

from store.models import MemberRoom

KEY = b"k" * 48


async def test_rooms_memberships_and_current_keys(store):
    await store.add_user("bob")
    await store.create_room("a-enc", "A", "bob", encrypted=True, sealed_key=KEY)
    await store.create_room("b-open", "B", "ann")
    await store.add_member("b-open", "bob")
    await store.create_room("c-rekeyed", "C", "ann", encrypted=True, sealed_key=KEY)
    await store.add_member("c-rekeyed", "bob", sealed_key=KEY)
    await store.rekey("c-rekeyed", {"ann": KEY, "bob": b"2" * 48})  # epoch 2: the current key
    await store.create_room("d-other", "D", "ann")
    rooms = await store.member_rooms("Bob")
    assert [r.room.id for r in rooms] == ["a-enc", "b-open", "c-rekeyed"]
    a, b, c = rooms
    assert isinstance(a, MemberRoom) and a.member.role == "owner" and a.key.epoch == 1
    assert b.member.role == "member" and b.key is None  # unencrypted: no key
    assert c.room.epoch == 2 and c.key.epoch == 2 and c.key.sealed_key == b"2" * 48
    assert await store.member_rooms("nobody") == []


async def test_member_counts_leave_out_members_that_break_the_rules(tmp_path, clock):
    # a member whose endpoint or role breaks its rule is not counted (it is not a member)
    import sqlite3

    from store import SqliteSpec, open_store
    from store.sqlite_file import create_database

    path = tmp_path / "m.sqlite"
    create_database(str(path))
    async with await open_store(SqliteSpec(str(path)), clock=clock) as s:
        await s.create_room("r", "R", "ann")
        await s.add_member("r", "bob")
        assert await s.member_counts() == {"r": 2}
        con = sqlite3.connect(path)
        with con:
            con.execute("PRAGMA ignore_check_constraints = ON")
            con.execute("INSERT INTO members VALUES ('r', 'Not.A.Key', 'member', 1)")
            con.execute("INSERT INTO members VALUES ('r', 'carol', 'boss', 1)")  # SQL's own check
        con.close()
        assert await s.member_counts() == {"r": 2}
