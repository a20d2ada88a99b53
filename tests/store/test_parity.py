"""store.parity: pure diffs of two snapshots, no I/O."""

from __future__ import annotations

import json

from store.models import InvalidRecord, Member, Room, SealedKey, User
from store.parity import (
    FIELDS_DIFFER,
    INVALID_IN_KV,
    INVALID_IN_SQLITE,
    ONLY_IN_KV,
    ONLY_IN_SQLITE,
    diff,
    diff_raw,
    expected_rows,
    render_table,
)
from store.snapshot import make_snapshot

SECRET = b"\x01\x02secret-bytes\xff"


def state(**changes):
    rooms = [Room("r1", "One", True, "alice", 2, 10), Room("r2", "Two", False, "bob", 0, 11)]
    members = [Member("r1", "alice", "owner", 10), Member("r1", "bob", "member", 12),
               Member("r2", "bob", "owner", 11)]
    keys = [SealedKey("r1", 1, "alice", SECRET, 10), SealedKey("r1", 2, "alice", b"k2a", 13),
            SealedKey("r1", 2, "bob", b"k2b", 13)]
    users = [User("alice", "Alice", "admin", "active", 1, None),
             User("bob", "Bob", "user", "revoked", 2, 5)]
    parts = {"rooms": rooms, "members": members, "sealed_keys": keys, "users": users, "invalid": []}
    for name, fn in changes.items():
        parts[name] = fn(parts[name])
    return make_snapshot(**parts)


def test_equal_states_are_identical():
    report = diff(state(), state())
    assert report.identical
    assert report.differences == ()
    assert report.sqlite_counts == {"rooms": 2, "members": 3, "sealed_keys": 3, "users": 2}
    assert "parity: identical" in render_table(report)


def test_only_in_each_side_and_field_differences_sorted():
    a = state(users=lambda u: u + [User("carol", "", "user", "active", 3, None)])
    b = state(rooms=lambda r: [Room("r1", "One!", True, "alice", 3, 10), r[1]],
              members=lambda m: m[:2],
              users=lambda u: [u[0], User("bob", "Bob", "user", "active", 2, None)])
    report = diff(a, b)
    got = [(d.entity, d.key, d.kind) for d in report.differences]
    assert got == [
        ("rooms", "r1", FIELDS_DIFFER),
        ("members", "r2.bob", ONLY_IN_SQLITE),
        ("users", "bob", FIELDS_DIFFER),
        ("users", "carol", ONLY_IN_SQLITE),
    ]
    room = report.differences[0]
    assert [(f.field, f.sqlite, f.kv) for f in room.fields] == [("name", "One", "One!"), ("epoch", 2, 3)]
    user = report.differences[2]
    assert [(f.field, f.sqlite, f.kv) for f in user.fields] == [
        ("status", "revoked", "active"), ("revoked_at", 5, None)]
    # and the other way round, the records only in KV
    back = diff(b, a)
    assert ("users", "carol", ONLY_IN_KV) in [(d.entity, d.key, d.kind) for d in back.differences]


def test_sealed_keys_sorted_by_epoch_numerically_and_shown_as_fingerprints():
    b = state(sealed_keys=lambda ks: [SealedKey("r1", 1, "alice", b"other", 10)] + ks[1:]
              + [SealedKey("r1", 10, "bob", b"x", 20)])
    report = diff(state(), b)
    assert [(d.key, d.kind) for d in report.differences] == [
        ("r1.1.alice", FIELDS_DIFFER), ("r1.10.bob", ONLY_IN_KV)]
    f = report.differences[0].fields[0]
    assert f.field == "sealed_key" and len(f.sqlite) == 8 and f.sqlite != f.kv
    text = json.dumps(report.to_json()) + render_table(report)
    assert "secret" not in text and "c2VjcmV0" not in text  # neither bytes nor base64
    assert f.sqlite in render_table(report)


def test_bool_and_int_are_not_the_same_value():
    b = state(rooms=lambda r: [Room("r1", "One", 1, "alice", 2, 10), r[1]])  # type: ignore[arg-type]
    report = diff(state(), b)
    assert [(d.key, d.kind, d.fields[0].field) for d in report.differences] == [
        ("r1", FIELDS_DIFFER, "encrypted")]


def test_invalid_records_of_either_side_are_differences():
    a = state(invalid=lambda _: [InvalidRecord("room_keys", "r9", "not JSON")])
    b = state(invalid=lambda _: [InvalidRecord("users", "zed", "missing field 'role'")])
    report = diff(a, b)
    assert not report.identical
    assert [(d.entity, d.key, d.kind) for d in report.differences] == [
        ("room_keys", "r9", INVALID_IN_SQLITE), ("users", "zed", INVALID_IN_KV)]
    assert "missing field 'role'" in render_table(report)
    doc = report.to_json()
    assert doc["identical"] is False and doc["difference_count"] == 2


def test_table_limits_long_lists():
    b = state(users=lambda u: u + [User(f"u{i:03}", "", "user", "active", 3, None) for i in range(30)])
    text = render_table(diff(state(), b), limit=10)
    assert "parity: 30 difference(s)" in text
    assert "... and 20 more" in text


# -- diff_raw: the migration's byte-for-byte parity against the buckets' raw rows ---------

def raw_of(snap):
    return {b: list(rows.items()) for b, rows in expected_rows(snap).items()}


def test_raw_rows_equal_to_the_encoding_are_identical():
    snap = state()
    report = diff_raw(snap, raw_of(snap))
    assert report.identical
    assert report.kv_counts == {"rooms": 2, "members": 3, "rooms_by_member": 3, "sealed_keys": 3,
                                "users": 2}
    assert "rooms_by_member" in render_table(report)


def test_raw_other_formatting_or_unknown_fields_are_no_difference():
    snap = state()
    raw = raw_of(snap)
    key, value = raw["users"][0]
    doc = json.loads(value)
    doc["note"] = "added by the daemon"
    raw["users"][0] = (key, json.dumps(doc, indent=1).encode())
    assert diff_raw(snap, raw).identical


def test_raw_differences_missing_extra_invalid_and_reverse_rows():
    snap = state()
    raw = raw_of(snap)
    raw["rooms_by_member"] = [r for r in raw["rooms_by_member"] if r[0] != "bob.r1"]
    raw["room_keys"] = [(k, v) for k, v in raw["room_keys"] if k != "r1.2.bob"]
    raw["users"].append(("zed", b"{oops"))
    raw["users"].append(("carol", json.dumps({"key": "dave", "name": "", "role": "user",
                                              "status": "active", "added_at": 1,
                                              "revoked_at": None}).encode()))
    raw["users"].append(("erin", json.dumps({"key": "erin", "name": "", "role": "user",
                                             "status": "active", "added_at": 1,
                                             "revoked_at": None}).encode()))
    k, v = raw["rooms"][0]
    doc = json.loads(v)
    doc["epoch"] = 7
    raw["rooms"][0] = (k, json.dumps(doc).encode())
    report = diff_raw(snap, raw)
    got = [(d.entity, d.key, d.kind) for d in report.differences]
    assert got == [
        ("rooms", "r1", FIELDS_DIFFER),
        ("rooms_by_member", "bob.r1", ONLY_IN_SQLITE),
        ("sealed_keys", "r1.2.bob", ONLY_IN_SQLITE),
        ("users", "erin", ONLY_IN_KV),
        ("users", "carol", INVALID_IN_KV),
        ("users", "zed", INVALID_IN_KV),
    ]
    assert [(f.field, f.sqlite, f.kv) for f in report.differences[0].fields] == [("epoch", 2, 7)]
    assert "not its key" in report.differences[4].reason
