"""Deterministic ordering of a Snapshot and its export JSON (SPEC section 7)."""

from __future__ import annotations

from collections.abc import Iterable

from . import codec
from .models import InvalidRecord, Member, Room, SealedKey, Snapshot, User


def make_snapshot(
    rooms: Iterable[Room],
    members: Iterable[Member],
    sealed_keys: Iterable[SealedKey],
    users: Iterable[User],
    invalid: Iterable[InvalidRecord] = (),
) -> Snapshot:
    """Sort every part by identity so equal states give equal snapshots.

    Python compares str by code point, which is SQLite's BINARY collation on UTF-8.
    """
    return Snapshot(
        rooms=tuple(sorted(rooms, key=lambda r: r.id)),
        members=tuple(sorted(members, key=lambda m: (m.room_id, m.endpoint))),
        sealed_keys=tuple(sorted(sealed_keys, key=lambda k: (k.room_id, k.epoch, k.endpoint))),
        users=tuple(sorted(users, key=lambda u: u.key)),
        invalid=tuple(sorted(invalid, key=lambda i: (i.bucket, i.key, i.reason))),
    )


def export_json(snap: Snapshot) -> str:
    """The export document: the KV value objects of each entity, compact, one line.

    Invalid records are not part of the document; callers report them separately.
    """
    doc = {
        "rooms": [codec.room_obj(r) for r in snap.rooms],
        "members": [codec.member_obj(m) for m in snap.members],
        "sealed_keys": [codec.key_obj(k) for k in snap.sealed_keys],
        "users": [codec.user_obj(u) for u in snap.users],
    }
    return codec.dumps(doc)
