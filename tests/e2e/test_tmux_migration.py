"""The real program in a real terminal: migrate from the TUI with keys 3 and m, then check
the KV side with the CLI's `diff` (exit 0: identical)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

EXE = Path(sys.executable).parent / "membership-admin"


def tmux(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=check, timeout=10)


def screen(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session).stdout


def wait_for(session: str, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = screen(session)
        if text in shown:
            return shown
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not shown within {timeout:g}s; the screen was:\n{shown}")


def test_migration_from_the_tui_in_tmux(tmp_path, nats_server, bucket_prefix):
    assert shutil.which("tmux"), "tmux is needed (the CI script installs it)"
    seeded = subprocess.run([str(EXE), "demo", "--seed-only", "--dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert seeded.returncode == 0, seeded.stderr
    db = tmp_path / "demo.sqlite"
    assert db.is_file()

    session = f"ma-migration-{uuid.uuid4().hex[:8]}"
    cmd = (f"{EXE} --db {db} --nats-url {nats_server.url} --replicas 1 "
           f"--bucket-prefix {bucket_prefix}")
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "36", cmd)
    try:
        wait_for(session, "Rooms", timeout=20)
        tmux("send-keys", "-t", session, "3")
        wait_for(session, "target", timeout=10)
        tmux("send-keys", "-t", session, "m")
        shown = wait_for(session, "parity  identical", timeout=60)
        assert "✔ backup" in shown and "verified" in shown
        assert "parity: identical" in shown
        tmux("send-keys", "-t", session, "q")
        deadline = time.monotonic() + 10
        while tmux("has-session", "-t", session, check=False).returncode == 0:
            assert time.monotonic() < deadline, "the app did not quit on q"
            time.sleep(0.1)
    finally:
        tmux("kill-session", "-t", session, check=False)

    # a backup was made next to the database
    assert list(tmp_path.glob("demo.backup-*.sqlite"))
    diff = subprocess.run([str(EXE), "diff", "--db", str(db), "--nats-url", nats_server.url,
                           "--bucket-prefix", bucket_prefix],
                          capture_output=True, text=True, timeout=60)
    assert diff.returncode == 0, diff.stdout + diff.stderr
    assert "identical" in diff.stdout
