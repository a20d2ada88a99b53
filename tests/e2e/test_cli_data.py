"""The data commands as a real subprocess: normal use, and bad input (one line on stderr,
exit 2, no traceback, the file byte-identical afterwards)."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from tests.helpers import cli, digest


def fails(code: int, *args: str, match: str) -> str:
    """Run a command that must fail with `code` and one clear stderr line containing `match`."""
    proc = cli(*args)
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and match in lines[0], proc.stderr
    assert lines[0].startswith("membership-admin: ")
    return lines[0]


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "m.sqlite")
    proc = cli("init-db", path)
    assert proc.returncode == 0 and "created" in proc.stdout
    return path


def test_users_and_authorize(db):
    assert cli("users", "add", "ABC", "--name", "Ann ☕", "--role", "admin", "--db", db).returncode == 0
    assert cli("--db", db, "users", "add", "bob").returncode == 0  # backend option before the command
    allow = cli("authorize", "Abc", "--admin", "--db", db)
    assert (allow.returncode, allow.stdout) == (0, "allow: active admin\n")
    not_admin = cli("--db", db, "authorize", "bob", "--admin")
    assert (not_admin.returncode, not_admin.stdout) == (1, "deny: not an admin\n")
    assert cli("authorize", "bob", "--db", db).stdout == "allow: active user\n"
    unknown = cli("authorize", "carol", "--db", db)
    assert (unknown.returncode, unknown.stdout) == (1, "deny: unknown user\n")

    revoked = cli("users", "revoke", "BOB", "--db", db)
    assert revoked.returncode == 0 and revoked.stdout.startswith("revoked bob")
    again = cli("users", "revoke", "bob", "--db", db)
    assert again.returncode == 0 and again.stdout.startswith("already revoked bob")
    deny = cli("authorize", "bob", "--db", db)
    assert deny.returncode == 1 and deny.stdout.startswith("deny: revoked at 20")

    listed = json.loads(cli("users", "list", "--json", "--db", db).stdout)
    assert [(u["key"], u["status"], u["role"]) for u in listed] == [
        ("abc", "active", "admin"), ("bob", "revoked", "user")]
    assert listed[1]["revoked_at"] is not None and listed[0]["name"] == "Ann ☕"
    assert cli("users", "reinstate", "bob", "--db", db).stdout.startswith("reinstated bob")
    assert cli("authorize", "bob", "--db", db).returncode == 0
    # in a pipe: a header line, then tab-separated fields (the added time is the clock's)
    header, *rows = (line.split("\t") for line in cli("users", "list", "--db", db).stdout.splitlines())
    assert header == ["key", "name", "role", "status", "added", "revoked"]
    assert [r[:4] + r[5:] for r in rows] == [["abc", "Ann ☕", "admin", "active", "-"],
                                             ["bob", "", "user", "active", "-"]]
    table = cli("users", "list", "--format", "table", "--db", db).stdout.splitlines()
    assert [line.split()[0] for line in table] == ["key", "abc", "bob"]  # aligned: tests/e2e/test_cli_tables.py
    assert "admin  active" in table[1] and "user   active" in table[2]


def test_seed_and_export(tmp_path):
    path = str(tmp_path / "seeded.sqlite")
    proc = cli("seed", path, "--rooms", "4", "--users", "12", "--members-per-room", "3", "--epochs", "2",
               "--seed", "9")
    assert proc.returncode == 0
    assert "4 rooms, 12 users, 12 members, 24 sealed keys" in proc.stdout
    first = cli("export", "--db", path)
    assert first.returncode == 0 and first.stderr == ""
    doc = json.loads(first.stdout)
    assert list(doc) == ["rooms", "members", "sealed_keys", "users"]
    assert [len(doc[k]) for k in doc] == [4, 12, 24, 12]
    assert doc["sealed_keys"][0].keys() == {"room_id", "epoch", "endpoint", "sealed_key", "created_at"}
    assert cli("--db", path, "export").stdout == first.stdout  # deterministic, either option order
    assert first.stdout.count("\n") == 1  # one compact line


def test_missing_database_is_not_created(tmp_path):
    missing = str(tmp_path / "missing.sqlite")
    for args in (("export", "--db", missing), ("users", "list", "--db", missing),
                 ("users", "add", "abc", "--db", missing), ("authorize", "abc", "--db", missing)):
        fails(2, *args, match="no such database")
    assert os.listdir(tmp_path) == []


def test_foreign_and_wrong_version_files_untouched(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 50)
    v7 = tmp_path / "v7.sqlite"
    con = sqlite3.connect(v7)
    con.execute("CREATE TABLE users (key TEXT PRIMARY KEY)")
    con.execute("PRAGMA user_version = 7")
    con.commit()
    con.close()
    before = {p: digest(p) for p in (text, v7)}
    fails(2, "export", "--db", str(text), match="not a SQLite database")
    fails(2, "users", "add", "abc", "--db", str(text), match="not a SQLite database")
    fails(2, "export", "--db", str(v7), match="schema version 7")
    fails(2, "users", "revoke", "abc", "--db", str(v7), match="schema version 7")
    fails(2, "init-db", str(text), match="existing file")
    fails(2, "seed", str(v7), match="existing file")
    assert {p: digest(p) for p in (text, v7)} == before
    assert sorted(os.listdir(tmp_path)) == ["notes.txt", "v7.sqlite"]


def test_bad_input_leaves_database_byte_identical(db):
    assert cli("users", "add", "abc", "--db", db).returncode == 0
    before = digest(db)
    fails(2, "users", "add", "ABC", "--db", db, match="already exists")  # differs only in case
    fails(2, "users", "add", "abc", "--db", db, match="already exists")
    fails(2, "users", "add", "not a key", "--db", db, match="invalid key")
    fails(2, "users", "add", "x" * 129, "--db", db, match="invalid key")
    fails(2, "users", "add", "ok", "--name", "bad\x07name", "--db", db, match="invalid name")
    fails(2, "users", "add", "ok", "--role", "root", "--db", db, match="invalid choice")
    fails(2, "users", "revoke", "nobody", "--db", db, match="no such user")
    fails(2, "authorize", "bad/key", "--db", db, match="invalid key")
    fails(2, "seed", db + ".new", "--members-per-room", "0", match="members per room")
    fails(2, "seed", db + ".new", "--rooms", "ten", match="invalid int")
    fails(2, "export", match="name a backend: --db PATH, --nats-url URL")
    fails(2, "export", "--db", db, "--nats-url", "nats://127.0.0.1:4222", match="name one backend")
    assert digest(db) == before
    assert not os.path.exists(db + ".new")


def test_authorize_fails_closed_when_the_backend_is_down():
    proc = cli("authorize", "abc", "--nats-url", "nats://127.0.0.1:9", "--op-timeout", "0.5")
    assert proc.returncode == 1
    assert proc.stdout.startswith("deny: backend unavailable or state not confirmed current")


def test_export_reports_kv_values_that_do_not_decode(nats_server, bucket_prefix):
    """Printed document first, then one stderr line per bad record, exit 1: never skipped silently."""
    import asyncio

    import nats

    from store import NatsSpec
    from store.kv import KvStore

    async def prepare() -> None:
        s = await KvStore.create(NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix, replicas=1))
        await s.add_user("good")
        await s.close()
        nc = await nats.connect(nats_server.url)
        kv = await nc.jetstream().key_value(f"{bucket_prefix}users")
        await kv.put("broken", b"{not json")
        await nc.close()

    asyncio.run(prepare())
    proc = cli("export", "--nats-url", nats_server.url, "--bucket-prefix", bucket_prefix)
    assert proc.returncode == 1
    assert [u["key"] for u in json.loads(proc.stdout)["users"]] == ["good"]
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"invalid record: bucket {bucket_prefix}users, key broken: ")


def test_users_list_formats_and_bulk_revoke(db, tmp_path):
    import csv
    import io

    for key, name in (("ann", "Ann, \"the\" first"), ("bob", "Bob"), ("cat", "Cat")):
        assert cli("users", "add", key, "--name", name, "--db", db).returncode == 0
    con = sqlite3.connect(db)  # a tab the daemon wrote: the tool would refuse it
    with con:
        con.execute("UPDATE users SET name = 'Bob\tTab' WHERE key = 'bob'")
    con.close()
    rows = list(csv.reader(io.StringIO(cli("users", "list", "--format", "csv", "--db", db).stdout)))
    assert rows[0] == ["key", "name", "role", "status", "added", "revoked"]
    assert [r[:2] for r in rows[1:]] == [["ann", 'Ann, "the" first'], ["bob", "Bob\tTab"], ["cat", "Cat"]]
    tsv = cli("users", "list", "--format", "tsv", "--db", db).stdout.splitlines()
    assert [line.split("\t")[:2] for line in tsv[1:]] == [["ann", 'Ann, "the" first'], ["bob", "Bob\\tTab"],
                                                          ["cat", "Cat"]]
    assert json.loads(cli("users", "list", "--format", "json", "--db", db).stdout)[2]["key"] == "cat"
    # bulk: keys and a file; an unknown key is named, the others are revoked (exit 1)
    keys = tmp_path / "leavers.txt"
    keys.write_text("# leavers\nbob\n\nnobody\n")
    proc = cli("users", "revoke", "ann", "--from-file", str(keys), "--db", db, "--reason", "leavers")
    assert proc.returncode == 1 and proc.stderr == "not revoked: nobody: no such user: nobody\n", proc.stderr
    assert [line.split()[:2] for line in proc.stdout.splitlines()] == [["revoked", "ann"], ["revoked", "bob"]]
    statuses = {u["key"]: u["status"] for u in json.loads(cli("users", "list", "--json", "--db", db).stdout)}
    assert statuses == {"ann": "revoked", "bob": "revoked", "cat": "active"}
    assert cli("users", "reinstate", "ann", "bob", "--db", db).returncode == 0
    fails(2, "users", "revoke", "--db", db, match="name at least one KEY")
    fails(2, "users", "revoke", "--from-file", str(tmp_path / "none.txt"), "--db", db, match="cannot read keys")
