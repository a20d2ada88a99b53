"""The SQLite backend seen from around the store: raw sqlite3 checks of the schema, of the rows
the store writes, and of how it opens (or refuses) files. Also the seeder's output."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3

import pytest

from store import InvalidInput, NotFound, ReadOnly, SqliteSpec, Unavailable, open_store
from store import sqlite as backend
from store.dev.seed import seed_database
from store.sqlite_file import create_database
from tests.helpers import FIXED_NOW

EXPECTED = {  # SPEC section 3, statement by statement
    "rooms": """CREATE TABLE rooms (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  encrypted  INTEGER NOT NULL CHECK (encrypted IN (0, 1)),
  owner      TEXT NOT NULL,
  epoch      INTEGER NOT NULL CHECK (epoch >= 0),
  created_at INTEGER NOT NULL
)""",
    "members": """CREATE TABLE members (
  room_id   TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  endpoint  TEXT NOT NULL,
  role      TEXT NOT NULL CHECK (role IN ('owner', 'member')),
  joined_at INTEGER NOT NULL,
  PRIMARY KEY (room_id, endpoint)
)""",
    "members_by_endpoint": "CREATE INDEX members_by_endpoint ON members(endpoint, room_id)",
    "room_keys": """CREATE TABLE room_keys (
  room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  epoch      INTEGER NOT NULL,
  endpoint   TEXT NOT NULL,
  sealed_key BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (room_id, epoch, endpoint)
)""",
    "users": """CREATE TABLE users (
  key        TEXT PRIMARY KEY,
  name       TEXT NOT NULL DEFAULT '',
  role       TEXT NOT NULL CHECK (role IN ('admin', 'user')),
  status     TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
  added_at   INTEGER NOT NULL,
  revoked_at INTEGER
)""",
}


def digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def raw(path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "m.sqlite"
    create_database(str(path))
    return path


def test_schema_is_spec_v1(db):
    con = raw(db)
    rows = dict(con.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"))
    assert rows == EXPECTED
    assert con.execute("PRAGMA user_version").fetchone() == (1,)
    assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    cols = [(r[1], r[2], r[3], r[5]) for r in con.execute("PRAGMA table_info(room_keys)")]
    assert cols == [("room_id", "TEXT", 1, 1), ("epoch", "INTEGER", 1, 2), ("endpoint", "TEXT", 1, 3),
                    ("sealed_key", "BLOB", 1, 0), ("created_at", "INTEGER", 1, 0)]
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()


def test_create_database_refuses_existing_and_leaves_no_temp(tmp_path, db):
    before = digest(db)
    with pytest.raises(InvalidInput, match="existing"):
        create_database(str(db))
    assert digest(db) == before
    with pytest.raises(InvalidInput, match="no such directory"):
        create_database(str(tmp_path / "missing" / "x.sqlite"))
    assert sorted(os.listdir(tmp_path)) == ["m.sqlite"]


async def test_rows_as_the_store_writes_them(db, clock):
    s = await open_store(SqliteSpec(str(db)), clock=clock)
    await s.create_room("Room-A", "Ä name", "OWNER", encrypted=True, sealed_key=b"\x00k1")
    clock.advance(7)
    await s.add_member("Room-A", "Bob", sealed_key=b"k2")
    await s.rekey("Room-A", {"owner": b"o2", "BOB": b"b2"})
    await s.add_user("AdminKey", "Ann", "admin")
    await s.revoke_user("adminkey")
    await s.close()
    con = raw(db)
    assert con.execute("SELECT * FROM rooms").fetchall() == [
        ("Room-A", "Ä name", 1, "owner", 2, FIXED_NOW)]
    assert con.execute("SELECT * FROM members ORDER BY endpoint").fetchall() == [
        ("Room-A", "bob", "member", FIXED_NOW + 7), ("Room-A", "owner", "owner", FIXED_NOW)]
    assert con.execute("SELECT room_id, epoch, endpoint, sealed_key, typeof(sealed_key), created_at "
                       "FROM room_keys ORDER BY epoch, endpoint").fetchall() == [
        ("Room-A", 1, "bob", b"k2", "blob", FIXED_NOW + 7),
        ("Room-A", 1, "owner", b"\x00k1", "blob", FIXED_NOW),
        ("Room-A", 2, "bob", b"b2", "blob", FIXED_NOW + 7),
        ("Room-A", 2, "owner", b"o2", "blob", FIXED_NOW + 7)]
    assert con.execute("SELECT *, typeof(added_at) FROM users").fetchall() == [
        ("adminkey", "Ann", "admin", "revoked", FIXED_NOW + 7, FIXED_NOW + 7, "integer")]
    con.close()


async def test_delete_room_leaves_no_rows(db, clock):
    s = await open_store(SqliteSpec(str(db)), clock=clock)
    await s.create_room("r", "r", "o", encrypted=True, sealed_key=b"k")
    await s.add_member("r", "m", sealed_key=b"k")
    await s.delete_room("r")
    await s.close()
    con = raw(db)
    assert [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("rooms", "members", "room_keys")] \
        == [0, 0, 0]
    con.close()


async def test_open_missing_file_creates_nothing(tmp_path):
    path = tmp_path / "nope.sqlite"
    with pytest.raises(InvalidInput, match="no such database"):
        await open_store(SqliteSpec(str(path)))
    assert os.listdir(tmp_path) == []


def _foreign_files(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("SQLite is great, but this is text\n" * 10)
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    v2 = tmp_path / "v2.sqlite"
    con = sqlite3.connect(v2)
    con.execute("CREATE TABLE users (key TEXT)")
    con.execute("PRAGMA user_version = 2")
    con.commit()
    con.close()
    other = tmp_path / "other.sqlite"  # right version, not our tables
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE things (x)")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    return [("not a SQLite database", text), ("not a SQLite database", empty),
            ("schema version 2", v2), ("no table members", other)]


@pytest.mark.parametrize("read_only", [False, True])
async def test_foreign_files_refused_and_untouched(tmp_path, read_only):
    files = _foreign_files(tmp_path)
    before = {p: digest(p) for _, p in files}
    listing = sorted(os.listdir(tmp_path))
    for reason, path in files:
        with pytest.raises(InvalidInput, match=reason):
            await open_store(SqliteSpec(str(path), read_only=read_only))
    assert {p: digest(p) for _, p in files} == before
    assert sorted(os.listdir(tmp_path)) == listing  # no -wal / -shm / -journal left beside them


async def test_read_only_refuses_every_change(db, clock):
    s = await open_store(SqliteSpec(str(db)), clock=clock)
    await s.add_user("u")
    await s.create_room("r", "r", "u")
    await s.close()
    before = digest(db)
    ro = await open_store(SqliteSpec(str(db), read_only=True), clock=clock)
    assert ro.read_only and ro.label.endswith("(read-only)")
    for call in (lambda: ro.add_user("v"), lambda: ro.revoke_user("u"), lambda: ro.reinstate_user("u"),
                 lambda: ro.create_room("x", "x", "u"), lambda: ro.delete_room("r"),
                 lambda: ro.add_member("r", "v"), lambda: ro.remove_member("r", "u"),
                 lambda: ro.put_key("r", 1, "u", b"k"), lambda: ro.rekey("r", {"u": b"k"})):
        with pytest.raises(ReadOnly):
            await call()
    assert await ro.is_authorized("u") and (await ro.get_user("u")).status == "active"
    await ro.close()
    assert digest(db) == before


async def test_busy_database_is_unavailable_and_auth_fails_closed(db, clock, monkeypatch):
    monkeypatch.setattr(backend, "BUSY_TIMEOUT_MS", 200)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode = DELETE")  # a daemon without WAL: a writer shuts readers out
    con.close()
    s = await open_store(SqliteSpec(str(db)), clock=clock)
    s.op_timeout = 0.5  # the bound on a decision
    await s.add_user("u")
    holder = sqlite3.connect(db, isolation_level=None, timeout=0.1)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(Unavailable, match="busy"):
            await s.add_user("v")
        with pytest.raises(Unavailable):
            await s.export_snapshot()
        assert await s.is_authorized("u") is False
        assert await s.is_admin("u") is False
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert await s.is_authorized("u") is True
    with pytest.raises(NotFound):
        await s.get_user("v")
    await s.close()


# -- the seeder ----------------------------------------------------------------

async def test_seed_is_deterministic_and_keeps_the_domain_rules(tmp_path):
    a, b, c = (str(tmp_path / n) for n in ("a.sqlite", "b.sqlite", "c.sqlite"))
    counts = seed_database(a, rooms=12, users=40, members_per_room=4, epochs=3, seed=5)
    assert (counts.rooms, counts.users, counts.members, counts.sealed_keys) == (12, 40, 48, 144)
    seed_database(b, rooms=12, users=40, members_per_room=4, epochs=3, seed=5)
    seed_database(c, rooms=12, users=40, members_per_room=4, epochs=3, seed=6)
    assert digest(a) == digest(b) != digest(c)
    s = await open_store(SqliteSpec(a, read_only=True))
    snap = await s.export_snapshot()
    await s.close()
    assert snap.record_count == 12 + 40 + 48 + 144
    users = {u.key: u for u in snap.users}
    assert all(re.fullmatch(r"[0-9a-f]{32}", k) for k in users)
    assert [u.status == "revoked" for u in snap.users] != [False] * 40
    for i, u in enumerate(sorted(snap.users, key=lambda u: u.added_at)):
        assert (u.status == "revoked") == (i % 20 == 19)
        assert (u.revoked_at is not None) == (u.status == "revoked")
    for room in snap.rooms:
        members = [m for m in snap.members if m.room_id == room.id]
        assert room.encrypted and room.epoch == 3 and len(members) == 4
        assert [m.endpoint for m in members if m.role == "owner"] == [room.owner]
        assert all(m.endpoint in users for m in members)
        keys = {(k.epoch, k.endpoint) for k in snap.sealed_keys if k.room_id == room.id}
        assert keys == {(e, m.endpoint) for e in (1, 2, 3) for m in members}
    assert all(len(k.sealed_key) == 48 for k in snap.sealed_keys)


def test_seed_refuses_bad_arguments_and_existing_files(tmp_path, db):
    before = digest(db)
    with pytest.raises(InvalidInput):
        seed_database(str(db), rooms=1, users=2, members_per_room=1, epochs=1)
    assert digest(db) == before
    with pytest.raises(InvalidInput, match="at least as many users"):
        seed_database(str(tmp_path / "x.sqlite"), rooms=1, users=2, members_per_room=3)
    with pytest.raises(InvalidInput):
        seed_database(str(tmp_path / "x.sqlite"), epochs=0)
    assert sorted(os.listdir(tmp_path)) == ["m.sqlite"]


async def test_refused_changes_leave_the_file_byte_identical(db, clock):
    from store import AlreadyExists

    s = await open_store(SqliteSpec(str(db)), clock=clock)
    await s.create_room("r", "r", "o", encrypted=True, sealed_key=b"k")
    await s.add_member("r", "m", sealed_key=b"k")
    await s.add_user("abc")
    await s.close()
    before = digest(db)
    s = await open_store(SqliteSpec(str(db)), clock=clock)
    with pytest.raises(InvalidInput, match=r"misses a sealed key for member.*m"):
        await s.rekey("r", {"o": b"k2"})
    with pytest.raises(AlreadyExists):
        await s.add_user("ABC")
    with pytest.raises(InvalidInput):
        await s.add_user("bad key")
    await s.close()
    assert digest(db) == before


async def test_rows_of_the_wrong_type_are_reported_not_exported(db, clock):
    """What a buggy writer could leave: reported as invalid records, never a crash, never silent."""
    import subprocess
    import sys

    s = await open_store(SqliteSpec(str(db)), clock=clock)
    await s.create_room("r", "r", "o", encrypted=True, sealed_key=b"k")
    await s.add_user("good")
    await s.close()
    con = sqlite3.connect(db)
    con.execute("INSERT INTO room_keys VALUES ('r', 1, 'x', 'text, not a blob', 5)")
    con.execute("INSERT INTO users VALUES ('bad', '', 'user', 'active', 'yesterday', NULL)")
    con.commit()
    con.close()
    s = await open_store(SqliteSpec(str(db), read_only=True), clock=clock)
    snap = await s.export_snapshot()
    await s.close()
    assert [(i.bucket, i.key, i.reason) for i in snap.invalid] == [
        ("room_keys", "r.1.x", "sealed_key is text, expected blob"),
        ("users", "bad", "added_at is text, expected integer")]
    assert [k.endpoint for k in snap.sealed_keys] == ["o"] and [u.key for u in snap.users] == ["good"]
    proc = subprocess.run([sys.executable, "-m", "tui", "export", "--db", str(db)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        "invalid record: bucket room_keys, key r.1.x: sealed_key is text, expected blob",
        "invalid record: bucket users, key bad: added_at is text, expected integer"]
    assert proc.stdout.startswith('{"rooms":[{"id":"r"')
