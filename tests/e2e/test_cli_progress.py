"""The progress display of long CLI work (tui.cli.progress), as the real program shows it:
in tmux, on a pseudo-terminal, piped, and with --json."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shlex
import struct
import subprocess
import sys
import termios
import threading
import time

from store import NatsSpec, SqliteSpec
from store.layout import BUCKETS
from tests.e2e.test_cli_migrate import export_of, kv_args, make_db
from tests.helpers import EXE, ROOT, cli, cli_env, put_broken_user, run_sync

#: a bucket's row while it is being written: done below total, and a rate
PARTIAL_ROW = re.compile(r"^\s+(\w+)\s.*?\s(\d+)/(\d+)\s+([\d,]+)/s\s")
ESCAPE = "\x1b"
HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"


def partial_rows(screen: str) -> list[tuple[str, int, int]]:
    """(bucket, done, total) of the rows of the screen that show a rate mid-way."""
    rows = []
    for line in screen.splitlines():
        m = PARTIAL_ROW.match(line)
        if m and 0 < int(m[2]) < int(m[3]):
            rows.append((m[1], int(m[2]), int(m[3])))
    return rows


def cursor_shown(tmux) -> bool:
    return tmux.run("display-message", "-p", "-t", "app", "#{cursor_flag}").strip() == "1"


def start_shell(tmux) -> None:
    """An interactive shell in the tmux window, its prompt `ready$ `."""
    tmux.start("PS1='ready$ ' exec sh -i")
    tmux.wait_for("ready$", timeout=10)


#: what the shell prints once the command has ended (the typed `exit=$?` does not match)
EXITED = re.compile(r"exit=(\d+)")


def watch_until_exit(tmux, timeout: float) -> list[str]:
    """Every distinct screen seen until the command's exit status shows (polled as fast
    as tmux answers)."""
    deadline = time.monotonic() + timeout
    screens: list[str] = []
    while time.monotonic() < deadline:
        shown = tmux.screen()
        if not screens or shown != screens[-1]:
            screens.append(shown)
        if EXITED.search(shown):
            return screens
        time.sleep(0.05)
    raise AssertionError(f"the command did not end within {timeout}s; the screen shows:\n{screens[-1]}")


def run_on_pty(*args: str, timeout: float = 60) -> tuple[int, bytes, str]:
    """The program with stderr on a 120x36 pseudo-terminal and stdout piped: its exit
    status, stdout's bytes and what it wrote to the terminal (read as it comes: a full
    terminal buffer would block the program)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    env = cli_env(TERM="xterm-256color")
    for name in ("COLUMNS", "LINES"):  # the terminal's own size, as in a real shell
        env.pop(name, None)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the pty is closed once the child is gone
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "tui", *args], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        reader.start()
        out, _ = proc.communicate(timeout=timeout)
        reader.join(timeout=10)
    finally:
        os.close(master)
    return proc.returncode, out, b"".join(chunks).decode()


def plain(terminal_text: str) -> str:
    """What a terminal shows of text, less its colours and cursor controls."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal_text)


def test_migrate_in_tmux_shows_counts_and_rates_then_the_result(tmp_path, tmux, nats_server, bucket_prefix):
    db = tmp_path / "m.sqlite"
    make_db(db, rooms=4000, per_room=8, epochs=2)  # ~140k records: the import takes a second or two
    out = tmp_path / "summary.txt"
    start_shell(tmux)
    tmux.keys(f"{EXE} migrate-to-kv --db {db} {shlex.join(kv_args(nats_server.url, bucket_prefix))} "
              f"--replicas 1 --no-backup > {out}; echo exit=$?", "Enter")
    screens = watch_until_exit(tmux, timeout=60)

    # while the import ran: a bucket part-written, with its count and its rate, under the phase
    during = [screen for screen in screens if partial_rows(screen)]
    assert during, "no screen showed a bucket mid-way with a rate:\n" + "\n---\n".join(screens)
    assert {bucket for screen in during for bucket, _, _ in partial_rows(screen)} <= {*BUCKETS, "all"}
    assert all(re.search(r"^import: importing \d+ records$", screen, re.M) for screen in during)

    # the end: every bucket full, the result line, the summary on stdout
    last = screens[-1]
    assert "exit=0" in last and "done: migrated" in last and "parity identical" in last
    report = out.read_text()
    assert "parity: identical" in report
    for bucket in BUCKETS:
        n = int(re.search(rf"^  {bucket}\s+(\d+)", report, re.M)[1])
        assert re.search(rf"^\s+{bucket}\s.*\s{n}/{n}\s+[\d,]+/s", last, re.M), (bucket, last)

    # the terminal is left usable: the cursor shown, the shell answering
    assert cursor_shown(tmux)
    tmux.keys("echo answer=$((6*7))", "Enter")
    tmux.wait_for("answer=42", timeout=10)


def test_ctrl_c_mid_import_leaves_the_terminal_clean(tmp_path, tmux, nats_server, bucket_prefix):
    db = tmp_path / "big.sqlite"
    make_db(db, rooms=6000, per_room=8, epochs=2)  # ~200k records
    start_shell(tmux)
    tmux.keys(f"{EXE} migrate-to-kv --db {db} {shlex.join(kv_args(nats_server.url, bucket_prefix))} "
              "--replicas 1 --no-backup > /dev/null; echo exit=$?", "Enter")
    deadline = time.monotonic() + 60
    while not partial_rows(tmux.screen()):
        assert time.monotonic() < deadline, tmux.screen()
        assert not EXITED.search(tmux.screen()), "the import ended before Ctrl-C: make the database bigger"
        time.sleep(0.05)
    assert not cursor_shown(tmux)  # rich hides it while it draws
    tmux.keys("C-c")
    shown = tmux.wait_for("membership-admin: interrupted", "exit=130", timeout=20)
    assert "Traceback" not in shown
    assert cursor_shown(tmux)
    tmux.keys("echo answer=$((6*7))", "Enter")
    tmux.wait_for("answer=42", timeout=10)


def test_migrate_on_a_terminal_ends_with_the_cursor_shown(tmp_path, nats_server, bucket_prefix):
    db = tmp_path / "m.sqlite"
    make_db(db)
    code, out, err = run_on_pty("migrate-to-kv", "--db", str(db), *kv_args(nats_server.url, bucket_prefix),
                                "--replicas", "1")
    assert code == 0, err
    assert HIDE_CURSOR in err and err.rfind(SHOW_CURSOR) > err.rfind(HIDE_CURSOR)
    assert "done: migrated" in err and "backup: backup" in err
    assert re.search(r"^\s+users\s.*\s30/30\s+[\d,]+/s", plain(err), re.M)  # 30 users written of 30
    assert ESCAPE not in out.decode() and "parity: identical" in out.decode()  # the summary: stdout


def test_piped_stderr_is_one_plain_line_per_phase(tmp_path, nats_server, bucket_prefix):
    db = tmp_path / "m.sqlite"
    make_db(db)
    r = cli("migrate-to-kv", "--db", str(db), *kv_args(nats_server.url, bucket_prefix), "--replicas", "1")
    assert r.returncode == 0, r.stderr
    assert ESCAPE not in r.stderr and "\r" not in r.stderr
    lines = r.stderr.splitlines()
    phases = [line.split(": ", 1)[0] for line in lines]
    assert set(phases) <= {"connect", "backup", "export", "import", "parity", "done"}, lines
    assert phases == sorted(phases, key=["connect", "backup", "export", "import", "parity", "done"].index)
    assert phases[-1] == "done" and re.fullmatch(r"done: migrated \d+ records, parity identical", lines[-1])
    assert any(re.fullmatch(r"import: importing \d+ records", line) for line in lines), lines

    out = tmp_path / "back.sqlite"
    r = cli("export-to-sqlite", *kv_args(nats_server.url, bucket_prefix), "--db", str(out))
    assert r.returncode == 0, r.stderr
    assert ESCAPE not in r.stderr
    assert [line.split(": ", 1)[0] for line in r.stderr.splitlines()] == ["read", "read", "write", "parity", "done"]
    assert f"done: wrote {out}" in r.stderr and "parity identical" in r.stderr


def test_json_leaves_stderr_empty(tmp_path, nats_server, bucket_prefix):
    db = tmp_path / "m.sqlite"
    make_db(db)
    kv = kv_args(nats_server.url, bucket_prefix)
    r = cli("migrate-to-kv", "--db", str(db), *kv, "--replicas", "1", "--json")
    assert r.returncode == 0 and r.stderr == ""
    assert json.loads(r.stdout)["parity"]["identical"] is True
    # on a terminal too: --json shows nothing there
    code, out, err = run_on_pty("migrate-to-kv", "--db", str(db), *kv, "--json")
    assert code == 0 and err == ""
    assert json.loads(out)["written"] == 0
    code, out, err = run_on_pty("export-to-sqlite", *kv, "--db", str(tmp_path / "back.sqlite"), "--json")
    assert code == 0 and err == ""
    assert json.loads(out)["parity"]["identical"] is True


def test_export_of_kv_shows_progress_on_a_terminal_and_stdout_stays_the_document(
        tmp_path, nats_server, bucket_prefix):
    db = tmp_path / "m.sqlite"
    make_db(db, rooms=200, per_room=5)
    kv = kv_args(nats_server.url, bucket_prefix)
    assert cli("migrate-to-kv", "--db", str(db), *kv, "--replicas", "1", "--json").returncode == 0

    piped = cli("export", *kv)
    assert piped.returncode == 0 and piped.stderr == ""
    code, out, err = run_on_pty("export", *kv)
    assert code == 0
    # stdout: the same bytes as piped, and as the SQLite file's export (SPEC section 7)
    assert out.decode() == piped.stdout == export_of(SqliteSpec(str(db))) + "\n"
    # the terminal: each bucket's row, read in full
    doc = json.loads(out)
    counts = {"rooms": len(doc["rooms"]), "members": len(doc["members"]), "rooms_by_member": len(doc["members"]),
              "room_keys": len(doc["sealed_keys"]), "users": len(doc["users"])}
    for bucket, n in counts.items():
        assert re.search(rf"^\s+{bucket}\s.*\s{n}/{n}\s", plain(err), re.M), (bucket, err)
    assert "done: exported" in err and err.rfind(SHOW_CURSOR) > err.rfind(HIDE_CURSOR)


def test_export_of_sqlite_on_a_terminal_keeps_stdout_the_document(tmp_path):
    db = tmp_path / "m.sqlite"
    make_db(db)
    code, out, err = run_on_pty("export", "--db", str(db))
    assert code == 0
    assert out.decode() == cli("export", "--db", str(db)).stdout
    records = sum(map(len, json.loads(out).values()))
    assert f"done: exported {records} records" in err and ESCAPE not in out.decode()


def test_a_refusal_after_the_display_began_leaves_one_error_line_last(tmp_path, nats_server, bucket_prefix):
    # export-to-sqlite of a KV state with an invalid record: the display stops, then the
    # record and the refusal are named below it
    db = tmp_path / "m.sqlite"
    make_db(db)
    kv = kv_args(nats_server.url, bucket_prefix)
    assert cli("migrate-to-kv", "--db", str(db), *kv, "--replicas", "1", "--json").returncode == 0

    run_sync(put_broken_user(NatsSpec(nats_server.url, bucket_prefix=bucket_prefix)))
    out = tmp_path / "back.sqlite"
    code, _, err = run_on_pty("export-to-sqlite", *kv, "--db", str(out))
    assert code == 1 and not out.exists()
    assert err.rfind(SHOW_CURSOR) > err.rfind(HIDE_CURSOR)
    after = err[err.rfind(SHOW_CURSOR) + len(SHOW_CURSOR):].strip().splitlines()
    assert [line.split(":")[0] for line in after] == ["invalid record", "membership-admin"], after
    assert ESCAPE not in "".join(after)
