"""store.layout: the one table of buckets, keys and write order (SPEC section 4)."""

from __future__ import annotations

import pytest

from store import codec, layout
from store.models import Member, Reverse, Room, SealedKey, Snapshot, User

ROOM = Room("R-1", "Room", True, "ada", 2, 5)
MEMBER = Member("R-1", "bob", "member", 6)
KEY = SealedKey("R-1", 2, "bob", b"k", 7)
USER = User("bob", "Bob", "user", "active", 1, None)
SNAP = Snapshot((ROOM,), (MEMBER,), (KEY,), (USER,))


def test_buckets_and_write_order_are_the_spec_layout():
    assert layout.BUCKETS == ("rooms", "members", "rooms_by_member", "room_keys", "users")
    assert layout.WRITE_ORDER == ("users", "room_keys", "members", "rooms_by_member", "rooms")
    assert [[b.name for b in g] for g in layout.WRITE_GROUPS] == [
        ["users"], ["room_keys"], ["members", "rooms_by_member"], ["rooms"]]
    assert [b.table for b in layout.TABLES] == ["rooms", "members", "room_keys", "users"]
    assert [b.entity for b in layout.TABLES] == ["rooms", "members", "sealed_keys", "users"]


@pytest.mark.parametrize("bucket", layout.LAYOUT, ids=lambda b: b.name)
def test_key_is_the_key_fields_joined_and_parses_back(bucket):
    """The f-string of each key says what key_fields say, and parse_key reads it back."""
    (record,) = bucket.records(SNAP)
    parts = bucket.identity(record)
    assert parts == tuple(getattr(record, f) for f in bucket.key_fields)
    assert bucket.key(record) == bucket.join(*parts) == ".".join(map(str, parts))
    assert bucket.parse_key(bucket.key(record)) == {f: str(p) for f, p in zip(bucket.key_fields, parts, strict=False)}
    assert bucket.under(*parts[:-1]) == ".".join(map(str, parts[:-1])) + ".>"
    # a decoded value names its own key
    assert bucket.key(bucket.decode(bucket.encode(record))) == bucket.key(record)


def test_rows_are_keys_and_codec_values():
    rows = {b.name: list(b.rows(SNAP)) for b in layout.LAYOUT}
    assert rows == {
        "rooms": [("R-1", codec.encode_room(ROOM))],
        "members": [("R-1.bob", codec.encode_member(MEMBER))],
        "rooms_by_member": [("bob.R-1", codec.encode_reverse(MEMBER))],
        "room_keys": [("R-1.2.bob", codec.encode_key(KEY))],
        "users": [("bob", codec.encode_user(USER))],
    }
    assert layout.ROOMS_BY_MEMBER.decode(codec.encode_reverse(MEMBER)) == Reverse("R-1", "bob")
