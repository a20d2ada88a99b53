"""Deterministic ordering of a Snapshot and its export JSON (SPEC section 7)."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from .layout import MEMBERS, ROOM_KEYS, ROOMS, TABLES, USERS
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
        rooms=tuple(sorted(rooms, key=ROOMS.sort_key)),
        members=tuple(sorted(members, key=MEMBERS.sort_key)),
        sealed_keys=tuple(sorted(sealed_keys, key=ROOM_KEYS.sort_key)),
        users=tuple(sorted(users, key=USERS.sort_key)),
        invalid=tuple(sorted(invalid, key=lambda i: (i.bucket, i.key, i.reason))),
    )


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic GC while building millions of acyclic objects in one go (an export):
    otherwise it rescans them over and over, which costs as much as building them."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def export_chunks(snap: Snapshot, batch: int = 10_000) -> Iterator[str]:
    """export_json in pieces of up to `batch` records, so a large export can stream out
    without one giant string (and its copy) in memory."""
    sep = "{"
    for bucket in TABLES:
        yield f'{sep}"{bucket.entity}":['
        records, encode = bucket.records(snap), bucket.to_json
        assert encode is not None  # every table's records are exported
        for i in range(0, len(records), batch):
            chunk = ",".join(map(encode, records[i:i + batch]))
            yield chunk if i == 0 else "," + chunk
        yield "]"
        sep = ","
    yield "}"


def export_json(snap: Snapshot) -> str:
    """The export document: the KV value objects of each entity, compact, one line.

    Invalid records are not part of the document; callers report them separately.
    Same bytes as codec.dumps of the codec.*_obj dicts, built per record for speed.
    """
    with paused_gc():
        return "".join(export_chunks(snap))
