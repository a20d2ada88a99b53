"""The real console script in a real terminal (tmux): revoke a user with keystrokes, quit,
and check the database file with raw sqlite3."""

from __future__ import annotations

import re
import shlex
import sqlite3
import subprocess
import time
from pathlib import Path

from store.dev.demo import demo_key
from tests.helpers import EXE


def demo_db(tmp_path: Path) -> Path:
    """The demo database, made by the real command."""
    made = subprocess.run([str(EXE), "demo", "--dir", str(tmp_path), "--seed-only"],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    db = tmp_path / "demo.sqlite"
    assert f"demo database: {db}" in made.stderr
    return db


def app_command(db: Path, done: Path) -> str:
    """The console script on db; the shell writes its exit status to done."""
    return f"{shlex.quote(str(EXE))} --db {shlex.quote(str(db))}; echo $? > {shlex.quote(str(done))}"


def quit_app(tmux, done: Path) -> None:
    """q, then the exit status the shell wrote: 0."""
    tmux.keys("q")
    deadline = time.monotonic() + 15
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert done.read_text().strip() == "0"


def test_revoke_with_keystrokes_in_a_real_terminal(tmp_path, tmux):
    db = demo_db(tmp_path)
    grace = demo_key("grace")

    done = tmp_path / "exit-status"
    command = app_command(db, done)
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
    quit_app(tmux, done)

    con = sqlite3.connect(db)
    try:
        rows = dict(con.execute("SELECT key, status FROM users").fetchall())
        revoked_at = con.execute("SELECT revoked_at FROM users WHERE key = ?", (grace,)).fetchone()[0]
    finally:
        con.close()
    assert rows[grace] == "revoked" and revoked_at is not None
    # nothing else changed: mallory was revoked by the demo, everyone else is active
    assert sorted(k for k, s in rows.items() if s == "revoked") == sorted([grace, demo_key("mallory")])


def test_bulk_revoke_with_marks_in_a_real_terminal(tmp_path, tmux):
    """space marks users as a terminal sends it, r asks once for all of them (a reason
    typed), and the file holds both revocations and their audit events."""
    db = demo_db(tmp_path)
    done = tmp_path / "exit-status"
    command = app_command(db, done)
    tmux.start(command)
    tmux.wait_for("of 5 rooms")
    tmux.keys("2")
    tmux.wait_for("row 1 of 8 users")
    tmux.keys("Space", "Space")  # ada, then brian (a mark moves the cursor on)
    tmux.wait_for("2 marked")
    tmux.keys("r")
    tmux.wait_for("Revoke 2 marked user(s)?", "finance (1)")  # the whole dialog, rooms at risk too
    # typed in the same instant, the letters would reach the No button: Textual moves the
    # focus when the tab's binding runs, after the keys queued behind it are dispatched
    # (seen in a key log: "offb" to the button, "oarding" to the box); a person waits until
    # the box shows the focus, and so does the test (0.3 s was too short on a loaded machine)
    tmux.keys_drawn("Tab")
    tmux.keys("-l", "offboarding")
    tmux.wait_for("offboarding")
    tmux.keys("Enter")
    tmux.wait_for("2 users revoked")
    quit_app(tmux, done)
    con = sqlite3.connect(db)
    try:
        status = dict(con.execute("SELECT key, status FROM users").fetchall())
        reasons = con.execute("SELECT json_extract(event, '$.target'), json_extract(event, '$.reason') "
                              "FROM admin_audit WHERE phase = 'done' "
                              "AND json_extract(event, '$.action') = 'revoke_user' "
                              "AND json_extract(event, '$.target') IN (?, ?)", (demo_key("ada"), demo_key("brian"))
                              ).fetchall()
    finally:
        con.close()
    ada, brian = demo_key("ada"), demo_key("brian")
    assert status[ada] == status[brian] == "revoked"
    assert sorted(reasons) == [(ada, "offboarding"), (brian, "offboarding")]


#: every key hint the footer may show, whole
HINTS = {"1 Rooms", "2 Users", "3 Migrate", "4 Health", "5 Audit", "/ Filter", "r Revoke",
         "i Reinstate", "a Add", "h History", "? Help", "q Quit", "m Start", "o Target"}
#: SGR parameters that set a colour (foreground, background, 8/16/256/true colour)
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


def footer_hints(screen: str) -> list[str]:
    """The hints on the footer line, which must each be whole and end at the palette hint."""
    footer = screen.rstrip("\n").splitlines()[-1]
    assert footer.rstrip().endswith("▏^p Palette"), footer  # nothing after it
    hints = re.findall(r"\S+ \S+", footer.split("▏")[0])
    assert hints and set(hints) <= HINTS, footer  # none cut mid-word ("r Revo")
    return hints


def test_an_80x24_terminal_without_colour(tmp_path, tmux):
    """The smallest terminal every view must fit, with NO_COLOR: the key columns shown, whole
    key hints, the backend in the header, and not one colour escape written."""
    db = demo_db(tmp_path)
    done = tmp_path / "exit-status"
    command = app_command(db, done)
    tmux.run("new-session", "-d", "-s", "app", "-x", "80", "-y", "24",
             f"env -u COLUMNS -u LINES TERM=xterm-256color NO_COLOR=1 sh -c {shlex.quote(command)}")

    screen = tmux.wait_for("of 5 rooms")
    lines = screen.splitlines()
    assert "demo.sqlite" in lines[0]  # the backend, its path's middle cut if need be
    assert all(c in lines[1] for c in ("id", "encrypted", "epoch", "members")), lines[1]
    assert "? Help" in footer_hints(screen)
    tmux.keys("2")
    screen = tmux.wait_for("row 1 of 8 users")
    assert all(c in screen.splitlines()[1] for c in ("key", "role", "status")), screen
    assert "revoked" in screen and footer_hints(screen)
    tmux.keys("3")
    screen = tmux.wait_for("target")
    assert "demo.sqlite" in screen and footer_hints(screen)
    coloured = COLOUR.findall(tmux.run("capture-pane", "-e", "-p", "-t", "app"))
    assert not coloured, coloured[:5]

    quit_app(tmux, done)
