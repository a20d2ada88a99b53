"""A user in many rooms: how long their rooms view (enter on a user), the revoke
confirmation and a bulk revoke's rooms at risk take to read them.

    .venv/bin/python bench/bench_user_rooms.py [--rooms 10000]

Makes a SQLite database where one user owns --rooms encrypted rooms (each with its key),
then times Store.member_rooms (what tui.services.load_user_rooms reads), median of 3.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store import SqliteSpec, open_store
from store.sqlite_file import create_database
from tui.services import load_user_rooms


def make(path: str, rooms: int) -> None:
    create_database(path)
    con = sqlite3.connect(path)
    with con:
        con.execute("INSERT INTO users VALUES ('busy', 'Busy', 'user', 'active', 1, NULL)")
        ids = [f"r{i:06d}" for i in range(rooms)]
        con.executemany("INSERT INTO rooms VALUES (?, ?, 1, 'busy', 1, 1)", [(r, f"Room {r}") for r in ids])
        con.executemany("INSERT INTO members VALUES (?, 'busy', 'owner', 1)", [(r,) for r in ids])
        con.executemany("INSERT INTO room_keys VALUES (?, 1, 'busy', ?, 1)", [(r, os.urandom(48)) for r in ids])
    con.close()


async def run(path: str) -> None:
    async with await open_store(SqliteSpec(path, read_only=True)) as s:
        times = []
        for _ in range(3):
            t = time.perf_counter()
            found = await load_user_rooms(s, "busy")
            times.append(time.perf_counter() - t)
    print(f"a user's rooms ({len(found.rooms):,} rooms, each with its current key): "
          f"median {statistics.median(times):.2f} s of 3")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rooms", type=int, default=10000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "busy.sqlite")
        make(path, args.rooms)
        asyncio.run(run(path))


if __name__ == "__main__":
    main()
