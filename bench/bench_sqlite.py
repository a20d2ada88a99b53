"""Benchmark of the SQLite backend: `seed` and `export --db` at full size, through the real CLI.

    .venv/bin/python bench/bench_sqlite.py [--rooms 10000 --users 100000 --members-per-room 10 --epochs 10]

Each step runs the command as a subprocess under /usr/bin/time -v (when present) and
prints its wall time, peak RSS and records per second; the export is measured on the
seeded file (rows in key order) and on a copy with its rows in random order, as a
daemon's file would be. Targets (issue 2): seed under 60 s; export of the 1.2M records
under 5 s.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time


def run(cmd: list[str], stdout) -> tuple[float, int | None, str]:
    """(wall seconds, peak RSS in KiB or None, stderr) of one command."""
    timer = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    full = [timer, "-v", *cmd] if timer else cmd
    started = time.perf_counter()
    proc = subprocess.run(full, stdout=stdout, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return wall, int(m.group(1)) if m else None, proc.stderr


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rooms", type=int, default=10_000)
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--members-per-room", type=int, default=10)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--repeat", type=int, default=3, help="export runs (the median is reported)")
    p.add_argument("--no-shuffled", action="store_true", help="skip the export of a randomly ordered copy")
    args = p.parse_args()
    tool = [sys.executable, "-m", "tui"]
    members = args.rooms * args.members_per_room
    records = args.rooms + args.users + members + members * args.epochs

    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as tmp:
        db = os.path.join(tmp, "bench.sqlite")
        wall, rss, _ = run([*tool, "seed", db, "--rooms", str(args.rooms), "--users", str(args.users),
                            "--members-per-room", str(args.members_per_room), "--epochs", str(args.epochs),
                            "--seed", "1"], subprocess.DEVNULL)
        size = os.path.getsize(db) / 2**20
        print(f"seed:   {records:,} records ({args.rooms:,} rooms, {args.users:,} users, {members:,} members, "
              f"{members * args.epochs:,} sealed keys) in {wall:.2f} s, peak RSS {rss_text(rss)}, "
              f"file {size:.0f} MiB  [target < 60 s]")
        export(tool, db, tmp, args.repeat, records, "export")
        if not args.no_shuffled:
            # the seeder writes rows in key order; a daemon's file is in insertion order
            shuffled = os.path.join(tmp, "shuffled.sqlite")
            shuffle_copy(db, shuffled)
            export(tool, shuffled, tmp, args.repeat, records, "export, rows in random order")


def export(tool: list[str], db: str, tmp: str, repeat: int, records: int, what: str) -> None:
    runs = []
    for _ in range(repeat):
        out = os.path.join(tmp, "export.json")
        with open(out, "w") as f:
            wall, rss, _ = run([*tool, "export", "--db", db], f)
        runs.append((wall, rss, os.path.getsize(out) / 2**20))
    # the median run: these machines are shared and noisy
    wall, rss, mib = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
    print(f"{what}: {records:,} records in {wall:.2f} s (median of {repeat}: "
          f"{', '.join(f'{r[0]:.2f}' for r in runs)}), "
          f"{records / wall:,.0f} records/s, peak RSS {rss_text(rss)}, JSON {mib:.0f} MiB  [target < 5 s]")


def shuffle_copy(src: str, dst: str) -> None:
    """The same rows, stored in random order (a raw rewrite of each table)."""
    shutil.copyfile(src, dst)
    con = sqlite3.connect(dst, isolation_level=None)
    con.execute("PRAGMA journal_mode = DELETE")
    con.execute("BEGIN")
    for table in ("room_keys", "members", "users", "rooms"):
        con.execute(f"CREATE TEMP TABLE shuffled AS SELECT * FROM {table} ORDER BY random()")
        con.execute(f"DELETE FROM {table}")
        con.execute(f"INSERT INTO {table} SELECT * FROM shuffled")
        con.execute("DROP TABLE shuffled")
    con.execute("COMMIT")
    con.execute("VACUUM")
    con.execute("PRAGMA journal_mode = WAL")
    con.close()


def rss_text(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.0f} MiB"


if __name__ == "__main__":
    main()
