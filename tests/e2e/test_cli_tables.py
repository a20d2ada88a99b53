"""The listings as a person and a pipe see them: `users list` and `audit` tab-separated in a
pipe (a tab or newline in stored text stays inside its field), an aligned table with
--format table (cut to COLUMNS, else 120), the follower's table in fixed widths, and the
table in a real 80-column terminal (tmux), coloured unless NO_COLOR is set."""

from __future__ import annotations

import csv
import io
import queue
import re
import shlex
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from rich.cells import cell_len

from store.sqlite_file import create_database
from tests.helpers import EXE, FIXED_NOW, cli, cli_env
from tui.cli.audit_cmd import FOLLOW_POLL_S

LONG_NAME = "Maximiliane " + "von " * 40 + "Lang"  # 176 characters: fits no terminal column here
USERS = [("ann", "Ann ☕", "admin", "active", FIXED_NOW, None),  # a wide character
         ("bob", "Bob\tTab", "user", "active", FIXED_NOW, None),  # written by the daemon: the tool
         ("cat", "Cat\nNewline", "user", "revoked", FIXED_NOW, FIXED_NOW + 60),  # refuses both
         ("long_name_holder", LONG_NAME, "user", "active", FIXED_NOW, None)]
HEADER = ["key", "name", "role", "status", "added", "revoked"]
SGR = re.compile(r"\x1b\[[0-9;:]*m")  # a colour (or bold) escape sequence


@pytest.fixture
def db(tmp_path) -> str:
    path = tmp_path / "m.sqlite"
    create_database(str(path))
    con = sqlite3.connect(path)
    with con:
        con.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)", USERS)
    con.close()
    return str(path)


def env_columns(columns: str | None) -> dict[str, str]:
    env = cli_env()
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = columns
    return env


def tsv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))


def starts(line: str) -> list[int]:
    """The terminal columns where a table cell begins: the line's start, or text after two
    spaces (cell widths, so a wide character counts twice)."""
    return [cell_len(line[:m.start(1)]) for m in re.finditer(r"(?:^|  )(\S)", line)]


def assert_aligned(lines: list[str]) -> None:
    """Every cell of every row begins where its column's header does."""
    header = starts(lines[0])
    for line in lines[1:]:
        assert starts(line) == header, (lines[0], line)


def long_name(table: list[str]) -> str:
    """The name cell of the last row (long_name_holder's: no wide character before it)."""
    header = table[0]
    return table[4][header.index("name"):header.index("role")].strip()


def test_a_pipe_gets_one_tab_separated_field_per_value(db):
    piped = cli("users", "list", "--db", db, env=env_columns("40"))  # no width applies to tsv
    assert piped.returncode == 0, piped.stderr
    rows = tsv(piped.stdout)
    assert rows[0] == HEADER and all(len(r) == 6 for r in rows)
    assert {r[0]: r[1] for r in rows[1:]} == {"ann": "Ann ☕", "bob": "Bob\\tTab", "cat": "Cat\\nNewline",
                                              "long_name_holder": LONG_NAME}  # whole: for programs
    assert rows[3][5] == "2026-01-01T00:01:00Z"
    assert cli("users", "list", "--format", "tsv", "--db", db).stdout == piped.stdout

    # the audit trail alike: a reason with a tab in it stays one field
    assert cli("users", "revoke", "bob", "--db", db, "--reason", "lost\tlaptop").returncode == 0
    header, *events = tsv(cli("audit", "--db", db).stdout)
    assert header == ["at", "action", "phase", "target", "by", "reason", "result"]
    assert [e[1:4] + e[5:] for e in events] == [["revoke_user", "done", "bob", "lost\\tlaptop", "ok"]]


@pytest.mark.parametrize(("columns", "width"), [("80", 80), (None, 120)])
def test_format_table_in_a_pipe_is_aligned_to_the_width(db, columns, width):
    proc = cli("users", "list", "--format", "table", "--db", db, env=env_columns(columns))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1 + len(USERS)  # the newline in a name started no row
    assert not SGR.search(proc.stdout)  # no terminal: no colour
    assert_aligned(lines)
    assert max(cell_len(line) for line in lines) == width  # the long name takes what is left
    assert lines == [line.rstrip() for line in lines]  # no padding after the last column
    assert [line.split()[0] for line in lines] == ["key", "ann", "bob", "cat", "long_name_holder"]
    assert "Cat\\nNewl" in lines[3] and "revoked" in lines[3] and "2026-01-01 00:01" in lines[3]
    name = long_name(lines)
    assert name.endswith("…") and LONG_NAME.startswith(name[:-1]) and cell_len(name) > 6


def test_audit_tables_line_up_also_when_followed(db):
    for key in ("dan", "eve"):
        assert cli("users", "add", key, "--db", db, "--reason", f"hire {key}").returncode == 0
    fitted = cli("audit", "--format", "table", "--db", db, env=env_columns("100")).stdout.splitlines()
    assert len(fitted) == 3 and fitted[0].split() == ["at", "action", "phase", "target", "by", "reason", "result"]
    assert_aligned(fitted)

    # a follower prints each batch as it comes, with the widths of the first header
    follower = subprocess.Popen([sys.executable, "-m", "tui", "audit", "--follow", "--format", "table",
                                 "--db", db], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env_columns("100"), text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert follower.stdout is not None
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in follower.stdout],
                     daemon=True).start()
    try:
        shown = [lines.get(timeout=10) for _ in range(3)]  # the header and the trail so far
        assert cli("users", "revoke", "dan", "--db", db, "--reason", "left").returncode == 0
        shown.append(lines.get(timeout=5))
        time.sleep(2 * FOLLOW_POLL_S)  # polls that find nothing new print nothing
    finally:
        follower.terminate()
        follower.wait(timeout=10)
    assert [line.split()[1:4] for line in shown[1:]] == [
        ["add_user", "done", "dan"], ["add_user", "done", "eve"], ["revoke_user", "done", "dan"]]
    assert_aligned(shown)
    # 100 columns: 62 fixed (time, action, phase, target), 12 of gaps, 26 that by, reason and
    # result share (8, 9, 9): the last one starts at 91 whatever the events hold
    assert starts(shown[0])[-1] == 91 and max(cell_len(line) for line in shown) <= 100
    assert lines.empty()  # one line per event: no empty batch printed anything


def test_users_list_in_an_80_column_terminal_with_and_without_colour(db, tmux):
    """The same command twice in one 80x30 window, the second time with NO_COLOR=1."""
    listing = f"{shlex.quote(str(EXE))} users list --db {shlex.quote(db)}"
    command = f"{listing}; echo END1; NO_COLOR=1 {listing}; echo END2; sleep 60"
    # not tmux.start: that window is 120 columns wide; the environment as tmux.start makes it
    tmux.run("new-session", "-d", "-s", "app", "-x", "80", "-y", "30",
             f"env -u COLUMNS -u LINES -u NO_COLOR TERM=xterm-256color sh -c {shlex.quote(command)}")
    screen = tmux.wait_for("END2").splitlines()
    table = screen[:screen.index("END1")]
    assert [line.split()[0] for line in table] == ["key", "ann", "bob", "cat", "long_name_holder"]
    assert_aligned(table)  # the status column included, after "Ann ☕" (two cells wide)
    assert len({cell_len(line[:line.index(s)]) for line, s in zip(table, ("status", *(u[3] for u in USERS)),
                                                                     strict=True)}) == 1
    assert long_name(table).endswith("…")
    assert screen[screen.index("END1") + 1:screen.index("END2")] == table  # the same, uncoloured

    escaped = tmux.run("capture-pane", "-p", "-e", "-t", "app")
    coloured, plain = escaped.split("END1")
    assert SGR.search(coloured)  # the bold header, the red "revoked"
    assert not SGR.search(plain.split("END2")[0]), plain
