"""How responsive the TUI stays while its migration screen migrates a seeded database.

    .venv/bin/python bench/bench_tui_migration.py [--rooms 2000 --users 20000]

Starts a local single-node nats-server, seeds a database (store.dev.seed), opens the app
headless on the migration screen and presses m; a 20 ms UI timer records the gaps between
its ticks (the longest gap is the longest time the UI could not react). Run once with the
engine in a thread (the screen's own way) and once in the app's own event loop (a subclass
of the screen made here, for the comparison).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import work

from store import NatsSpec, SqliteSpec
from store.dev.local_nats import LocalNats
from store.dev.seed import seed_database
from tui.app import MembershipApp
from tui.screens.migration import MigrationScreen


class InLoopMigrationScreen(MigrationScreen):
    """The engine in the app's own event loop instead of a thread of its own."""

    @work(exclusive=True, group="migration", exit_on_error=False)
    async def _migrate(self, run: int, source: SqliteSpec, target: NatsSpec, now: float) -> None:
        await self._consume(run, source, target, now, lambda: False)


async def run(db: str, url: str, prefix: str, in_thread: bool) -> None:
    target = NatsSpec(url, bucket_prefix=prefix, replicas=1)
    screens = {} if in_thread else {"migration": InLoopMigrationScreen}
    app = MembershipApp(SqliteSpec(db), migration_target=target, screens=screens)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause(1.0)
        await pilot.press("3")
        await asyncio.sleep(0.3)
        screen = app.screen
        gaps: list[float] = []
        last = [time.monotonic()]

        def tick() -> None:
            now = time.monotonic()
            gaps.append(now - last[0])
            last[0] = now

        timer = app.set_interval(0.02, tick)
        started = time.monotonic()
        app.simulate_key("m")
        while screen.outcome is None:
            await asyncio.sleep(0.05)
        took = time.monotonic() - started
        timer.stop()
    gaps.sort()
    where = "thread" if in_thread else "app loop"
    print(f"engine in {where:8}: {screen.outcome}, identical={screen.identical}, "
          f"{took:.1f} s; UI timer gaps p50 {gaps[len(gaps) // 2] * 1000:.0f} ms, "
          f"p99 {gaps[int(len(gaps) * 0.99)] * 1000:.0f} ms, max {gaps[-1] * 1000:.0f} ms; "
          f"import: {screen._steps['import'][1]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rooms", type=int, default=2000)
    ap.add_argument("--users", type=int, default=20000)
    ap.add_argument("--members-per-room", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.sqlite")
        counts = seed_database(db, rooms=args.rooms, users=args.users,
                               members_per_room=args.members_per_room, epochs=args.epochs)
        print(f"seeded: {counts}")
        with LocalNats(Path(tmp) / "nats", size=1) as server:
            time.sleep(0.5)
            asyncio.run(run(db, server.url, "thread_", True))
            asyncio.run(run(db, server.url, "loop_", False))


if __name__ == "__main__":
    main()
