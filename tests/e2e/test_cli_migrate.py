"""`migrate-to-kv`, `diff`, `export-to-sqlite` run as the real program in a subprocess."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from store import NatsSpec, SqliteSpec, open_store
from store.dev.local_nats import free_port
from store.snapshot import export_json
from store.sqlite_file import build_database
from tests.helpers import ROOT, cli, put_broken_user, run_sync


def make_db(path: Path, rooms: int = 10, per_room: int = 3, epochs: int = 2) -> None:
    def fill(con: sqlite3.Connection) -> None:
        con.execute("BEGIN")
        n = rooms * per_room
        con.executemany("INSERT INTO users VALUES (?,?,?,?,?,?)", [
            (f"u{i:06d}", f"User {i}", "user", "revoked" if i % 4 == 0 else "active", 100 + i,
             300 + i if i % 4 == 0 else None) for i in range(n)])
        for r in range(rooms):
            rid, epoch = f"r{r:05d}", 1 + r % epochs
            mem = [f"u{(r * per_room + j) % n:06d}" for j in range(per_room)]
            con.execute("INSERT INTO rooms VALUES (?,?,?,?,?,?)", (rid, f"R{r}", 1, mem[0], epoch, 5))
            con.executemany("INSERT INTO members VALUES (?,?,?,?)",
                            [(rid, m, "owner" if j == 0 else "member", 6) for j, m in enumerate(mem)])
            con.executemany("INSERT INTO room_keys VALUES (?,?,?,?,?)",
                            [(rid, e, m, hashlib.sha256(f"{rid}{e}{m}".encode()).digest(), 7)
                             for e in range(1, epoch + 1) for m in mem])
        con.execute("COMMIT")
    build_database(str(path), fill)


def kv_args(url: str, prefix: str) -> list[str]:
    return ["--nats-url", url, "--bucket-prefix", prefix]


def export_of(spec) -> str:
    async def run() -> str:
        s = await open_store(spec)
        try:
            return export_json(await s.export_snapshot())
        finally:
            await s.close()
    return asyncio.run(run())


def one_line_error(r: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in r.stderr
    assert len(lines) == 1 and lines[0].startswith("membership-admin: "), r.stderr
    return lines[0]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "m.sqlite"
    make_db(path)
    return path


def test_migrate_json_report_then_diff_identical(db, nats_server, bucket_prefix):
    kv = kv_args(nats_server.url, bucket_prefix)
    r = cli("migrate-to-kv", "--db", str(db), *kv, "--replicas", "1", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["parity"]["identical"] is True
    assert report["counts"]["rooms"] == 10 and report["counts"]["rooms_by_member"] == 30
    assert report["backup"]["verified"] is True and Path(report["backup"]["path"]).exists()
    assert report["replicas"] == 1
    assert r.stderr == ""  # --json: no progress (see test_cli_progress)

    r = cli("diff", "--db", str(db), *kv)
    assert r.returncode == 0, r.stderr
    assert "parity: identical" in r.stdout

    r = cli("migrate-to-kv", "--db", str(db), *kv, "--no-backup")
    assert r.returncode == 0, r.stderr
    assert "backup: skipped" in r.stdout and "rooms_by_member" in r.stdout
    assert len(list(db.parent.glob("m.backup-*.sqlite"))) == 1


def test_diff_reports_differences_with_exit_1(db, nats_server, bucket_prefix):
    kv = kv_args(nats_server.url, bucket_prefix)
    assert cli("migrate-to-kv", "--db", str(db), *kv, "--replicas", "1", "--no-backup").returncode == 0
    con = sqlite3.connect(db)
    con.execute("UPDATE users SET status='revoked', revoked_at=999 WHERE key='u000001'")
    con.execute("DELETE FROM room_keys WHERE room_id='r00001' AND epoch=2 AND endpoint='u000003'")
    con.commit()
    con.close()
    r = cli("diff", "--db", str(db), *kv)
    assert r.returncode == 1, r.stderr
    assert "r00001.2.u000003" in r.stdout and "only in KV" in r.stdout
    assert "status sqlite='revoked' kv='active'" in r.stdout
    r = cli("diff", "--db", str(db), *kv, "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 1 and doc["difference_count"] == 2
    assert {(d["entity"], d["key"], d["kind"]) for d in doc["differences"]} == {
        ("users", "u000001", "fields_differ"), ("sealed_keys", "r00001.2.u000003", "only_in_kv")}
    # migrating again converges; the key only in KV stays (reported) unless --prune
    r = cli("migrate-to-kv", "--db", str(db), *kv, "--no-backup", "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["parity"]["difference_count"] == 1
    r = cli("migrate-to-kv", "--db", str(db), *kv, "--no-backup", "--prune")
    assert r.returncode == 0, r.stderr
    assert cli("diff", "--db", str(db), *kv).returncode == 0


def test_unreachable_target_exit_3_and_nothing_written(db, bucket_prefix):
    before = db.read_bytes()
    url = f"nats://127.0.0.1:{free_port()}"
    r = cli("migrate-to-kv", "--db", str(db), *kv_args(url, bucket_prefix), "--op-timeout", "0.5")
    assert r.returncode == 3
    assert "unavailable" in one_line_error(r)
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["m.sqlite"]
    r = cli("diff", "--db", str(db), *kv_args(url, bucket_prefix), "--op-timeout", "0.5")
    assert r.returncode == 3


def test_bad_input_exit_2(tmp_path, nats_server, bucket_prefix):
    kv = kv_args(nats_server.url, bucket_prefix)
    r = cli("migrate-to-kv", "--db", str(tmp_path / "missing.sqlite"), *kv)
    assert r.returncode == 2 and "missing.sqlite" in one_line_error(r)
    foreign = tmp_path / "notes.txt"
    foreign.write_text("hello")
    r = cli("migrate-to-kv", "--db", str(foreign), *kv)
    assert r.returncode == 2 and one_line_error(r)
    assert foreign.read_text() == "hello"
    foreign.unlink()
    r = cli("migrate-to-kv", "--db", str(tmp_path / "x.sqlite"), *kv, "--replicas", "7")
    assert r.returncode == 2 and "replicas" in one_line_error(r)
    r = cli("diff", *kv)
    assert r.returncode == 2 and "--db" in one_line_error(r)
    assert list(tmp_path.iterdir()) == []


def test_export_to_sqlite_is_the_rollback_path(db, tmp_path, nats_server, bucket_prefix):
    kv = kv_args(nats_server.url, bucket_prefix)
    assert cli("migrate-to-kv", "--db", str(db), *kv, "--replicas", "1", "--no-backup").returncode == 0
    out = tmp_path / "back.sqlite"
    r = cli("export-to-sqlite", *kv, "--db", str(out))
    assert r.returncode == 0, r.stderr
    assert "parity: identical" in r.stdout and str(out) in r.stdout
    assert export_of(SqliteSpec(str(out))) == export_of(SqliteSpec(str(db)))
    # never overwrites
    stamp = out.read_bytes()
    r = cli("export-to-sqlite", *kv, "--db", str(out))
    assert r.returncode == 2 and "exists" in one_line_error(r)
    assert out.read_bytes() == stamp


def test_export_to_sqlite_refuses_invalid_records(tmp_path, nats_server, bucket_prefix, db):
    kv = kv_args(nats_server.url, bucket_prefix)
    assert cli("migrate-to-kv", "--db", str(db), *kv, "--replicas", "1", "--no-backup").returncode == 0

    run_sync(put_broken_user(NatsSpec(nats_server.url, bucket_prefix=bucket_prefix)))
    out = tmp_path / "back.sqlite"
    r = cli("export-to-sqlite", *kv, "--db", str(out))
    assert r.returncode == 1
    progress, lines = r.stderr.splitlines()[:2], r.stderr.splitlines()[2:]
    assert progress[0].startswith("read: reading ") and progress[1].startswith("read: read ")
    assert len(lines) == 2 and "bucket" in lines[0] and "broken" in lines[0]
    assert lines[1].startswith("membership-admin: refusing") and "1 invalid record" in lines[1]
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".back")]
    r = cli("diff", "--db", str(db), *kv, "--json")
    assert r.returncode == 1
    assert [(d["entity"], d["key"], d["kind"]) for d in json.loads(r.stdout)["differences"]] == [
        ("users", "broken", "invalid_in_kv")]


def test_killed_mid_import_then_rerun_completes(tmp_path, nats_server, bucket_prefix):
    path = tmp_path / "big.sqlite"
    make_db(path, rooms=5000, per_room=8, epochs=2)  # ~150k records: the import takes seconds
    kv = kv_args(nats_server.url, bucket_prefix)
    proc = subprocess.Popen([sys.executable, "-m", "tui", "migrate-to-kv", "--db", str(path), *kv,
                             "--replicas", "1", "--no-backup"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        for line in proc.stderr:
            if line.startswith("import: importing"):
                break
        else:
            pytest.fail("the migration never reached the import")
        time.sleep(0.5)
        assert proc.poll() is None, "the import finished before the kill: make the database bigger"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # half done: the diff sees it
    assert cli("diff", "--db", str(path), *kv).returncode == 1
    r = cli("migrate-to-kv", "--db", str(path), *kv, "--no-backup", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["parity"]["identical"] is True
    # the run again wrote what the killed one had not, and left the rest alone
    assert report["written"] > 0 and sum(report["unchanged"].values()) > 0
    assert report["written"] + sum(report["unchanged"].values()) == report["records"]
    assert export_of(NatsSpec(nats_server.url, bucket_prefix=bucket_prefix)) == export_of(SqliteSpec(str(path)))
