"""The real console script in a real terminal (tmux): revoke a user with keystrokes, quit,
and check the database file with raw sqlite3."""

from __future__ import annotations

import shlex
import sqlite3
import subprocess
import time

from store.dev.demo import demo_key
from tests.helpers import EXE


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
    tmux.start(command)
    tmux.wait_for("of 5 rooms")
    assert f"sqlite:{db}"[:60] in tmux.screen().splitlines()[0]  # the backend in the header
    tmux.keys("2")
    tmux.wait_for("row 1 of 8 users")
    tmux.keys("G")  # the last row, as a terminal sends the key
    tmux.wait_for("row 8 of 8 users")
    tmux.keys("g")
    tmux.wait_for("row 1 of 8 users")
    tmux.keys("/")
    tmux.wait_for("filter (enter")
    tmux.keys("-l", "hopper")
    tmux.wait_for("row 1 of 1 matching")
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
