"""Benchmark: the TUI on a large SQLite database (headless, Textual's run_test at 120x36).

    .venv/bin/python bench/bench_tui.py [--db PATH] [--rooms 10000 --users 100000 ...]

Seeds the database with `membership-admin seed` when it does not exist (not timed), then
prints: start to the first users on screen and to the complete count (the list streams in
parts), G and g to the last and first row, one filter keystroke to an updated users table,
rooms and room-detail load times, and peak memory (ru_maxrss). For a million users:
--users 1000000 --rooms 100000 --members-per-room 10 --epochs 2 --db /tmp/tui-1m.sqlite
On KV (--kv): the database is migrated to a local nats-server first by `migrate-to-kv` (not
timed), and the first users on screen are the view's preview (Store.preview_users); 200,000 users:
--kv --users 200000 --rooms 10000 --members-per-room 10 --epochs 2 --db /tmp/tui-200k.sqlite
"""

from __future__ import annotations

import time

T0 = time.perf_counter()  # "start": before textual and the app are imported

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SIZE = (120, 36)


def seed(path: Path, args: argparse.Namespace) -> None:
    exe = Path(sys.executable).parent / "membership-admin"
    cmd = [str(exe), "seed", str(path), "--rooms", str(args.rooms), "--users", str(args.users),
           "--members-per-room", str(args.members_per_room), "--epochs", str(args.epochs)]
    print("seeding:", " ".join(cmd), flush=True)
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    print(f"seeded in {time.perf_counter() - t:.1f} s", flush=True)


async def wait_until(pilot, condition, timeout: float = 120.0) -> float:
    """Seconds until condition() holds, checking as often as the app lets us."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise SystemExit("timed out")
        await asyncio.sleep(0.002)
    return time.perf_counter() - start


def to_kv(db: Path, url: str) -> None:
    """The database migrated to a local nats-server (R1) by the real command, not timed (in
    its own process: the peak memory measured is the TUI's alone)."""
    exe = Path(sys.executable).parent / "membership-admin"
    t = time.perf_counter()
    subprocess.run([str(exe), "migrate-to-kv", "--db", str(db), "--nats-url", url, "--replicas", "1",
                    "--no-backup", "--json"], check=True, stdout=subprocess.DEVNULL)
    print(f"migrated to KV (R1) in {time.perf_counter() - t:.1f} s", flush=True)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(spec) -> None:
    from tui.app import MembershipApp
    from tui.widgets.record_table import RecordTable

    imported = time.perf_counter()
    app = MembershipApp(spec, initial_mode="users", poll_interval=3600, blink=False)

    def table() -> RecordTable:
        return app.screen.query_one(RecordTable)

    def table_ready(screen_name: str):
        def ready() -> bool:
            if type(app.screen).__name__ != screen_name:
                return False
            t = app.screen.query_one(RecordTable)
            return t.loaded and len(t.shown_keys) > 0
        return ready

    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, table_ready("UsersScreen"))
        ready = time.perf_counter()
        count = str(table().query_one(".count").content)  # as it was then (KV: the preview)
        await pilot.pause()
        print(f"start to the first users on screen: {ready - T0:.2f} s "
              f"(imports {imported - T0:.2f} s, app {ready - imported:.2f} s)  [{count}]")
        # the rest of the list streams in a worker: the count is complete when the last part is in
        await wait_until(pilot, lambda: table().complete)
        complete = time.perf_counter()
        await pilot.pause()
        print(f"start to the complete count: {complete - T0:.2f} s  [{table().query_one('.count').content}]")
        print(f"peak memory with the users loaded (ru_maxrss): {peak_mb():.0f} MB")

        # filter keystrokes: each one narrows the whole 100k list and redraws the window
        await pilot.press("slash")
        timings = []
        for text in ("u", "us", "use", "user", "user0", "user00", "user001", "user00", "user0", ""):
            box = table().filter_input
            t = time.perf_counter()
            box.value = text  # exactly what a keystroke does to the Input, then its Changed
            await wait_until(pilot, lambda text=text: table().filter_text == text)
            await pilot.pause()  # the repaint
            timings.append(time.perf_counter() - t)
        await pilot.press("escape")
        # G and g: to the last row and back, the grid's window moving across the whole list;
        # measured as the filter is, from what the key does to the repaint (a pilot key press
        # adds the pilot's own wait, printed beside it with a key bound to nothing)
        moves, presses, idle = [], [], []
        for key in ("G", "g", "G", "g", "G", "g"):
            await pilot.pause()
            t = time.perf_counter()
            grid = table().grid
            grid.action_last() if key == "G" else grid.action_first()
            await pilot.pause()  # the repaint
            moves.append(time.perf_counter() - t)
        for key in ("G", "g", "f12", "G", "g", "f12", "G", "g", "f12"):
            await pilot.pause()
            t = time.perf_counter()
            await pilot.press(key)
            (idle if key == "f12" else presses).append(time.perf_counter() - t)
        print(f"G / g (last row, first row) to an updated table: median {statistics.median(moves) * 1000:.0f} ms, "
              f"max {max(moves) * 1000:.0f} ms; as pilot key presses {statistics.median(presses) * 1000:.0f} ms "
              f"(a key bound to nothing: {statistics.median(idle) * 1000:.0f} ms)  "
              f"[{table().query_one('.count').content}]")
        ms = [t * 1000 for t in timings]
        print(f"filter keystroke to updated users table: median {statistics.median(ms):.0f} ms, "
              f"max {max(ms):.0f} ms over {len(ms)} keystrokes")
        # one real key press through the pilot, for comparison (includes the pilot's own pause)
        await pilot.press("slash")
        t = time.perf_counter()
        await pilot.press("9")
        await wait_until(pilot, lambda: table().filter_text == "9")
        await pilot.pause()
        print(f"one pilot key press '9' to updated table: {(time.perf_counter() - t) * 1000:.0f} ms  "
              f"[{table().query_one('.count').content}]")
        await pilot.press("escape")

        t = time.perf_counter()
        app.screen.action_show("rooms")  # what key 1 does (a pilot press would wait for the whole load)
        await wait_until(pilot, table_ready("RoomsScreen"))
        rooms = time.perf_counter() - t
        await wait_until(pilot, lambda: table().complete)
        print(f"rooms table (key 1): {rooms:.2f} s, with the member counts {time.perf_counter() - t:.2f} s  "
              f"[{table().query_one('.count').content}]")
        t = time.perf_counter()
        await pilot.press("enter")
        await wait_until(pilot, table_ready("RoomScreen"))
        print(f"room detail (enter): {(time.perf_counter() - t) * 1000:.0f} ms  "
              f"[{table().query_one('.count').content}]")
    print(f"peak memory (ru_maxrss): {peak_mb():.0f} MB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", default=os.path.join(tempfile.gettempdir(), "membership-bench", "tui-100k.sqlite"))
    p.add_argument("--rooms", type=int, default=10000)
    p.add_argument("--users", type=int, default=100000)
    p.add_argument("--members-per-room", type=int, default=10)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--kv", action="store_true",
                   help="migrate the database to a local nats-server (R1) and open the TUI on that")
    args = p.parse_args()
    db = Path(args.db)
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        seed(db, args)
        print("(run again to measure without the seeding in memory and page cache)")
    from store import NatsSpec, SqliteSpec
    if not args.kv:
        asyncio.run(run(SqliteSpec(str(db), read_only=True)))
        return
    from store.dev.local_nats import LocalNats
    with tempfile.TemporaryDirectory(prefix="bench-tui-kv-") as tmp, LocalNats(tmp) as server:
        to_kv(db, server.url)
        global T0
        T0 = time.perf_counter()  # the start: after the migration (textual is imported by now)
        asyncio.run(run(NatsSpec(server.url, read_only=True)))


if __name__ == "__main__":
    main()
