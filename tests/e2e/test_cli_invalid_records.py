"""A daemon's file may hold what the schema forbids (CHECK constraints off, old rows, a buggy
writer). Every command names such records (table, identity, reason), keeps every valid one,
decides about them as both backends do (a deny with the reason), never migrates them, and
never prints a traceback or a raw control character.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest

from store import NatsSpec, SqliteSpec, open_store
from store.kv import KvStore
from store.sqlite_file import create_database
from tests.helpers import cli

#: (key, name, role, status, added_at, revoked_at) rows a daemon could have left, each
#: breaking one rule; the value is the word the reason must contain
BAD_USERS = {
    ("rooter", "Root", "root", "active", 1, None): "role",
    ("paused", "P", "user", "paused", 1, None): "status",
    ("a.b", "Dot", "user", "active", 1, None): "key",
    ("wild*", "Star", "user", "active", 1, None): "key",
    ("gt>", "Gt", "user", "active", 1, None): "key",
    ("Upper", "Case", "user", "active", 1, None): "key",
    ("nullname", None, "user", "active", 1, None): "name",
    ("texttime", "T", "user", "active", "yesterday", None): "added_at",
    ("realtime", "R", "user", "active", 1.5, None): "added_at",
}
GOOD_USERS = [("alice", "Alice", "admin", "active", 100, None), ("bob", "Bob", "user", "revoked", 100, 200)]


def allow_null_names(path) -> None:
    """An older DDL of the daemon without NOT NULL on users.name (the file keeps its rows)."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA writable_schema = ON")
    con.execute("UPDATE sqlite_master SET sql = replace(sql, 'name       TEXT NOT NULL', 'name TEXT') "
                "WHERE name = 'users'")
    con.execute("PRAGMA writable_schema = OFF")
    con.close()


def write_rows(path, users=(), rooms=(), raw_sql=()) -> None:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA ignore_check_constraints = ON")  # as a careless writer would
    con.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)", users)
    con.executemany("INSERT INTO rooms VALUES (?, ?, ?, ?, ?, ?)", rooms)
    for sql, params in raw_sql:
        con.execute(sql, params)
    con.close()


@pytest.fixture
def bad_db(tmp_path):
    path = tmp_path / "daemon.sqlite"
    create_database(str(path))
    allow_null_names(path)
    write_rows(path, users=[*GOOD_USERS, *BAD_USERS],
               rooms=[("ok", "Fine", 0, "alice", 0, 1), ("neg", "Negative", 1, "alice", -1, 1),
                      ("r>1", "Wildcard", 0, "alice", 0, 1)],
               raw_sql=[("INSERT INTO users VALUES (?, CAST(? AS TEXT), 'user', 'active', 1, NULL)",
                         ("latin1", "Jos\xe9".encode("latin-1")))])
    return path


def test_export_and_users_list_name_each_invalid_record_and_keep_the_rest(bad_db):
    proc = cli("export", "--db", str(bad_db))
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert [u["key"] for u in doc["users"]] == ["alice", "bob"]
    assert [r["id"] for r in doc["rooms"]] == ["ok"]
    lines = proc.stderr.splitlines()
    assert len(lines) == len(BAD_USERS) + 3  # + the latin-1 name + two rooms
    assert all(line.startswith("invalid record: bucket ") for line in lines)
    for (key, *_), word in BAD_USERS.items():
        line = next(x for x in lines if f", key {key}:" in x)
        assert word in line.split(": ", 1)[1], line
    assert any("latin1" in x and "UTF-8" in x for x in lines)
    assert any("key neg:" in x and "negative epoch" in x for x in lines)

    listed = cli("users", "list", "--db", str(bad_db))
    assert listed.returncode == 1
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == ["key", "alice", "bob"]
    assert len(listed.stderr.splitlines()) == len(BAD_USERS) + 1


@pytest.mark.parametrize("key", ["rooter", "paused", "nullname", "texttime", "latin1"])
def test_an_invalid_user_is_denied_with_the_reason(bad_db, key):
    proc = cli("authorize", key, "--db", str(bad_db))
    assert proc.returncode == 1
    assert proc.stdout.startswith(f"deny: stored user {key} is invalid: ")
    assert "unavailable" not in proc.stdout


def test_migration_never_writes_invalid_records_and_fails_unless_skipped(bad_db, nats_server, bucket_prefix):
    kv = ["--nats-url", nats_server.url, "--bucket-prefix", bucket_prefix, "--replicas", "1"]
    first = cli("migrate-to-kv", "--db", str(bad_db), *kv, "--no-backup")
    assert first.returncode == 1, first.stderr
    assert "invalid in SQLite" in first.stdout and "parity: " in first.stdout
    assert "identical" not in first.stdout.split("parity: ")[1].splitlines()[0]
    exported = cli("export", *kv[:4])
    assert exported.returncode == 0, exported.stderr  # nothing undecodable was written
    doc = json.loads(exported.stdout)
    assert [u["key"] for u in doc["users"]] == ["alice", "bob"] and [r["id"] for r in doc["rooms"]] == ["ok"]

    skipped = cli("migrate-to-kv", "--db", str(bad_db), *kv, "--no-backup", "--skip-invalid", "--json")
    assert skipped.returncode == 0, skipped.stderr
    report = json.loads(skipped.stdout)
    assert report["parity"]["identical"] is True and report["skip_invalid"] is True
    assert len(report["invalid"]) == len(BAD_USERS) + 3
    assert {i["key"] for i in report["invalid"]} >= {"rooter", "a.b", "wild*", "gt>", "r>1", "neg"}


def test_both_backends_decide_alike(bad_db, nats_server, bucket_prefix):
    kv = ["--nats-url", nats_server.url, "--bucket-prefix", bucket_prefix]
    assert cli("migrate-to-kv", "--db", str(bad_db), *kv, "--replicas", "1", "--no-backup",
               "--skip-invalid").returncode == 0
    for key in ["alice", "bob", "rooter", "paused", "nullname", "texttime", "latin1", "nobody"]:
        on_sqlite = cli("authorize", key, "--db", str(bad_db))
        on_kv = cli("authorize", key, *kv)
        assert on_sqlite.returncode == on_kv.returncode, (key, on_sqlite.stdout, on_kv.stdout)
        assert on_sqlite.stdout.split(":")[0] == on_kv.stdout.split(":")[0]


def test_missing_column_is_a_wrong_schema(tmp_path):
    path = tmp_path / "old.sqlite"
    create_database(str(path))
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE users DROP COLUMN revoked_at")
    con.commit()
    con.close()
    for args in (("export",), ("users", "list"), ("authorize", "alice")):
        proc = cli(*args, "--db", str(path))
        assert proc.returncode == 2 and "no column revoked_at" in proc.stderr, proc.stderr
        assert len(proc.stderr.splitlines()) == 1


def test_impossible_timestamps_and_control_characters_print_safely(tmp_path):
    path = tmp_path / "odd.sqlite"
    create_database(str(path))
    write_rows(path, users=[("far", "Far future", "user", "revoked", 10 ** 17, 2 ** 62),
                            ("esc", "clear\x1b[2Jscreen\nnext line\x07", "user", "active", 1, None)])
    proc = cli("users", "list", "--db", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    lines = proc.stdout.splitlines()
    assert len(lines) == 3  # the header, then a line a user: the newline in the name broke nothing
    assert lines[1].split("\t")[1] == "clear\\e[2Jscreen\\nnext line\\x07"
    assert "@100000000000000000" in lines[2]
    # the JSON output keeps the exact text (escaped by JSON itself)
    doc = json.loads(cli("users", "list", "--json", "--db", str(path)).stdout)
    assert doc[0]["name"] == "clear\x1b[2Jscreen\nnext line\x07"


def test_undecodable_kv_users_are_named_by_users_list(nats_server, bucket_prefix):
    async def prepare() -> None:
        s = await KvStore.create(NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1))
        try:
            await s.add_user("good")
            await s.js.publish(f"$KV.{s.bucket('users')}.broken", b'{"key":"broken"}')
        finally:
            await s.close()

    asyncio.run(prepare())
    proc = cli("users", "list", "--nats-url", nats_server.url, "--bucket-prefix", bucket_prefix)
    assert proc.returncode == 1
    assert [line.split("\t")[0] for line in proc.stdout.splitlines()] == ["key", "good"]
    assert proc.stderr.splitlines() == [
        f"invalid record: bucket {bucket_prefix}users, key broken: missing field 'name'"]


async def test_the_store_lists_invalid_records_only_when_asked(bad_db):
    store = await open_store(SqliteSpec(str(bad_db), read_only=True))
    try:
        invalid: list = []
        assert [u.key for u in await store.list_users()] == ["alice", "bob"]
        assert [u.key for u in await store.list_users(invalid=invalid)] == ["alice", "bob"]
        assert {i.key for i in invalid} == {k for k, *_ in BAD_USERS} | {"latin1"}
        assert all(i.bucket == "users" for i in invalid)
    finally:
        await store.close()


def test_a_stored_name_over_200_characters_is_invalid_on_both_backends(tmp_path, nats_server, bucket_prefix):
    """users add refuses 201 characters; a stored one, 5,000 in SQLite or 1,000,000 in KV, is
    an invalid record like any other rule broken: named (never printed whole), never
    migrated, never "identical", a deny."""
    path = tmp_path / "long.sqlite"
    create_database(str(path))
    write_rows(path, users=[*GOOD_USERS, ("longname", "x" * 5000, "user", "active", 1, None),
                            ("justfits", "é" * 200, "user", "active", 1, None)])
    kv = ["--nats-url", nats_server.url, "--bucket-prefix", bucket_prefix]
    for args in (("users", "list"), ("export",)):
        proc = cli(*args, "--db", str(path))
        assert proc.returncode == 1 and "x" * 100 not in proc.stdout + proc.stderr, args
        line, = proc.stderr.splitlines()
        assert line.startswith("invalid record: bucket users, key longname: name 'xxxxx"), line
        assert line.endswith(": longer than 200 characters") and len(line) < 150, line
        assert "justfits" in proc.stdout
    assert cli("authorize", "longname", "--db", str(path)).stdout.startswith("deny: stored user longname is invalid")
    migrated = cli("migrate-to-kv", "--db", str(path), *kv, "--replicas", "1", "--no-backup")
    assert migrated.returncode == 1, migrated.stdout
    assert "identical" not in migrated.stdout.split("parity: ")[1].splitlines()[0]
    assert "longname" in migrated.stdout + migrated.stderr and "x" * 100 not in migrated.stdout + migrated.stderr

    async def put_long_name() -> None:
        s = await KvStore.open(NatsSpec(nats_server.url, bucket_prefix=bucket_prefix))
        try:
            value = json.dumps({"key": "huge", "name": "y" * 1_000_000, "role": "user", "status": "active",
                                "added_at": 1, "revoked_at": None})
            await s.js.publish(f"$KV.{s.bucket('users')}.huge", value.encode())
        finally:
            await s.close()

    asyncio.run(put_long_name())
    for args in (("users", "list"), ("export",)):
        proc = cli(*args, *kv)
        assert proc.returncode == 1, (args, proc.stderr)
        assert "y" * 100 not in proc.stdout + proc.stderr and len(proc.stdout) < 100_000
        assert any("key huge: name 'yyy" in line and "longer than 200 characters" in line
                   for line in proc.stderr.splitlines()), proc.stderr
    denied = cli("authorize", "huge", *kv).stdout
    assert denied.startswith("deny: stored value ") and "longer than 200 characters" in denied, denied
    assert cli("users", "add", "other", "--name", "z" * 201, *kv).returncode == 2
