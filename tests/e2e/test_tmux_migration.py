"""The real program in a real terminal: migrate from the TUI with keys 3 and m, then check
the KV side with the CLI's `diff` (exit 0: identical); and the README's first command,
`membership-admin demo`, with its local 3-node cluster started and stopped."""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path

from tests.helpers import EXE


def test_migration_from_the_tui_in_tmux(tmp_path, tmux, nats_server, bucket_prefix):
    seeded = subprocess.run([str(EXE), "demo", "--seed-only", "--dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert seeded.returncode == 0, seeded.stderr
    db = tmp_path / "demo.sqlite"
    assert db.is_file()

    tmux.start(f"{EXE} --db {db} --nats-url {nats_server.url} --replicas 1 "
               f"--bucket-prefix {bucket_prefix}")
    tmux.wait_for("Rooms", timeout=20)
    tmux.keys("3")
    tmux.wait_for("target", timeout=10)
    tmux.keys("m")
    shown = tmux.wait_for("parity  identical", "parity: identical", timeout=60)
    assert "✔ backup" in shown and "verified" in shown
    assert "parity: identical" in shown
    # o: the target opens in the same program, the header saying so (no second terminal)
    tmux.keys("o")
    tmux.wait_for(f"prefix={bucket_prefix}", timeout=20)
    tmux.keys("2")
    users = tmux.wait_for("mallory_", timeout=20)
    assert "sqlite:" not in users.splitlines()[0]
    tmux.keys("q")
    _wait_gone(tmux)

    # a backup was made next to the database
    assert list(tmp_path.glob("demo.backup-*.sqlite"))
    diff = subprocess.run([str(EXE), "diff", "--db", str(db), "--nats-url", nats_server.url,
                           "--bucket-prefix", bucket_prefix],
                          capture_output=True, text=True, timeout=60)
    assert diff.returncode == 0, diff.stdout + diff.stderr
    assert "identical" in diff.stdout


def test_demo_migrates_to_its_own_cluster_and_stops_it_on_quit(tmp_path, tmux):
    demo_dir = tmp_path / "demo"
    done = tmp_path / "exit-status"
    tmux.start(f"{shlex.quote(str(EXE))} demo --dir {shlex.quote(str(demo_dir))}; "
               f"echo $? > {shlex.quote(str(done))}")
    tmux.wait_for("of 5 rooms", timeout=60)  # opens once the cluster's JetStream answers
    servers = _servers(demo_dir)
    assert len(servers) == 3, servers
    tmux.keys("3")
    tmux.wait_for("target", timeout=10)
    tmux.keys("m")
    shown = tmux.wait_for("parity  identical", timeout=90)
    assert "verified" in shown
    tmux.keys("4")
    shown = tmux.wait_for("healthy", timeout=20)
    assert "allow" in shown  # the live authorization probe
    tmux.keys("q")
    _wait_gone(tmux)
    assert done.read_text().strip() == "0"
    assert _servers(demo_dir) == [], "the demo left nats-server processes running"


def test_demo_stops_its_cluster_when_the_terminal_closes(tmp_path, tmux):
    demo_dir = tmp_path / "demo"
    tmux.start(f"{shlex.quote(str(EXE))} demo --dir {shlex.quote(str(demo_dir))}")
    tmux.wait_for("of 5 rooms", timeout=60)
    assert len(_servers(demo_dir)) == 3
    tmux.run("kill-session", "-t", "app")  # the terminal goes away: SIGHUP
    deadline = time.monotonic() + 20
    while _servers(demo_dir):
        assert time.monotonic() < deadline, "nats-server processes outlived the demo's terminal"
        time.sleep(0.2)


def _servers(demo_dir) -> list[int]:
    """The nats-server processes whose store is under the demo's folder (from /proc)."""
    marker = f"{demo_dir}/nats/".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:  # not a process, or it ended meanwhile
            continue
        if b"nats-server" in cmdline and marker in cmdline:
            pids.append(int(proc.name))
    return pids


def _wait_gone(tmux, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while tmux.alive():
        assert time.monotonic() < deadline, "the app did not quit on q"
        time.sleep(0.1)
