"""How responsive the users view stays while the daemon writes: the longest UI stall.

    .venv/bin/python bench/bench_tui_live.py [--users 100000] [--rate 50] [--seconds 10]

Seeds a database with `membership-admin seed` when it does not exist (not timed), opens the
app headless on the users view (its change poll at the default 1 s), waits for the whole
list, then a thread writes as a daemon would, `--rate` changes per second (a revoke or a
reinstate of a random user, each its own transaction through its own sqlite3 connection),
for `--seconds`. A 20 ms UI timer records the gaps between its ticks: the longest gap is
the longest time the UI could not react. Also printed: how long a change took to show.
BENCH_POLL=3600 turns the view's change poll off: the stall of the writer alone (21 ms).
On SQLite a change re-reads the rows in view and the count; the rows out of view are read
again once the changes stop (UsersScreen.QUIET) or every CATCH_UP seconds while they go on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZE = (120, 36)


def writer(db: str, rate: float, seconds: float, keys: list[str], stop: threading.Event,
           last: dict[str, float]) -> int:
    """The daemon: rate changes per second for seconds; returns how many it made."""
    con = sqlite3.connect(db, isolation_level=None, timeout=5)
    rng = random.Random(7)
    made = 0
    start = time.monotonic()
    while not stop.is_set() and time.monotonic() - start < seconds:
        key = rng.choice(keys)
        now = int(time.time())
        con.execute("UPDATE users SET status = CASE status WHEN 'active' THEN 'revoked' ELSE 'active' END, "
                    "revoked_at = CASE status WHEN 'active' THEN ? ELSE NULL END WHERE key = ?", (now, key))
        made += 1
        last["key"], last["at"] = key, time.monotonic()  # type: ignore[assignment]
        time.sleep(max(0.0, start + made / rate - time.monotonic()))
    con.close()
    return made


async def run(db: str, rate: float, seconds: float) -> None:
    from store import SqliteSpec
    from tui.app import MembershipApp
    from tui.widgets.record_table import RecordTable

    con = sqlite3.connect(db)
    keys = [k for (k,) in con.execute("SELECT key FROM users ORDER BY key LIMIT 10000")]
    con.close()
    app = MembershipApp(SqliteSpec(db, read_only=True), initial_mode="users", blink=False,
                        poll_interval=float(os.environ.get("BENCH_POLL", "1.0")))
    async with app.run_test(size=SIZE) as pilot:
        def table() -> RecordTable:
            return app.screen.query_one(RecordTable)

        while not (table().loaded and table().complete):
            await asyncio.sleep(0.05)
        await pilot.pause(0.5)
        gaps: list[float] = []
        last_tick = [time.monotonic()]

        def tick() -> None:
            now = time.monotonic()
            gaps.append(now - last_tick[0])
            last_tick[0] = now

        timer = app.set_interval(0.02, tick)
        stop = threading.Event()
        last: dict[str, float] = {}
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(writer(db, rate, seconds, keys, stop, last)))
        thread.start()
        while thread.is_alive():
            await asyncio.sleep(0.05)
        timer.stop()
        # how long a change takes to show: one to the row in view (re-read on the next poll),
        # and the writer's last one, likely out of view (shown by the full read once changes stop)
        await asyncio.sleep(random.random())  # any phase of the change poll
        ended = time.monotonic()
        key = str(last["key"])
        con = sqlite3.connect(db)
        (status,), = con.execute("SELECT status FROM users WHERE key = ?", (key,))
        in_view = table().shown_keys[0]
        con.execute("UPDATE users SET name = name || '.' WHERE key = ?", (in_view,))
        con.commit()
        (name,), = con.execute("SELECT name FROM users WHERE key = ?", (in_view,))
        con.close()

        def data(k: str):
            return next((r[1] for r in table().records if r[0] == k), None)

        def row_shown() -> bool:
            return str(table().grid.get_row_at(0)[1]) == name

        while not row_shown() and time.monotonic() - ended < 30:
            await asyncio.sleep(0.01)
        shows_in_view = time.monotonic() - ended
        while (data(key) or (0, 0, 0, None))[3] != status and time.monotonic() - ended < 60:
            await asyncio.sleep(0.05)
        shows = time.monotonic() - ended
        n_users = len(table().records)
    gaps.sort()
    ms = [g * 1000 for g in gaps]
    print(f"{result[0]} changes in {seconds:g} s ({result[0] / seconds:.0f}/s) on {n_users:,} users: "
          f"UI timer gaps p50 {ms[len(ms) // 2]:.0f} ms, p99 {ms[int(len(ms) * 0.99)]:.0f} ms, max {ms[-1]:.0f} ms; "
          f"a change to a row in view shown after {shows_in_view:.2f} s, the writer's last change "
          f"(out of view) after {shows:.2f} s; peak memory (ru_maxrss, full reads included) "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", default=os.path.join(tempfile.gettempdir(), "membership-bench", "tui-100k.sqlite"))
    p.add_argument("--users", type=int, default=100000)
    p.add_argument("--rooms", type=int, default=10000)
    p.add_argument("--rate", type=float, default=50.0)
    p.add_argument("--seconds", type=float, default=10.0)
    args = p.parse_args()
    db = Path(args.db)
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        exe = Path(sys.executable).parent / "membership-admin"
        subprocess.run([str(exe), "seed", str(db), "--rooms", str(args.rooms), "--users", str(args.users),
                        "--members-per-room", "10", "--epochs", "10"], check=True)
    asyncio.run(run(str(db), args.rate, args.seconds))


if __name__ == "__main__":
    main()
