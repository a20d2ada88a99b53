"""Parity of two Snapshots (SPEC section 5.4): pure functions, no I/O.

diff(sqlite_snapshot, kv_snapshot) lists, per entity, the records only in SQLite,
only in KV, and those whose fields differ (with both values; a sealed key is shown
by its fingerprint, never its bytes). Invalid records of either snapshot are
differences too. Identical means zero differences. The entities, their identities and
their keys are store.layout's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .layout import LAYOUT, ROOMS_BY_MEMBER, TABLES, Bucket
from .models import InvalidRecord, Snapshot
from .text import fingerprint, printable

#: the Snapshot's entities, in export order
ENTITIES = tuple(b.entity for b in TABLES)
_BY_ENTITY = {b.entity: b for b in LAYOUT}


class Kind(StrEnum):
    """What is different about one record."""

    ONLY_IN_SQLITE = "only_in_sqlite"
    ONLY_IN_KV = "only_in_kv"
    FIELDS_DIFFER = "fields_differ"
    INVALID_IN_SQLITE = "invalid_in_sqlite"
    INVALID_IN_KV = "invalid_in_kv"


ONLY_IN_SQLITE, ONLY_IN_KV, FIELDS_DIFFER = Kind.ONLY_IN_SQLITE, Kind.ONLY_IN_KV, Kind.FIELDS_DIFFER
INVALID_IN_SQLITE, INVALID_IN_KV = Kind.INVALID_IN_SQLITE, Kind.INVALID_IN_KV
_INVALID = (Kind.INVALID_IN_SQLITE, Kind.INVALID_IN_KV)

KIND_TEXT = {
    Kind.ONLY_IN_SQLITE: "only in SQLite",
    Kind.ONLY_IN_KV: "only in KV",
    Kind.FIELDS_DIFFER: "fields differ",
    Kind.INVALID_IN_SQLITE: "invalid in SQLite",
    Kind.INVALID_IN_KV: "invalid in KV",
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
    kind: Kind
    fields: tuple[FieldDiff, ...] = ()
    reason: str = ""
    #: sort key only
    identity: tuple = field(default=(), repr=False)

    @property
    def text(self) -> str:
        """One readable line, without the entity."""
        what = KIND_TEXT.get(self.kind, self.kind)
        if self.kind == FIELDS_DIFFER:
            what += ": " + ", ".join(f"{f.field} sqlite={show_value(f.sqlite)} kv={show_value(f.kv)}"
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
            e = "invalid" if d.kind in _INVALID else d.entity
            out[e] = out.get(e, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "identical": self.identical,
            "difference_count": len(self.differences),
            "counts": {e: {"sqlite": self.sqlite_counts.get(e, 0), "kv": self.kv_counts.get(e, 0)}
                       for e in (*ENTITIES, ROOMS_BY_MEMBER.entity) if e in self.kv_counts or e in ENTITIES},
            "differences": [d.to_json() for d in self.differences],
        }


def _value(name: str, value: Any) -> Any:
    # never carry a sealed key's bytes into a report
    if name == "sealed_key" and isinstance(value, (bytes, bytearray)):
        return fingerprint(bytes(value))
    return value


def show_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:37] + "...")
    return str(value)


def _field_diffs(bucket: Bucket, a: Any, b: Any) -> tuple[FieldDiff, ...]:
    out = []
    for name in bucket.field_names:
        va, vb = getattr(a, name), getattr(b, name)
        # bool vs int: True == 1 in Python, but a room's "encrypted" must stay a bool
        if va != vb or type(va) is not type(vb):
            out.append(FieldDiff(name, _value(name, va), _value(name, vb)))
    return tuple(out)


def diff_entity(entity: str, sqlite_records: Iterable[Any], kv_records: Iterable[Any]) -> list[Difference]:
    """Differences of one entity's records (any order in, unsorted out)."""
    bucket = _BY_ENTITY[entity]
    ident = bucket.identity
    a = {ident(r): r for r in sqlite_records}
    b = {ident(r): r for r in kv_records}
    out: list[Difference] = []
    for k, ra in a.items():
        rb = b.get(k)
        if rb is None:
            out.append(Difference(entity, bucket.join(*k), Kind.ONLY_IN_SQLITE, identity=k))
        elif ra != rb or not _same_types((ra,), (rb,)):
            fd = _field_diffs(bucket, ra, rb)
            out.append(Difference(entity, bucket.join(*k), Kind.FIELDS_DIFFER, fd, identity=k))
    for k in b.keys() - a.keys():
        out.append(Difference(entity, bucket.join(*k), Kind.ONLY_IN_KV, identity=k))
    return out


def _invalid(records: Iterable[InvalidRecord], kind: Kind) -> list[Difference]:
    return [Difference(r.bucket, r.key, kind, reason=r.reason, identity=(r.key,)) for r in records]


#: entities in the layout's order, the reverse index among them
_ORDER = {b.entity: i for i, b in enumerate(LAYOUT)}


def _sort_key(d: Difference) -> tuple:
    # entities in layout order, invalid records after them by bucket name
    invalid = d.kind in _INVALID
    return (invalid, 0 if invalid else _ORDER[d.entity], d.entity, d.identity, d.kind)


def diff(sqlite_snapshot: Snapshot, kv_snapshot: Snapshot) -> ParityReport:
    """Every difference between the two snapshots, sorted by entity then identity."""
    out: list[Difference] = []
    for bucket in TABLES:
        sa, sb = bucket.records(sqlite_snapshot), bucket.records(kv_snapshot)
        if sa == sb and _same_types(sa, sb):
            continue  # the common case: one fast tuple comparison
        out.extend(diff_entity(bucket.entity, sa, sb))
    out.extend(_invalid(sqlite_snapshot.invalid, Kind.INVALID_IN_SQLITE))
    out.extend(_invalid(kv_snapshot.invalid, Kind.INVALID_IN_KV))
    out.sort(key=_sort_key)
    return ParityReport(
        differences=tuple(out),
        sqlite_counts=counts(sqlite_snapshot),
        kv_counts=counts(kv_snapshot),
    )


def _same_types(a: Sequence[Any], b: Sequence[Any]) -> bool:
    # rooms are the only records with a bool field; 1 == True must not hide a bad value
    if not a or not hasattr(a[0], "encrypted"):
        return True
    return all(type(x.encrypted) is type(y.encrypted) for x, y in zip(a, b, strict=True))


def counts(snap: Snapshot) -> dict[str, int]:
    return {b.entity: len(b.records(snap)) for b in TABLES}


def render_table(report: ParityReport, *, limit: int | None = 200) -> str:
    """A readable summary: counts per entity, then one line per difference."""
    per = report.count_by_entity()
    lines = [f"{'entity':<16} {'sqlite':>10} {'kv':>10} {'differences':>12}"]
    # the reverse index only when the KV side was read raw (diff_raw)
    shown_entities = [b.entity for b in LAYOUT if b.table is not None or b.entity in report.kv_counts]
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
    for d, key in zip(shown, keys, strict=True):
        lines.append(f"  {printable(d.entity):<16} {key:<{width}}  {printable(d.text)}")
    if len(shown) < len(report.differences):
        lines.append(f"  ... and {len(report.differences) - len(shown)} more (use --json for all)")
    return "\n".join(lines)


# -- parity against the raw KV contents ------------------------------------------------
#
# The migration knows the exact bytes it wrote, so it compares the buckets' raw values
# with them and decodes only what differs: a stricter check (byte for byte, the reverse
# index included) at half the cost of decoding every value.

def expected_rows(snap: Snapshot) -> dict[str, dict[str, bytes]]:
    """What the buckets hold after a migration of snap: bucket -> key -> value bytes."""
    return {b.name: dict(b.rows(snap)) for b in LAYOUT}


def _records_by_key(snap: Snapshot, bucket: Bucket) -> dict[str, Any]:
    key_of = bucket.key
    return {key_of(r): r for r in bucket.records(snap)}


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
    for bucket in LAYOUT:
        name, entity, key_of, ident = bucket.name, bucket.entity, bucket.key, bucket.identity
        remaining = dict(expected.get(name, {}))
        ours: dict[str, Any] | None = None  # built on the first mismatch only
        live = 0
        for key, value in kv_rows.get(name, ()):
            live += 1
            want = remaining.pop(key, None)
            if want is not None and want == value:
                continue
            try:
                record = bucket.decode(value)
            except ValueError as e:
                out.append(Difference(name, key, Kind.INVALID_IN_KV, reason=str(e), identity=(key,)))
                continue
            if key_of(record) != key:
                out.append(Difference(name, key, Kind.INVALID_IN_KV, identity=(key,),
                                      reason=f"value names {key_of(record)!r}, not its key"))
                continue
            if want is None:
                out.append(Difference(entity, key, Kind.ONLY_IN_KV, identity=ident(record)))
                continue
            if ours is None:
                ours = _records_by_key(sqlite_snapshot, bucket)
            # field by field: the reverse index's records are members, its values not
            fd = _field_diffs(bucket, ours[key], record)
            if fd:
                out.append(Difference(entity, key, Kind.FIELDS_DIFFER, fd, identity=ident(record)))
        kv_counts[entity] = live
        if remaining:
            ours = ours if ours is not None else _records_by_key(sqlite_snapshot, bucket)
            for key in remaining:
                out.append(Difference(entity, key, Kind.ONLY_IN_SQLITE, identity=ident(ours[key])))
    out.extend(_invalid(sqlite_snapshot.invalid, Kind.INVALID_IN_SQLITE))
    out.sort(key=_sort_key)
    sqlite_counts = counts(sqlite_snapshot)
    sqlite_counts[ROOMS_BY_MEMBER.entity] = len(ROOMS_BY_MEMBER.records(sqlite_snapshot))
    return ParityReport(differences=tuple(out), sqlite_counts=sqlite_counts, kv_counts=kv_counts)
