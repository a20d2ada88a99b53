"""Parity of two Snapshots (SPEC section 5.4): pure functions, no I/O.

diff(sqlite_snapshot, kv_snapshot) lists, per entity, the records only in SQLite,
only in KV, and those whose fields differ (with both values; a sealed key is shown
by its fingerprint, never its bytes). Invalid records of either snapshot are
differences too. Identical means zero differences.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from . import codec
from .text import fingerprint
from .models import InvalidRecord, Snapshot
from .text import printable

ENTITIES = ("rooms", "members", "sealed_keys", "users")

ONLY_IN_SQLITE = "only_in_sqlite"
ONLY_IN_KV = "only_in_kv"
FIELDS_DIFFER = "fields_differ"
INVALID_IN_SQLITE = "invalid_in_sqlite"
INVALID_IN_KV = "invalid_in_kv"

_KIND_TEXT = {
    ONLY_IN_SQLITE: "only in SQLite",
    ONLY_IN_KV: "only in KV",
    FIELDS_DIFFER: "fields differ",
    INVALID_IN_SQLITE: "invalid in SQLite",
    INVALID_IN_KV: "invalid in KV",
}

# identity of a record of each entity: a tuple that sorts like the export order,
# and its KV key (the readable name of the record in reports)
_IDENTITY: dict[str, Callable[[Any], tuple]] = {
    "rooms": lambda r: (r.id,),
    "members": lambda m: (m.room_id, m.endpoint),
    "sealed_keys": lambda k: (k.room_id, k.epoch, k.endpoint),
    "users": lambda u: (u.key,),
}


@dataclass(frozen=True, slots=True)
class FieldDiff:
    field: str
    sqlite: Any
    kv: Any


@dataclass(frozen=True, slots=True)
class Difference:
    """One record that is not the same on both sides.

    entity: rooms, members, sealed_keys, users, or the bucket/table name for an
    invalid record; key: the record's KV key (e.g. ``room.3.endpoint``).
    """

    entity: str
    key: str
    kind: str
    fields: tuple[FieldDiff, ...] = ()
    reason: str = ""
    #: sort key only
    identity: tuple = field(default=(), repr=False)

    @property
    def text(self) -> str:
        """One readable line, without the entity."""
        what = _KIND_TEXT.get(self.kind, self.kind)
        if self.kind == FIELDS_DIFFER:
            what += ": " + ", ".join(f"{f.field} sqlite={_show(f.sqlite)} kv={_show(f.kv)}"
                                     for f in self.fields)
        elif self.reason:
            what += f": {self.reason}"
        return what

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"entity": self.entity, "key": self.key, "kind": self.kind}
        if self.fields:
            out["fields"] = [{"field": f.field, "sqlite": f.sqlite, "kv": f.kv} for f in self.fields]
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True, slots=True)
class ParityReport:
    """The sorted differences and the record counts of both sides, per entity."""

    differences: tuple[Difference, ...]
    sqlite_counts: dict[str, int]
    kv_counts: dict[str, int]

    @property
    def identical(self) -> bool:
        return not self.differences

    def count_by_entity(self) -> dict[str, int]:
        """Differences per entity; invalid records (of any bucket) under "invalid"."""
        out: dict[str, int] = {}
        for d in self.differences:
            e = "invalid" if d.kind in (INVALID_IN_SQLITE, INVALID_IN_KV) else d.entity
            out[e] = out.get(e, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "identical": self.identical,
            "difference_count": len(self.differences),
            "counts": {e: {"sqlite": self.sqlite_counts.get(e, 0), "kv": self.kv_counts.get(e, 0)}
                       for e in (*ENTITIES, "rooms_by_member") if e in self.kv_counts or e in ENTITIES},
            "differences": [d.to_json() for d in self.differences],
        }


def record_key(entity: str, identity: tuple) -> str:
    """The KV key of a record (SPEC section 4 layout): parts joined by dots."""
    return ".".join(str(p) for p in identity)


def _value(name: str, value: Any) -> Any:
    # never carry a sealed key's bytes into a report
    if name == "sealed_key" and isinstance(value, (bytes, bytearray)):
        return fingerprint(bytes(value))
    return value


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:37] + "...")
    return str(value)


def _field_diffs(a: Any, b: Any) -> tuple[FieldDiff, ...]:
    out = []
    for f in fields(a):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        # bool vs int: True == 1 in Python, but a room's "encrypted" must stay a bool
        if va != vb or type(va) is not type(vb):
            out.append(FieldDiff(f.name, _value(f.name, va), _value(f.name, vb)))
    return tuple(out)


def diff_entity(entity: str, sqlite_records: Iterable[Any], kv_records: Iterable[Any]) -> list[Difference]:
    """Differences of one entity's records (any order in, unsorted out)."""
    ident = _IDENTITY[entity]
    a = {ident(r): r for r in sqlite_records}
    b = {ident(r): r for r in kv_records}
    out: list[Difference] = []
    for k, ra in a.items():
        rb = b.get(k)
        if rb is None:
            out.append(Difference(entity, record_key(entity, k), ONLY_IN_SQLITE, identity=k))
        elif ra != rb or not _same_types((ra,), (rb,)):
            fd = _field_diffs(ra, rb)
            out.append(Difference(entity, record_key(entity, k), FIELDS_DIFFER, fd, identity=k))
    for k in b.keys() - a.keys():
        out.append(Difference(entity, record_key(entity, k), ONLY_IN_KV, identity=k))
    return out


def _invalid(records: Iterable[InvalidRecord], kind: str) -> list[Difference]:
    return [Difference(r.bucket, r.key, kind, reason=r.reason, identity=(r.key,)) for r in records]


_ORDER = {"rooms": 0, "members": 1, "rooms_by_member": 2, "sealed_keys": 3, "users": 4}


def _sort_key(d: Difference) -> tuple:
    # entities in export order, invalid records after them by bucket name
    invalid = d.kind in (INVALID_IN_SQLITE, INVALID_IN_KV)
    return (invalid, 0 if invalid else _ORDER[d.entity], d.entity, d.identity, d.kind)


def diff(sqlite_snapshot: Snapshot, kv_snapshot: Snapshot) -> ParityReport:
    """Every difference between the two snapshots, sorted by entity then identity."""
    out: list[Difference] = []
    for entity in ENTITIES:
        sa, sb = getattr(sqlite_snapshot, entity), getattr(kv_snapshot, entity)
        if sa == sb and _same_types(sa, sb):
            continue  # the common case: one fast tuple comparison
        out.extend(diff_entity(entity, sa, sb))
    out.extend(_invalid(sqlite_snapshot.invalid, INVALID_IN_SQLITE))
    out.extend(_invalid(kv_snapshot.invalid, INVALID_IN_KV))
    out.sort(key=_sort_key)
    return ParityReport(
        differences=tuple(out),
        sqlite_counts=counts(sqlite_snapshot),
        kv_counts=counts(kv_snapshot),
    )


def _same_types(a: tuple, b: tuple) -> bool:
    # rooms are the only records with a bool field; 1 == True must not hide a bad value
    if not a or not hasattr(a[0], "encrypted"):
        return True
    return all(type(x.encrypted) is type(y.encrypted) for x, y in zip(a, b))


def counts(snap: Snapshot) -> dict[str, int]:
    return {e: len(getattr(snap, e)) for e in ENTITIES}


def render_table(report: ParityReport, *, limit: int | None = 200) -> str:
    """A readable summary: counts per entity, then one line per difference."""
    per = report.count_by_entity()
    lines = [f"{'entity':<16} {'sqlite':>10} {'kv':>10} {'differences':>12}"]
    shown_entities = list(ENTITIES)
    if "rooms_by_member" in report.kv_counts:
        shown_entities.insert(2, "rooms_by_member")
    for e in shown_entities:
        lines.append(f"{e:<16} {report.sqlite_counts.get(e, 0):>10} {report.kv_counts.get(e, 0):>10} "
                     f"{per.get(e, 0):>12}")
    if per.get("invalid"):
        lines.append(f"{'invalid':<16} {'':>10} {'':>10} {per['invalid']:>12}")
    if report.identical:
        lines.append("parity: identical")
        return "\n".join(lines)
    lines.append(f"parity: {len(report.differences)} difference(s)")
    shown = report.differences if limit is None else report.differences[:limit]
    keys = [printable(d.key) for d in shown]  # an invalid record's key may hold anything
    width = max(map(len, keys))
    for d, key in zip(shown, keys):
        lines.append(f"  {printable(d.entity):<16} {key:<{width}}  {printable(d.text)}")
    if len(shown) < len(report.differences):
        lines.append(f"  ... and {len(report.differences) - len(shown)} more (use --json for all)")
    return "\n".join(lines)


# -- parity against the raw KV contents ------------------------------------------------
#
# The migration knows the exact bytes it wrote, so it compares the buckets' raw values
# with them and decodes only what differs: a stricter check (byte for byte, the reverse
# index included) at half the cost of decoding every value.

#: bucket -> the entity its records are reported under
BUCKET_ENTITY = {"rooms": "rooms", "members": "members", "rooms_by_member": "rooms_by_member",
                 "room_keys": "sealed_keys", "users": "users"}


@dataclass(frozen=True, slots=True)
class _Reverse:
    """A rooms_by_member row as a record, so it diffs like the others."""

    room_id: str
    endpoint: str


def _decode_reverse(data: bytes) -> _Reverse:
    return _Reverse(*codec.decode_reverse(data))


# bucket -> (decode value, KV key of a record, identity of a record)
_CODECS: dict[str, tuple[Callable[[bytes], Any], Callable[[Any], str], Callable[[Any], tuple]]] = {
    "rooms": (codec.decode_room, lambda r: r.id, _IDENTITY["rooms"]),
    "members": (codec.decode_member, lambda m: f"{m.room_id}.{m.endpoint}", _IDENTITY["members"]),
    "rooms_by_member": (_decode_reverse, lambda v: f"{v.endpoint}.{v.room_id}",
                        lambda v: (v.endpoint, v.room_id)),
    "room_keys": (codec.decode_key, lambda k: f"{k.room_id}.{k.epoch}.{k.endpoint}",
                  _IDENTITY["sealed_keys"]),
    "users": (codec.decode_user, lambda u: u.key, _IDENTITY["users"]),
}


def bucket_records(snap: Snapshot) -> dict[str, Callable[[], Iterable[tuple[str, bytes]]]]:
    """(key, value) producers per bucket: keys per SPEC section 4, values by store.codec."""
    return {
        "users": lambda: ((u.key, codec.encode_user(u)) for u in snap.users),
        "room_keys": lambda: ((f"{k.room_id}.{k.epoch}.{k.endpoint}", codec.encode_key(k))
                              for k in snap.sealed_keys),
        "members": lambda: ((f"{m.room_id}.{m.endpoint}", codec.encode_member(m))
                            for m in snap.members),
        "rooms_by_member": lambda: ((f"{m.endpoint}.{m.room_id}", codec.encode_reverse(m))
                                    for m in snap.members),
        "rooms": lambda: ((r.id, codec.encode_room(r)) for r in snap.rooms),
    }


def expected_rows(snap: Snapshot) -> dict[str, dict[str, bytes]]:
    """What the buckets hold after a migration of snap: bucket -> key -> value bytes."""
    return {b: dict(producer()) for b, producer in bucket_records(snap).items()}


def _records_by_key(snap: Snapshot, bucket: str) -> dict[str, Any]:
    if bucket == "rooms_by_member":
        records: Iterable[Any] = (_Reverse(m.room_id, m.endpoint) for m in snap.members)
    else:
        records = getattr(snap, BUCKET_ENTITY[bucket])
    key_of = _CODECS[bucket][1]
    return {key_of(r): r for r in records}


def diff_raw(sqlite_snapshot: Snapshot, kv_rows: Mapping[str, Iterable[tuple[str, bytes]]],
             expected: Mapping[str, Mapping[str, bytes]] | None = None) -> ParityReport:
    """Differences between the SQLite snapshot and the raw live (key, value) rows of each
    bucket (by base name). expected: expected_rows(sqlite_snapshot), when already known.

    Equal bytes are equal records; a value whose bytes differ is decoded and compared
    field by field (a value with other formatting or unknown fields but the same
    fields is no difference); a value that does not decode, or names another key, is
    invalid_in_kv.
    """
    if expected is None:
        expected = expected_rows(sqlite_snapshot)
    out: list[Difference] = []
    kv_counts: dict[str, int] = {}
    for bucket, entity in BUCKET_ENTITY.items():
        decode, key_of, ident = _CODECS[bucket]
        remaining = dict(expected.get(bucket, {}))
        ours: dict[str, Any] | None = None  # built on the first mismatch only
        live = 0
        for key, value in kv_rows.get(bucket, ()):
            live += 1
            want = remaining.pop(key, None)
            if want is not None and want == value:
                continue
            try:
                record = decode(value)
            except ValueError as e:
                out.append(Difference(bucket, key, INVALID_IN_KV, reason=str(e), identity=(key,)))
                continue
            if key_of(record) != key:
                out.append(Difference(bucket, key, INVALID_IN_KV, identity=(key,),
                                      reason=f"value names {key_of(record)!r}, not its key"))
                continue
            if want is None:
                out.append(Difference(entity, key, ONLY_IN_KV, identity=ident(record)))
                continue
            if ours is None:
                ours = _records_by_key(sqlite_snapshot, bucket)
            mine = ours[key]
            if mine != record or not _same_types((mine,), (record,)):
                out.append(Difference(entity, key, FIELDS_DIFFER, _field_diffs(mine, record),
                                      identity=ident(record)))
        kv_counts[entity] = live
        if remaining:
            ours = ours if ours is not None else _records_by_key(sqlite_snapshot, bucket)
            for key in remaining:
                out.append(Difference(entity, key, ONLY_IN_SQLITE, identity=ident(ours[key])))
    out.extend(_invalid(sqlite_snapshot.invalid, INVALID_IN_SQLITE))
    out.sort(key=_sort_key)
    sqlite_counts = counts(sqlite_snapshot)
    sqlite_counts["rooms_by_member"] = len(sqlite_snapshot.members)
    return ParityReport(differences=tuple(out), sqlite_counts=sqlite_counts, kv_counts=kv_counts)
