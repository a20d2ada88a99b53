"""`membership-admin audit` and --reason as the real program: JSON lines, filters, --follow
seeing another process's change within a second, a change refused when its audit cannot be
written (a read-only file; a NATS user who may not publish to the audit stream), the trail
carried to KV by the migration and back by export-to-sqlite."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import cli, cli_env, digest
from tests.nats_auth import PASSWORDS, permission_blocks, start_node

FOLLOW_WITHIN = 1.0


def events(*args: str, env: dict[str, str] | None = None) -> list[dict]:
    proc = cli("audit", "--json", *args, env=env)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.fixture
def db(tmp_path) -> str:
    path = str(tmp_path / "m.sqlite")
    assert cli("init-db", path).returncode == 0
    return path


def test_changes_with_reasons_and_the_filters(db):
    assert cli("users", "add", "bob", "--db", db, "--reason", "new hire").returncode == 0
    assert cli("users", "add", "carol", "--db", db).returncode == 0
    assert cli("users", "revoke", "bob", "--db", db, "--reason", "laptop lost").returncode == 0
    trail = events("--db", db)
    assert [(e["action"], e["target"], e["phase"], e["reason"]) for e in trail] == [
        ("add_user", "bob", "done", "new hire"), ("add_user", "carol", "done", None),
        ("revoke_user", "bob", "done", "laptop lost")]
    assert list(trail[0]) == ["id", "at", "phase", "actor", "action", "target", "reason", "before", "after",
                              "result"]
    assert trail[0]["actor"]["via"] == f"sqlite:{db}" and trail[2]["after"]["status"] == "revoked"
    assert [e["target"] for e in events("--db", db, "--target", "bob")] == ["bob", "bob"]
    assert [e["action"] for e in events("--db", db, "--action", "revoke_user")] == ["revoke_user"]
    assert len(events("--db", db, "--since", "1h")) == 3 and events("--db", db, "--since", "4000000000") == []
    # in a pipe: a header line, then the events tab-separated
    header, *rows = (line.split("\t") for line in cli("audit", "--db", db).stdout.splitlines())
    assert header == ["at", "action", "phase", "target", "by", "reason", "result"]
    assert [(r[1], r[3], r[5], r[6]) for r in rows] == [
        ("add_user", "bob", "new hire", "ok"), ("add_user", "carol", "", "ok"),
        ("revoke_user", "bob", "laptop lost", "ok")]
    assert rows[0][4].endswith(f" via sqlite:{db}")
    # bad input: one line, exit 2, nothing written
    before = digest(db)
    for args, match in ((("users", "revoke", "carol", "--reason", "x" * 201), "reason too long"),
                        (("audit", "--since", "yesterday"), "invalid --since"),
                        (("audit", "--action", "drop_table"), "invalid choice")):
        proc = cli(*args, "--db", db)
        assert proc.returncode == 2 and match in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert digest(db) == before


@contextlib.contextmanager
def read_only(path: str):
    """The file cannot be written by this user: chmod for a user, the immutable attribute for
    root (whom file modes do not stop)."""
    if os.geteuid() != 0:
        os.chmod(path, 0o444)
        undo = ["chmod", "644", path]
    else:
        if subprocess.run(["chattr", "+i", path], capture_output=True).returncode != 0:
            pytest.skip("root without the immutable attribute: no way to make a file read-only here")
        undo = ["chattr", "-i", path]
    try:
        with pytest.raises(OSError):
            open(path, "r+b").close()
        yield
    finally:
        subprocess.run(undo, check=True)


def test_a_read_only_file_refuses_the_change_and_its_audit(db):
    assert cli("users", "add", "bob", "--db", db).returncode == 0
    before = digest(db)
    with read_only(db):
        proc = cli("users", "revoke", "bob", "--db", db, "--reason", "x")
        assert proc.returncode == 4 and "read-only" in proc.stderr, proc.stderr
    assert digest(db) == before
    assert [e["action"] for e in events("--db", db)] == ["add_user"]


def follow_sees_a_change(backend: list[str], change: list[str], env: dict[str, str] | None = None) -> float:
    """Start `audit --follow --json`, make a change in another process, and return how long
    after that process ended the follower printed its done event."""
    env = env or cli_env()
    proc = subprocess.Popen([sys.executable, "-m", "tui", "audit", "--follow", "--json", *backend],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    # lines are read by a thread as they come (select on a buffered pipe misses lines
    # already read into the buffer)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        time.sleep(1.0)  # it has opened the backend and printed the trail so far
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        changed = cli(*change, *backend, env=env)
        assert changed.returncode == 0, changed.stderr
        done_at = time.monotonic()
        while True:
            line = lines.get(timeout=max(0.01, done_at + 5 - time.monotonic()))
            event = json.loads(line)
            if event["target"] == change[2] and event["phase"] == "done":
                return time.monotonic() - done_at
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_follow_sees_another_process_within_a_second_on_sqlite(db):
    assert follow_sees_a_change(["--db", db], ["users", "add", "zoe"]) < FOLLOW_WITHIN


def test_follow_sees_another_process_within_a_second_on_kv(nats_server, bucket_prefix, db):
    kv = ["--nats-url", nats_server.url, "--bucket-prefix", bucket_prefix]
    assert cli("migrate-to-kv", "--db", db, *kv, "--replicas", "1", "--no-backup").returncode == 0
    assert follow_sees_a_change(kv, ["users", "add", "zoe"]) < FOLLOW_WITHIN


def test_the_trail_goes_to_kv_once_and_back(nats_server, bucket_prefix, db, tmp_path):
    kv = ["--nats-url", nats_server.url, "--bucket-prefix", bucket_prefix]
    cli("users", "add", "bob", "--db", db, "--reason", "hire")
    cli("users", "revoke", "bob", "--db", db, "--reason", "left")
    local = events("--db", db)
    for _ in range(2):
        proc = cli("migrate-to-kv", "--db", db, *kv, "--replicas", "1", "--no-backup", "--json")
        assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["audit"] == {"sqlite_events": 2, "copied": 0, "missing_in_kv": 0,
                                                "identical": True}
    remote = events(*kv)
    assert [e for e in remote if e["action"] != "migrate"] == local  # each once
    assert [e["phase"] for e in remote if e["action"] == "migrate"] == ["intent", "done"] * 2
    assert cli("users", "reinstate", "bob", *kv, "--reason", "found it").returncode == 0
    back = str(tmp_path / "back.sqlite")
    assert cli("export-to-sqlite", *kv, "--db", back, "--reason", "rollback drill").returncode == 0
    restored = events("--db", back)
    assert restored[:-1] == events(*kv)  # the KV trail, then the export itself
    assert (restored[-1]["action"], restored[-1]["reason"]) == ("export_to_sqlite", "rollback drill")


def test_a_nats_user_without_the_audit_subjects_changes_nothing(tmp_path, db):
    """Admin's permissions without its audit subjects: every change refused at its intent."""
    blocks = permission_blocks()
    config = (blocks + "NOAUDIT = { publish: { allow: [\"$JS.API.>\", \"$JS.FC.>\", \"$KV.users.>\"] }, "
              "subscribe: { allow: [\"_INBOX.>\"] } }\n"
              "accounts { APP { jetstream: enabled, users: [\n"
              # every block is used (nats-server refuses an unused variable)
              + "".join(f'{{ user: {role}, password: "{pw}", permissions: ${role.upper()} }}\n'
                        for role, pw in PASSWORDS.items())
              + '{ user: noaudit, password: "noaudit-Secret", permissions: $NOAUDIT }\n] } }\n')
    node = start_node(Path(tmp_path), "noaudit", config)
    try:
        cli("users", "add", "bob", "--db", db)
        migrator = cli_env(NATS_URL=node.url, NATS_USER="migrator", NATS_PASSWORD=PASSWORDS["migrator"])
        assert cli("migrate-to-kv", "--db", db, "--replicas", "1", "--no-backup", env=migrator).returncode == 0
        noaudit = cli_env(NATS_URL=node.url, NATS_USER="noaudit", NATS_PASSWORD="noaudit-Secret")
        before = cli("export", env=noaudit).stdout
        for args in (("users", "revoke", "bob"), ("users", "add", "carol")):
            proc = cli(*args, env=noaudit)
            assert proc.returncode == 4 and "membership_audit." in proc.stderr, proc.stderr
        assert cli("export", env=noaudit).stdout == before
        assert [e["action"] for e in events(env=noaudit) if e["action"] != "migrate"] == ["add_user"]
    finally:
        node.stop()
