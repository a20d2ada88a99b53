"""The layout of every kind of record, in one table (SPEC sections 3 and 4).

One frozen Bucket per JetStream KV bucket holds what the code knows about its records:
the bucket's name, the Snapshot entity and the SQLite table that hold them, their key
(the parts, and the f-string that joins them, written here once), their codec functions,
and their write group in a migration. The fields and their rules are store.rules.FIELDS,
under the bucket's name. The backends, the migration, the parity diff, the export, the
backup and the restore derive what they need from LAYOUT instead of keeping tables of
their own.

rooms_by_member is the KV-only reverse index of members: no table and no Snapshot field
of its own; its records are the members, keyed endpoint first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from . import codec, rules
from .models import Snapshot


@dataclass(frozen=True, slots=True)
class Bucket:
    """One kind of record: where it is stored, how it is keyed and encoded."""

    #: the KV bucket's base name (a configured prefix goes before it); also its store.rules entity
    name: str
    #: the Snapshot field of its records, the section of the export and the entity of a parity report
    entity: str
    #: the SQLite table of its records; None for the KV-only reverse index
    table: str | None
    #: the fields a key is made of, in key order
    key_fields: tuple[str, ...]
    #: the key of a record: key_fields joined by dots. An f-string, the one place it is
    #: written, because a lambda per record is the fastest way (a million keys per export)
    key: Callable[[Any], str]
    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any]
    #: decode a value already parsed from JSON (the bulk path, after codec.load_many)
    from_obj: Callable[[Any], Any]
    #: a record as export JSON text; None: not part of the export
    to_json: Callable[[Any], str] | None
    #: the records of a snapshot stored in this bucket
    records: Callable[[Snapshot], Sequence[Any]]
    #: a migration writes group after group, each acknowledged before the next
    write_group: int
    #: revisions kept per key in the buckets the tool creates (`h` shows a user's)
    history: int = 1
    #: the key's parts of a record as a tuple (epochs as numbers): it sorts in export order
    identity: Callable[[Any], tuple] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        get = attrgetter(*self.key_fields)
        one = len(self.key_fields) == 1
        object.__setattr__(self, "identity", (lambda r: (get(r),)) if one else get)

    @property
    def fields(self) -> tuple[tuple[str, rules.Kind], ...]:
        """Every field in SPEC order, with its kind."""
        return rules.FIELDS[self.name]

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.fields)

    @property
    def values(self) -> Callable[[Any], tuple]:
        """A record's field values in SPEC order: its SQLite row."""
        return attrgetter(*self.field_names)

    @property
    def sort_key(self) -> Callable[[Any], Any]:
        """Sorts records by identity (attrgetter: built in C, a million keys per export)."""
        return attrgetter(*self.key_fields)

    def join(self, *parts: object) -> str:
        """A key, or its first parts, from the parts' values."""
        return ".".join(map(str, parts))

    def under(self, *parts: object) -> str:
        """A subject filter for the keys whose first parts are these."""
        return self.join(*parts) + ".>"

    def parse_key(self, key: str) -> dict[str, str]:
        """A key's parts by field name, as text (the last part takes any further dots)."""
        return dict(zip(self.key_fields, key.split(".", len(self.key_fields) - 1), strict=False))

    def rows(self, snap: Snapshot) -> Iterator[tuple[str, bytes]]:
        """(key, value) of each of the snapshot's records in this bucket."""
        key, encode = self.key, self.encode
        return ((key(r), encode(r)) for r in self.records(snap))


ROOMS = Bucket(
    name="rooms", entity="rooms", table="rooms", key_fields=("id",), key=attrgetter("id"),
    encode=codec.encode_room, decode=codec.decode_room, from_obj=codec.room_from_obj,
    to_json=codec.room_json, records=attrgetter("rooms"), write_group=3, history=16)
MEMBERS = Bucket(
    name="members", entity="members", table="members", key_fields=("room_id", "endpoint"),
    key=lambda m: f"{m.room_id}.{m.endpoint}",
    encode=codec.encode_member, decode=codec.decode_member, from_obj=codec.member_from_obj,
    to_json=codec.member_json, records=attrgetter("members"), write_group=2)
ROOMS_BY_MEMBER = Bucket(
    name="rooms_by_member", entity="rooms_by_member", table=None, key_fields=("endpoint", "room_id"),
    key=lambda m: f"{m.endpoint}.{m.room_id}",
    encode=codec.encode_reverse, decode=codec.decode_reverse, from_obj=codec.reverse_from_obj,
    to_json=None, records=attrgetter("members"), write_group=2)
ROOM_KEYS = Bucket(
    name="room_keys", entity="sealed_keys", table="room_keys", key_fields=("room_id", "epoch", "endpoint"),
    key=lambda k: f"{k.room_id}.{k.epoch}.{k.endpoint}",
    encode=codec.encode_key, decode=codec.decode_key, from_obj=codec.key_from_obj,
    to_json=codec.key_json, records=attrgetter("sealed_keys"), write_group=1)
USERS = Bucket(
    name="users", entity="users", table="users", key_fields=("key",), key=attrgetter("key"),
    encode=codec.encode_user, decode=codec.decode_user, from_obj=codec.user_from_obj,
    to_json=codec.user_json, records=attrgetter("users"), write_group=0, history=16)

#: every bucket, in the layout's order (SPEC section 4)
LAYOUT: tuple[Bucket, ...] = (ROOMS, MEMBERS, ROOMS_BY_MEMBER, ROOM_KEYS, USERS)
BUCKETS: tuple[str, ...] = tuple(b.name for b in LAYOUT)
BY_NAME: dict[str, Bucket] = {b.name: b for b in LAYOUT}
#: the buckets that are SQLite tables and Snapshot entities too: all but the reverse index
TABLES: tuple[Bucket, ...] = tuple(b for b in LAYOUT if b.table is not None)
#: their table names, in the same order
TABLE_NAMES: tuple[str, ...] = tuple(b.table for b in TABLES if b.table is not None)
#: the order of a migration's writes: users first, rooms (the commit points) last, so a
#: room visible in KV has its members and keys, and every member's user exists
WRITE_GROUPS: tuple[tuple[Bucket, ...], ...] = tuple(
    tuple(b for b in LAYOUT if b.write_group == g) for g in sorted({b.write_group for b in LAYOUT}))
WRITE_ORDER: tuple[str, ...] = tuple(b.name for group in WRITE_GROUPS for b in group)
