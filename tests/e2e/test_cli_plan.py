"""`plan` and `apply` as the real program (SPEC section 11), on SQLite and on KV: the plan
changes nothing and names each user; apply changes the users still as planned, names the
drifted one (exit 1), says "already applied" the second time; a plan of another backend, a
plan too old and a file that is not a plan are refused (exit 2), the state untouched."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from tests.helpers import cli, create_buckets, run_sync


@pytest.fixture(params=["sqlite", "kv"])
def backend(request, tmp_path, bucket_prefix) -> list[str]:
    """The backend options of a new empty backend."""
    if request.param == "sqlite":
        path = str(tmp_path / "m.sqlite")
        assert cli("init-db", path).returncode == 0
        return ["--db", path]
    from store import NatsSpec

    server = request.getfixturevalue("nats_server")
    run_sync(create_buckets(NatsSpec(url=server.url, bucket_prefix=bucket_prefix, replicas=1)))
    return ["--nats-url", server.url, "--bucket-prefix", bucket_prefix]


def ok(*args: str) -> str:
    proc = cli(*args)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return proc.stdout


def statuses(backend: list[str]) -> dict[str, str]:
    return {u["key"]: u["status"] for u in json.loads(ok("users", "list", "--json", *backend))}


def test_plan_then_apply_with_a_drift_and_a_second_apply(backend, tmp_path):
    for key, name in (("alice", "Alice Liddell"), ("bob", "Bob Dylan"), ("carol", "Carol King")):
        ok("users", "add", key, "--name", name, *backend)
    ok("users", "revoke", "carol", *backend)
    plan = str(tmp_path / "leavers.plan")
    keys = tmp_path / "keys.txt"
    keys.write_text("alice\n# a comment\nBOB\nghost\n")
    proc = cli("plan", "revoke", "carol", "--from-file", str(keys), "--reason", "left the company",
               "--out", plan, *backend)
    assert proc.returncode == 1, proc.stderr  # ghost is left out: found something, plan written all the same
    out = proc.stdout
    assert "2 to revoke, 1 already revoked, 1 left out" in out
    assert "alice" in out and "Alice Liddell" in out and "Bob Dylan" in out and "ghost: not on the allowlist" in out
    assert os.stat(plan).st_mode & 0o777 == 0o600
    saved = json.loads(Path(plan).read_text())
    assert [(u["key"], u["change"]) for u in saved["users"]] == [("carol", "none"), ("alice", "revoke"),
                                                                 ("bob", "revoke")]
    assert "password" not in Path(plan).read_text()
    assert statuses(backend) == {"alice": "active", "bob": "active", "carol": "revoked"}  # nothing changed
    # a plan file is never overwritten
    again = cli("plan", "revoke", "alice", "--out", plan, *backend)
    assert again.returncode == 2 and "exists already" in again.stderr
    # meanwhile another admin revokes and reinstates bob: his revision moved
    ok("users", "revoke", "bob", *backend)
    ok("users", "reinstate", "bob", *backend)
    if backend[0] == "--db":
        # SQLite keeps no revision counter: the row's fingerprint moves only when the row does
        con = sqlite3.connect(backend[1])
        con.execute("UPDATE users SET name = 'Bob D.' WHERE key = 'bob'")  # the daemon writes the file
        con.commit()
        con.close()
    # without --yes and without a terminal, apply asks and cannot: nothing changes
    assert cli("apply", plan, *backend).returncode == 2
    proc = cli("apply", plan, "--yes", *backend)
    assert proc.returncode == 1, proc.stderr
    assert "revoked alice (Alice Liddell)" in proc.stdout and "already revoked carol" in proc.stdout
    assert "drifted: bob" in proc.stderr and "changed since the plan" in proc.stderr
    assert "1 revoked, 1 already revoked, 1 drifted" in proc.stdout
    assert statuses(backend) == {"alice": "revoked", "bob": "active", "carol": "revoked"}
    trail = [json.loads(line) for line in ok("audit", "--json", *backend).splitlines()]
    planned = [e for e in trail if e.get("plan") == saved["id"]]
    assert {e["target"] for e in planned} == {"alice"} and {e["reason"] for e in planned} == {"left the company"}
    # the same plan again: nothing more changes
    proc = cli("apply", plan, "--yes", *backend)
    assert proc.returncode == 1  # bob is still drifted
    assert "0 revoked" in proc.stdout
    assert len(ok("audit", "--json", *backend).splitlines()) == len(trail)


def test_a_plan_applied_twice_says_already_applied(backend, tmp_path):
    ok("users", "add", "alice", *backend)
    plan = str(tmp_path / "p.json")
    ok("plan", "reinstate", "alice", "--out", plan, *backend)  # nothing to do: already active
    ok("users", "add", "bob", *backend)
    plan2 = str(tmp_path / "p2.json")
    ok("plan", "revoke", "bob", "--out", plan2, *backend)
    out = ok("apply", plan2, "--yes", "--wait-replicated", "5", *backend)
    assert "revoked bob" in out
    # on KV, how far the change has spread (one server: all of it); SQLite has no replicas
    assert ("revoked 1 user(s): 1/1 replicas" in out) == (backend[0] == "--nats-url"), out
    assert "already applied, nothing changed" in ok("apply", plan2, "--yes", *backend)
    assert "already applied" in ok("apply", plan, "--yes", *backend)


def test_another_backend_an_old_plan_and_a_bad_file_are_refused(backend, tmp_path):
    ok("users", "add", "alice", *backend)
    plan = str(tmp_path / "p.json")
    ok("plan", "revoke", "alice", "--out", plan, *backend)
    other = str(tmp_path / "other.sqlite")
    assert cli("init-db", other).returncode == 0
    ok("users", "add", "alice", "--db", other)
    proc = cli("apply", plan, "--yes", "--db", other)
    assert proc.returncode == 2 and "made on another backend" in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert statuses(["--db", other]) == {"alice": "active"}
    # older than --max-age: the plan's time moved back an hour
    saved = json.loads(Path(plan).read_text())
    saved["made_at"] -= 3600
    old = tmp_path / "old.json"
    old.write_text(json.dumps(saved))
    proc = cli("apply", str(old), "--yes", "--max-age", "30m", *backend)
    assert proc.returncode == 2 and "older than --max-age" in proc.stderr
    assert statuses(backend) == {"alice": "active"}
    bad = tmp_path / "bad.json"
    bad.write_text("{\"format\": \"something else\"}")
    proc = cli("apply", str(bad), "--yes", *backend)
    assert proc.returncode == 2 and "not a plan file" in proc.stderr
    proc = cli("apply", str(tmp_path / "missing.json"), "--yes", *backend)
    assert proc.returncode == 2 and "no such plan file" in proc.stderr
    assert "revoked alice" in ok("apply", plan, "--yes", "--max-age", "2h", *backend)
