"""A small, realistic, deterministic demo state, written through the Store interface.

seed_demo works on both backends. One situation the interface cannot produce (by design:
add_member and rekey insist on keys) is a member without a key at the current epoch; the
daemon can, when a member joins before its key is delivered. daemon_join_without_key
reproduces that for a SQLite file with the daemon's own kind of raw write.
"""

from __future__ import annotations

import hashlib
import sqlite3

from .. import ids
from ..audit import Actor
from ..backends import open_store
from ..base import Store
from ..errors import InvalidInput
from ..spec import Clock, SqliteSpec, system_clock
from ..sqlite_file import create_database

#: the frozen time of tests and screenshots: 2026-01-01T00:00:00Z
DEMO_NOW = 1_767_225_600


class FixedClock:
    """A clock that stands still unless moved by hand, so timestamps (and pictures) never change."""

    def __init__(self, now: int = DEMO_NOW) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: int = 1) -> int:
        self.now += seconds
        return self.now

#: handle -> (name, role)
USERS = {
    "ada": ("Ada Lovelace", "admin"),
    "brian": ("Brian Kernighan", "user"),
    "chloe": ("Chloé Dubois", "user"),
    "dmitri": ("Dmitri Volkov", "user"),
    "elena": ("Elena Rossi", "user"),
    "farid": ("Farid Haddad", "user"),
    "grace": ("Grace Hopper", "admin"),
    "mallory": ("Mallory Byrne", "user"),
}
REVOKED = "mallory"
#: the room where, after daemon_join_without_key, a member has no current-epoch key
MISSING_KEY_ROOM = "design"
MISSING_KEY_MEMBER = "farid"


def demo_key(handle: str) -> str:
    """A user's public key: the handle plus a stable hex tail, so it reads well and looks real."""
    return f"{handle}_{hashlib.sha256(f'demo-user:{handle}'.encode()).hexdigest()[:12]}"


def sealed(room_id: str, epoch: int, handle: str) -> bytes:
    """Deterministic stand-in for a room key sealed to a member (48 bytes)."""
    seed = f"demo-key:{room_id}:{epoch}:{handle}".encode()
    return hashlib.sha256(seed).digest() + hashlib.sha256(seed + b"/2").digest()[:16]


def _tick(clock, seconds: int) -> None:
    # A FixedClock can be moved, so the demo's timestamps differ like real ones; a real clock moves itself.
    advance = getattr(clock, "advance", None)
    if advance is not None:
        advance(seconds)


async def seed_demo(store: Store, clock) -> None:
    """Fill an empty store with the demo state. Raises what the Store raises (e.g. AlreadyExists)."""
    k = {h: demo_key(h) for h in USERS}
    # the demo's audit trail names a made-up operator, the same on every machine
    store.actor = Actor("ada", "admin-1", "demo")
    for handle, (name, role) in USERS.items():
        await store.add_user(k[handle], name, role)
        _tick(clock, 3600)

    async def room(room_id: str, name: str, owner: str, members: list[str], encrypted: bool = True):
        await store.create_room(room_id, name, k[owner], encrypted=encrypted,
                                sealed_key=sealed(room_id, 1, owner) if encrypted else None)
        for m in members:
            await store.add_member(room_id, k[m], sealed_key=sealed(room_id, 1, m) if encrypted else None)
        _tick(clock, 600)

    async def rekey(room_id: str, handles: list[str]) -> None:
        room = await store.get_room(room_id)
        await store.rekey(room_id, {k[h]: sealed(room_id, room.epoch + 1, h) for h in handles})
        _tick(clock, 86400)

    await room("lobby", "Lobby", "ada", ["brian", "chloe", "dmitri", "elena", "farid", "grace"],
               encrypted=False)
    # ops: rekeyed three times; mallory holds the epoch-4 key and is revoked below
    await room("ops", "Operations", "ada", ["brian", "grace", "mallory"])
    for _ in range(3):
        await rekey("ops", ["ada", "brian", "grace", "mallory"])
    # design: rekeyed once; farid joins later without a key (daemon_join_without_key)
    await room("design", "Design reviews", "chloe", ["dmitri", "elena"])
    await rekey("design", ["chloe", "dmitri", "elena"])
    # incident room: farid left, the room rekeyed without him; his old key stays
    await room("incident-2026-01", "Incident 2026-01 (payments)", "brian", ["ada", "farid", "grace"])
    await store.remove_member("incident-2026-01", k["farid"])
    await rekey("incident-2026-01", ["brian", "ada", "grace"])
    await room("finance", "Finance", "elena", ["grace", "ada"])
    await store.revoke_user(k[REVOKED], reason="left the company; key seen on a lost laptop")


def daemon_join_without_key(path: str, joined_at: int, room_id: str = MISSING_KEY_ROOM,
                            handle: str = MISSING_KEY_MEMBER) -> None:
    """Add a member to a room of a SQLite file without a sealed key, as the daemon does when a
    member joins before its key is delivered (the Store interface refuses this on purpose)."""
    endpoint = ids.endpoint(demo_key(handle))
    con = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        con.execute("INSERT INTO members (room_id, endpoint, role, joined_at) VALUES (?, ?, 'member', ?)",
                    (ids.room_id(room_id), endpoint, joined_at))
    except sqlite3.Error as e:
        raise InvalidInput(f"{path}: could not add {endpoint} to {room_id}: {e}") from None
    finally:
        con.close()


async def create_demo_database(path: str, clock: Clock = system_clock) -> None:
    """A new SQLite file at path holding the demo state, the member without its key included.
    Raises: InvalidInput (the file exists), what the Store raises."""
    create_database(path)
    store = await open_store(SqliteSpec(path), clock=clock)
    try:
        await seed_demo(store, clock)
    finally:
        await store.close()
    daemon_join_without_key(path, clock())
