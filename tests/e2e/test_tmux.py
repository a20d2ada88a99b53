"""The real console script in a real terminal (tmux): revoke a user with keystrokes, quit,
and check the database file with raw sqlite3."""

from __future__ import annotations

import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from store.demo import demo_key

EXE = Path(sys.executable).parent / "membership-admin"


class Tmux:
    """One tmux server of the test's own (its own socket), so nothing else is touched."""

    def __init__(self, conf: Path) -> None:
        self.socket = f"ma-test-{uuid.uuid4().hex[:8]}"
        # the window is 120x36 from the start, so the app never measures a default 80x24
        conf.write_text("set-option -g default-size 120x36\n")
        self.conf = conf

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", str(self.conf), *args], check=True, capture_output=True,
                              text=True, timeout=10).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "app")

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            try:
                shown = self.screen()
            except subprocess.CalledProcessError:  # the pane is gone
                break
            if text in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on the screen within {timeout}s; it shows:\n{shown}")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "app", *keys)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def tmux(tmp_path):
    if not shutil.which("tmux"):
        pytest.fail("tmux is needed for the real-terminal test (apt-get install tmux)")
    t = Tmux(tmp_path / "tmux.conf")
    yield t
    t.kill()


def test_revoke_with_keystrokes_in_a_real_terminal(tmp_path, tmux):
    # the demo database, made by the real command
    made = subprocess.run([str(EXE), "demo", "--dir", str(tmp_path), "--seed-only"],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    db = tmp_path / "demo.sqlite"
    assert f"demo database: {db}" in made.stderr
    grace = demo_key("grace")

    done = tmp_path / "exit-status"
    command = f"{shlex.quote(str(EXE))} --db {shlex.quote(str(db))}; echo $? > {shlex.quote(str(done))}"
    # the test process may carry COLUMNS/LINES (set under pytest), which would override the
    # terminal's real size: the app must measure the 120x36 pane itself
    tmux.run("new-session", "-d", "-s", "app", "-x", "120", "-y", "36",
             f"env -u COLUMNS -u LINES TERM=xterm-256color sh -c {shlex.quote(command)}")
    tmux.wait_for("5 of 5 rooms")
    assert f"sqlite:{db}"[:60] in tmux.screen().splitlines()[0]  # the backend in the header
    tmux.keys("2")
    tmux.wait_for("8 of 8 users")
    tmux.keys("/")
    tmux.wait_for("filter (enter")
    tmux.keys("-l", "hopper")
    tmux.wait_for("1 of 1 matching")
    tmux.keys("Enter")
    time.sleep(0.3)
    tmux.keys("r")
    screen = tmux.wait_for(f"Revoke {grace}")
    assert "ops" in screen and "finance" in screen  # rooms where grace holds a current key
    tmux.keys("y")
    tmux.wait_for(f"{grace} revoked")
    tmux.keys("q")
    deadline = time.monotonic() + 15
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert done.read_text().strip() == "0"

    con = sqlite3.connect(db)
    try:
        rows = dict(con.execute("SELECT key, status FROM users").fetchall())
        revoked_at = con.execute("SELECT revoked_at FROM users WHERE key = ?", (grace,)).fetchone()[0]
    finally:
        con.close()
    assert rows[grace] == "revoked" and revoked_at is not None
    # nothing else changed: mallory was revoked by the demo, everyone else is active
    assert sorted(k for k, s in rows.items() if s == "revoked") == sorted([grace, demo_key("mallory")])
