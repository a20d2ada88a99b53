"""A deployment's life on the command line (issue 21): a re-run after cut-over never
un-revokes anyone (SPEC 5.7), a refused migration leaves no bucket (5.8), SIGTERM stops a
migration as Ctrl-C does (7)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nats
import pytest

from tests.e2e.test_cli_migrate import kv_args, make_db
from tests.helpers import ROOT, cli, cli_env, run_sync
from tests.nats_auth import PASSWORDS, secured_server


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "x.sqlite"
    make_db(path, rooms=5, per_room=4)  # 20 users, u000001 active
    return path


def test_a_rerun_after_cut_over_never_unrevokes(db, nats_server, bucket_prefix):
    """Finding 1: migrate, revoke K in KV, migrate again: K stays revoked, the run writes
    nothing and names K (exit 1); only --overwrite-kv-changes reinstates it, with its event."""
    kv = kv_args(nats_server.url, bucket_prefix)
    assert cli("migrate-to-kv", "--db", str(db), *kv, "--replicas", "1", "--no-backup").returncode == 0
    assert cli("users", "revoke", "u000001", *kv, "--reason", "compromised").returncode == 0
    assert cli("authorize", "u000001", *kv).stdout.startswith("deny")

    again = cli("migrate-to-kv", "--db", str(db), *kv, "--no-backup")
    assert again.returncode == 1, (again.stdout, again.stderr)
    last = again.stderr.strip().splitlines()[-1]  # after the progress lines (stderr is a pipe)
    assert last.startswith("membership-admin: 1 record(s) changed in KV"), again.stderr
    listed = [ln for ln in again.stdout.splitlines() if "u000001" in ln]
    assert len(listed) == 1 and '"status":"active"' in listed[0] and '"status":"revoked"' in listed[0]
    assert "revoke_user" in listed[0] and "compromised" in listed[0]  # who and why, from the trail
    assert cli("authorize", "u000001", *kv).stdout.startswith("deny")

    as_json = cli("migrate-to-kv", "--db", str(db), *kv, "--no-backup", "--json")
    assert as_json.returncode == 1
    doc = json.loads(as_json.stdout)
    assert doc["written"] == 0 and [(c["entity"], c["key"], c["kv"]["status"], c["sqlite"]["status"])
                                    for c in doc["conflicts"]] == [("users", "u000001", "revoked", "active")]

    forced = cli("migrate-to-kv", "--db", str(db), *kv, "--no-backup", "--overwrite-kv-changes",
                 "--reason", "roll back to SQLite")
    assert forced.returncode == 0, forced.stderr
    assert "overwrote 1 record(s)" in forced.stdout
    assert cli("authorize", "u000001", *kv).stdout.startswith("allow")
    trail = [json.loads(line) for line in cli("audit", *kv, "--target", "u000001", "--json").stdout.splitlines()]
    overwrite = [e for e in trail if e["action"] == "overwrite_kv"]
    assert [e["phase"] for e in overwrite] == ["intent", "done"]
    assert overwrite[-1]["before"]["status"] == "revoked" and overwrite[-1]["after"]["status"] == "active"
    assert overwrite[-1]["reason"] == "roll back to SQLite"


def stream_names(url: str) -> list[str]:
    async def names() -> list[str]:
        nc = await nats.connect(url, user="migrator", password=PASSWORDS["migrator"])
        try:
            js = nc.jetstream()
            out = []
            for name in ["KV_staging_" + b for b in ("users", "rooms", "members", "rooms_by_member", "room_keys")] + [
                    "staging_membership_audit"]:
                try:
                    await js.stream_info(name)
                    out.append(name)
                except nats.js.errors.NotFoundError:
                    pass
            return out
        finally:
            await nc.close()
    box: list[list[str]] = []

    async def keep() -> None:
        box.append(await names())
    run_sync(keep())
    return box[0]


def test_a_refused_migration_creates_nothing(db, tmp_path):
    """Finding 3: the README's migrator lacks the prefixed audit subject: exit 4 naming it,
    and no bucket or stream is left behind (none that would then look healthy and empty)."""
    node, _ = secured_server(tmp_path / "secured")
    try:
        env = cli_env(NATS_URL=node.url, NATS_USER="migrator", NATS_PASSWORD=PASSWORDS["migrator"])
        proc = cli("migrate-to-kv", "--db", str(db), "--bucket-prefix", "staging_", "--replicas", "1",
                   "--no-backup", env=env)
        assert proc.returncode == 4, proc.stderr
        assert "may not publish to staging_membership_audit.migrate" in proc.stderr.strip().splitlines()[-1]
        assert stream_names(node.url) == []
        assert cli("users", "list", "--bucket-prefix", "staging_", env=env).returncode == 3
    finally:
        node.stop()


def start_migration(db: Path, kv: list[str], *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tui", "migrate-to-kv", "--db", str(db), *kv,
                             "--replicas", "1", *extra], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, env=cli_env())


def stop_at(proc: subprocess.Popen, prefix: str, sig: int) -> tuple[str, str]:
    """Send sig once a stderr line starts with prefix; (the lines read so far, the rest)."""
    seen = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            seen.append(line)
            if line.startswith(prefix):
                os.kill(proc.pid, sig)
                break
        else:
            pytest.fail(f"no {prefix!r} line: {''.join(seen)}")
        _, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return "".join(seen), rest


def test_sigterm_mid_import_is_an_interrupt(tmp_path, nats_server, bucket_prefix):
    """Finding 7 (SIGTERM): exit 143 with one line, the run's end in the audit trail, and a
    run again completes it."""
    path = tmp_path / "big.sqlite"
    make_db(path, rooms=5000, per_room=8, epochs=2)  # ~150k records: the import takes seconds
    kv = kv_args(nats_server.url, bucket_prefix)
    proc = start_migration(path, kv, "--no-backup")
    _, rest = stop_at(proc, "import: importing", signal.SIGTERM)
    assert proc.returncode == 143, rest
    assert "Traceback" not in rest
    assert rest.strip().splitlines() == ["membership-admin: terminated (SIGTERM)"], rest
    trail = [json.loads(line) for line in cli("audit", *kv, "--action", "migrate", "--json").stdout.splitlines()]
    assert [(e["phase"], e["result"]) for e in trail] == [("intent", "ok"), ("failed", "interrupted")]
    r = cli("migrate-to-kv", "--db", str(path), *kv, "--no-backup", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["parity"]["identical"] is True, r.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stopped_during_the_backup_leaves_no_file_it_did_not_announce(tmp_path, nats_server, bucket_prefix, sig):
    """Finding 6: the backup's temporary file is removed on SIGINT and SIGTERM; a backup is
    left only if its path was printed."""
    path = tmp_path / "big.sqlite"
    make_db(path, rooms=8000, per_room=8, epochs=3)  # a copy that takes a while
    before = set(os.listdir(tmp_path))
    proc = start_migration(path, kv_args(nats_server.url, bucket_prefix))
    started = time.monotonic()
    seen, rest = stop_at(proc, "backup: backing up", sig)
    assert proc.returncode == (143 if sig == signal.SIGTERM else 130), rest
    assert time.monotonic() - started < 30
    left = set(os.listdir(tmp_path)) - before
    assert not [n for n in left if n.endswith(".tmp")], left
    assert all(n in seen + rest for n in left if "backup" in n), (left, seen)


def test_an_interrupt_right_after_done_is_never_a_death_by_signal(db, nats_server, bucket_prefix):
    """Finding 7: one SIGINT right after `done` killed the process (exit -2) once it had
    finished: the interpreter's shutdown restores the default handler. Now the result
    stands (0), or, earlier, it is an interrupt with its one line (130)."""
    for i, delay in enumerate((0.0, 0.02, 0.05, 0.1, 0.2)):
        proc = start_migration(db, kv_args(nats_server.url, f"{bucket_prefix}{i}_"), "--no-backup")
        _, rest = stop_at(proc, "done:", signal.SIGINT) if not delay else _late(proc, delay)
        assert proc.returncode in (0, 130), (delay, proc.returncode, rest)
        assert "Traceback" not in rest
        if proc.returncode == 130:
            assert rest.strip().splitlines()[-1] == "membership-admin: interrupted", rest


def _late(proc: subprocess.Popen, delay: float) -> tuple[str, str]:
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("done:"):
            time.sleep(delay)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGINT)
            break
    _, rest = proc.communicate(timeout=30)
    return "", rest
