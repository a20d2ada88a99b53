"""Deterministic synthetic data for demos and benchmarks, written straight into a new database.

The same arguments always give the same file contents: every value comes from
random.Random(seed) and fixed timestamps, never from the clock. The data keeps the
domain rules: the owner is a member with role owner, every room is encrypted at
`epochs` epochs with a sealed key for each member at each epoch, and members are
drawn from the users (every 20th user revoked, a few admins).
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import InvalidInput
from ..sqlite_file import build_database

#: 2025-01-01T00:00:00Z: seeded timestamps start here, so output does not depend on today
BASE_TIME = 1_735_689_600
SEALED_KEY_BYTES = 48
_FIRST = ["Ada", "Alan", "Barbara", "Claude", "Donald", "Edsger", "Frances", "Grace", "Hedy",
          "Ivan", "Joan", "Ken", "Leslie", "Margaret", "Niklaus", "Radia", "Shafi", "Tim"]
_LAST = ["Lovelace", "Turing", "Liskov", "Shannon", "Knuth", "Dijkstra", "Allen", "Hopper",
         "Lamarr", "Sutherland", "Clarke", "Thompson", "Lamport", "Hamilton", "Wirth", "Perlman"]
_TOPIC = ["ops", "design", "release", "incident", "infra", "sales", "research", "support",
          "security", "mobile", "web", "data", "finance", "hiring", "legal", "random"]


@dataclass(frozen=True)
class SeedCounts:
    rooms: int
    users: int
    members: int
    sealed_keys: int
    seconds: float

    def __str__(self) -> str:
        return (f"{self.rooms} rooms, {self.users} users, {self.members} members, "
                f"{self.sealed_keys} sealed keys in {self.seconds:.1f} s")


def _check(rooms: int, users: int, members_per_room: int, epochs: int) -> None:
    for label, value, low in (("rooms", rooms, 0), ("users", users, 0),
                              ("members per room", members_per_room, 1), ("epochs", epochs, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InvalidInput(f"invalid {label} {value!r}: expected an integer >= {low}")
    if rooms and members_per_room > users:
        raise InvalidInput(f"{members_per_room} members per room need at least as many users "
                           f"(got {users})")


def seed_database(path: str, *, rooms: int = 20, users: int = 50, members_per_room: int = 5,
                  epochs: int = 3, seed: int = 1) -> SeedCounts:
    """Create a new database at path filled with synthetic data. Raises: InvalidInput."""
    _check(rooms, users, members_per_room, epochs)
    started = time.perf_counter()
    rng = random.Random(seed)

    keys: list[str] = []
    seen: set[str] = set()
    while len(keys) < users:
        k = f"{rng.getrandbits(128):032x}"
        if k not in seen:  # 128 random bits: a repeat never happens, but never trust that
            seen.add(k)
            keys.append(k)

    def user_rows() -> Iterator[tuple]:
        for i, k in enumerate(keys):
            added = BASE_TIME + i * 60
            name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
            role = "admin" if rng.random() < 0.02 else "user"
            if i % 20 == 19:
                yield (k, name, role, "revoked", added, added + rng.randrange(3600, 90 * 86400))
            else:
                yield (k, name, role, "active", added, None)

    # (room id, created_at, owner, sorted member endpoints) for every room
    plan: list[tuple[str, int, str, list[str]]] = []
    for i in range(rooms):
        picked = rng.sample(keys, members_per_room)
        owner = picked[0]
        plan.append((f"room-{i:06d}", BASE_TIME + 86400 + i * 30, owner, sorted(picked)))

    def room_rows() -> Iterator[tuple]:
        for rid, created, owner, _ in plan:
            yield (rid, f"{rng.choice(_TOPIC)}-{rid[5:]}", 1, owner, epochs, created)

    def member_rows() -> Iterator[tuple]:
        for rid, created, owner, eps in plan:
            for ep in eps:
                if ep == owner:
                    yield (rid, ep, "owner", created)
                else:
                    yield (rid, ep, "member", created + 1 + rng.randrange(3600))

    def key_rows() -> Iterator[tuple]:
        randbytes = rng.randbytes
        for rid, created, _, eps in plan:
            for e in range(1, epochs + 1):
                at = created + (e - 1) * 7 * 86400  # a rekey a week
                for ep in eps:
                    yield (rid, e, ep, randbytes(SEALED_KEY_BYTES), at)

    def fill(con: sqlite3.Connection) -> None:
        # a temporary file that is linked into place only when complete: no need for durability
        # until then (build_database syncs before linking)
        con.execute("PRAGMA synchronous = OFF")
        con.execute("PRAGMA journal_mode = OFF")
        con.execute("PRAGMA cache_size = -262144")  # 256 MiB: the bulk insert stays in memory
        con.execute("BEGIN")
        con.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)", user_rows())
        con.executemany("INSERT INTO rooms VALUES (?, ?, ?, ?, ?, ?)", room_rows())
        con.executemany("INSERT INTO members VALUES (?, ?, ?, ?)", member_rows())
        con.executemany("INSERT INTO room_keys VALUES (?, ?, ?, ?, ?)", key_rows())
        con.execute("COMMIT")
        con.execute("PRAGMA journal_mode = DELETE")

    build_database(path, fill)
    n_members = rooms * members_per_room
    return SeedCounts(rooms, users, n_members, n_members * epochs, time.perf_counter() - started)
