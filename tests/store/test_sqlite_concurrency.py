"""The daemon writes the file while the tool runs: a raw sqlite3 writer in a thread keeps
rekeying rooms (each rekey one transaction that keeps the domain invariant) while the
store reads, exports and revokes, and the CLI exports from another process."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time

from store import SqliteSpec, open_store
from store.dev.seed import seed_database

ROOMS, MEMBERS = 6, 3


def daemon(path: str, stop: threading.Event, done: list[int]) -> None:
    """Rekey rooms round-robin: epoch+1 and a key for every member, in one transaction, as
    the daemon would. Between transactions every room has a key for every member at its
    epoch and exactly epoch * members keys."""
    con = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        n = 0
        while not stop.is_set():
            rid = f"room-{n % ROOMS:06d}"
            con.execute("BEGIN IMMEDIATE")
            (epoch,) = con.execute("SELECT epoch FROM rooms WHERE id = ?", (rid,)).fetchone()
            con.execute("UPDATE rooms SET epoch = ? WHERE id = ?", (epoch + 1, rid))
            for (ep,) in con.execute("SELECT endpoint FROM members WHERE room_id = ?", (rid,)).fetchall():
                con.execute("INSERT INTO room_keys VALUES (?, ?, ?, ?, ?)", (rid, epoch + 1, ep, b"k", n))
            con.execute("COMMIT")
            n += 1
            time.sleep(0.003)  # a busy daemon, not a tight loop that never lets the lock go
        done.append(n)
    finally:
        con.close()


def check_invariant(rooms, members, keys) -> None:
    """rooms, members, keys as (id, epoch), (room_id, endpoint), (room_id, epoch, endpoint)."""
    for rid, epoch in rooms:
        eps = {ep for r, ep in members if r == rid}
        mine = {(e, ep) for r, e, ep in keys if r == rid}
        assert mine == {(e, ep) for e in range(1, epoch + 1) for ep in eps}, f"torn snapshot of {rid}"


async def test_tool_reads_exports_and_revokes_while_daemon_writes(tmp_path):
    path = str(tmp_path / "busy.sqlite")
    seed_database(path, rooms=ROOMS, users=30, members_per_room=MEMBERS, epochs=1, seed=3)
    stop, done = threading.Event(), []
    writer = threading.Thread(target=daemon, args=(path, stop, done))
    s = await open_store(SqliteSpec(path))
    users = [u.key for u in await s.list_users()]
    writer.start()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "tui", "export", "--db", path],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        epochs_seen, snapshots = set(), 0
        deadline = time.monotonic() + 1.5
        i = 0
        while time.monotonic() < deadline:
            snap = await s.export_snapshot()  # nothing may fail with "database is locked"
            snapshots += 1
            check_invariant([(r.id, r.epoch) for r in snap.rooms],
                            [(m.room_id, m.endpoint) for m in snap.members],
                            [(k.room_id, k.epoch, k.endpoint) for k in snap.sealed_keys])
            epochs_seen.add(sum(r.epoch for r in snap.rooms))
            key = users[i % len(users)]
            revoked = await s.revoke_user(key)
            assert revoked.status == "revoked" and not await s.is_authorized(key)
            assert (await s.reinstate_user(key)).status == "active" and await s.is_authorized(key)
            room = await s.get_room(f"room-{i % ROOMS:06d}")
            assert len(await s.list_keys(room.id)) >= room.epoch * MEMBERS
            i += 1
        out, err = proc.communicate(timeout=30)
    finally:
        stop.set()
        writer.join(timeout=30)
        await s.close()
    assert proc.returncode == 0, err
    assert "locked" not in err
    doc = json.loads(out)
    check_invariant([(r["id"], r["epoch"]) for r in doc["rooms"]],
                    [(m["room_id"], m["endpoint"]) for m in doc["members"]],
                    [(k["room_id"], k["epoch"], k["endpoint"]) for k in doc["sealed_keys"]])
    # the writer really ran concurrently: many commits, and the snapshots saw them move
    assert done and done[0] > 20
    assert snapshots > 5 and len(epochs_seen) > 3
