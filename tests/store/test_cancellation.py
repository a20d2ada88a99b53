"""Every Store operation is safe to cancel at any await, on both backends.

The UI cancels loads (a screen closed, a worker replaced), and Ctrl-C cancels commands.
A cancelled operation once left a SQLite transaction open, which blocked the daemon's
writes and its WAL checkpoints; a cancelled KV scan left its JetStream consumer behind,
and a cancelled KV export returned while its scans were still deleting theirs.

So each kind of operation is started as a task and cancelled after k turns of the event
loop, k = 0, 1, 2, ... (then in steps of an eighth) until the operation ends before the
cancel comes, and after every cancellation:
  SQLite: a raw sqlite3 writer (the daemon) can write, and `PRAGMA wal_checkpoint(TRUNCATE)`
          is not busy, so no transaction of the store is left open, read or write;
  KV:     the five streams have no consumer still listened to (the server removes the
          store's ephemeral ones by itself) and the client no extra subscription;
  both:   no task the operation started still runs (its cleanup is over when it ends),
          and the store still reads (and sees the raw write), decides and writes.
A cancelled write may or may not have taken effect: only the store's health is checked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import sqlite3
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import suppress
from typing import Any

import nats
import pytest

from store import AlreadyExists, NatsSpec, NotFound, Store, StoreError, User, codec
from store.kv import BUCKETS

#: cancel after every number of loop turns up to DENSE (0: before the task ever runs), then
#: after an eighth more each time, until the operation ended first at DONE points in a row
#: (its length varies: a SQLite write waits on an fsync for thousands of turns) or MAX_TURNS
DENSE = 32
DONE = 3
MAX_TURNS = 50_000

#: a user no operation under test touches: the health check writes and reads it
SENTINEL = "sentinel"
KEY = b"sealed-key"


async def seed(store: Store) -> User:
    """Users, an encrypted room with a member and keys, an unencrypted room with a member.
    Returns the sentinel user."""
    for key, role in (("admin1", "admin"), ("alice", "user"), ("bob", "user"), ("carol", "user")):
        await store.add_user(key, key.title(), role)
    await store.create_room("enc", "Encrypted", "alice", encrypted=True, sealed_key=KEY)
    await store.add_member("enc", "bob", sealed_key=KEY)
    await store.create_room("plain", "Plain", "alice")
    await store.add_member("plain", "carol")
    return await store.add_user(SENTINEL, "Sentinel")


# -- the operations --------------------------------------------------------------------
# A write's prepare step (never cancelled) puts the state where the write has work to do.
# An earlier cancelled write may have taken effect, or half of it on KV: prepare steps
# tolerate that, and the cancelled call may fail with any store error.

async def nothing(store: Store, i: int) -> None:
    return None


async def without_dave(store: Store, i: int) -> None:
    with suppress(NotFound):
        await store.remove_member("enc", "dave")


async def with_dave(store: Store, i: int) -> None:
    with suppress(AlreadyExists):
        await store.add_member("enc", "dave", sealed_key=KEY)


async def bob_revoked(store: Store, i: int) -> None:
    await store.revoke_user("bob")


async def bob_active(store: Store, i: int) -> None:
    await store.reinstate_user("bob")


async def members_of_enc(store: Store, i: int) -> list[str]:
    return [m.endpoint for m in await store.list_members("enc")]


async def without_tmp(store: Store, i: int) -> None:
    with suppress(NotFound):
        await store.delete_room("tmp")


async def doomed_room(store: Store, i: int) -> None:
    """A room with a second member and keys, for delete_room to take apart."""
    with suppress(AlreadyExists):
        await store.create_room("doomed", "Doomed", "carol", encrypted=True, sealed_key=KEY)
    with suppress(AlreadyExists):
        await store.add_member("doomed", "bob", sealed_key=KEY)


@dataclasses.dataclass(frozen=True)
class Op:
    name: str
    #: (store, i, what prepare returned) -> the operation's awaitable
    call: Callable[[Any, int, Any], Awaitable[Any]]
    prepare: Callable[[Any, int], Awaitable[Any]] = nothing


OPS = [
    Op("get_user", lambda s, i, _: s.get_user("alice")),
    Op("list_users", lambda s, i, _: s.list_users()),
    Op("list_rooms", lambda s, i, _: s.list_rooms()),
    Op("get_room", lambda s, i, _: s.get_room("enc")),
    Op("list_members", lambda s, i, _: s.list_members("enc")),
    Op("rooms_of_member", lambda s, i, _: s.rooms_of_member("alice")),
    Op("member_counts", lambda s, i, _: s.member_counts()),
    Op("get_key", lambda s, i, _: s.get_key("enc", "alice")),
    Op("list_keys", lambda s, i, _: s.list_keys("enc")),
    Op("export_snapshot", lambda s, i, _: s.export_snapshot()),
    Op("change_marker", lambda s, i, _: s.change_marker()),
    Op("is_authorized", lambda s, i, _: s.is_authorized("alice")),
    Op("authorization", lambda s, i, _: s.authorization("admin1", admin=True)),
    Op("add_user", lambda s, i, _: s.add_user(f"new{i}", "New")),  # a new key each time
    Op("revoke_user", lambda s, i, _: s.revoke_user("bob"), bob_active),
    Op("reinstate_user", lambda s, i, _: s.reinstate_user("bob"), bob_revoked),
    Op("add_member", lambda s, i, _: s.add_member("enc", "dave", sealed_key=KEY), without_dave),
    Op("remove_member", lambda s, i, _: s.remove_member("enc", "dave"), with_dave),
    Op("put_key", lambda s, i, _: s.put_key("enc", 1, "bob", f"key-{i}".encode())),
    Op("rekey", lambda s, i, members: s.rekey("enc", {ep: f"key-{i}".encode() for ep in members}),
       members_of_enc),
    Op("create_room", lambda s, i, _: s.create_room("tmp", "Tmp", "carol", encrypted=True, sealed_key=KEY),
       without_tmp),
    Op("delete_room", lambda s, i, _: s.delete_room("doomed"), doomed_room),
]


def cancel_points() -> Iterator[int]:
    """0, 1, ..., DENSE, then an eighth more each time, up to MAX_TURNS."""
    turns = 0
    while turns <= MAX_TURNS:
        yield turns
        turns += 1 if turns < DENSE else turns // 8


async def cancel_at(start: Callable[[], Awaitable[Any]], turns: int) -> str:
    """Run start() as a task, cancel it after that many turns of the event loop and wait for
    it to end. Returns how it ended: unstarted, interrupted, finished or failed."""
    started = False

    async def run() -> None:
        nonlocal started
        started = True
        await start()

    before = asyncio.all_tasks()
    task = asyncio.ensure_future(run())
    for _ in range(turns):
        await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait({task})  # never raises the task's outcome
    # the operation's own tasks have ended too: one still cleaning up (a scan deleting its
    # consumer) would not finish if the caller closed the store now, as Ctrl-C does
    running = [t.get_coro().__qualname__ for t in asyncio.all_tasks() - before if not t.done()]
    assert running == [], f"still running after the cancel at turn {turns}"
    if task.cancelled():
        return "interrupted" if started else "unstarted"
    if isinstance(task.exception(), StoreError):
        return "failed"  # e.g. a write refused after an earlier cancelled one took effect
    task.result()  # anything else is a bug: raise it here
    return "finished"


# -- health checks ---------------------------------------------------------------------

class SqliteHealth:
    """The daemon's view: a raw sqlite3 connection that writes and checkpoints."""

    def __init__(self, path: str) -> None:
        self.path = path
        con = self._connect()
        try:
            (mode,) = con.execute("PRAGMA journal_mode").fetchone()
        finally:
            con.close()
        assert mode == "wal"  # else the checkpoint check below would prove nothing

    def _connect(self) -> sqlite3.Connection:
        # a short busy timeout: a transaction left open shows up as "locked" or busy in 1 s
        return sqlite3.connect(self.path, timeout=1, isolation_level=None)

    async def raw_write(self, name: str) -> None:
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")  # fails when the store holds the write lock
            cur = con.execute("UPDATE users SET name = ? WHERE key = ?", (name, SENTINEL))
            assert cur.rowcount == 1
            con.execute("COMMIT")
            busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            con.close()
        # busy: some reader still holds an old snapshot (an open read transaction)
        assert busy == 0, "WAL checkpoint busy: a transaction of the store is still open"

    async def leftovers(self) -> list[str]:
        return []  # an open transaction already failed raw_write

    async def close(self) -> None:
        pass


class KvHealth:
    """A raw NATS client of its own: writes the sentinel and looks at the streams' consumers."""

    def __init__(self, store: Any, sentinel: User, nc: Any, js: Any, kv: Any) -> None:
        self.store, self.sentinel, self.nc, self.js, self.kv = store, sentinel, nc, js, kv
        self.subs = len(store.nc._subs)  # the baseline: the client's request mux, nothing else

    @classmethod
    async def open(cls, store: Any, sentinel: User, spec: NatsSpec) -> KvHealth:
        nc = await nats.connect(spec.url)
        js = nc.jetstream()
        return cls(store, sentinel, nc, js, await js.key_value(spec.bucket_prefix + "users"))

    async def raw_write(self, name: str) -> None:
        await self.kv.put(SENTINEL, codec.encode_user(dataclasses.replace(self.sentinel, name=name)))

    async def leftovers(self) -> list[str]:
        """Consumers on the five streams that live on, and subscriptions beyond the baseline.

        The store's consumers are ephemeral and never deleted by it (the README's viewer may
        not delete consumers): once nobody listens, the server removes one after its inactive
        threshold. So a consumer left behind is one still listened to, or one that would not
        go by itself (durable, or without a short threshold)."""
        await self.store.nc.flush(timeout=2)  # our unsubscribes have reached the server
        found: list[str] = []
        for _ in range(20):  # the server notices a lost interest shortly after the unsubscribe
            found = []
            for base in BUCKETS:
                stream = self.store.stream(base)
                for c in await self.js.consumers_info(stream):
                    threshold = c.config.inactive_threshold or 0
                    if c.push_bound or c.config.durable_name or not 0 < threshold <= 5:
                        found.append(f"consumer {stream}/{c.name} (bound {c.push_bound}, "
                                     f"durable {c.config.durable_name}, inactive threshold {threshold})")
            if not found:
                break
            await asyncio.sleep(0.05)
        extra = len(self.store.nc._subs) - self.subs
        if extra:
            found.append(f"{extra} subscription(s) of the store's client")
        return found

    async def close(self) -> None:
        await self.nc.close()


async def check_health(store: Store, health: SqliteHealth | KvHealth, n: int, after: str) -> None:
    """Nothing left behind, and the store reads (fresh), decides and writes."""
    assert await health.leftovers() == [], f"left behind after {after}"
    name = f"raw write {n}"
    await health.raw_write(name)
    assert (await store.get_user(SENTINEL)).name == name, f"stale read after {after}"
    key = f"check-{n}".encode()
    await store.put_key("enc", 1, SENTINEL, key)  # a write of its own (not a member's key)
    assert (await store.get_key("enc", SENTINEL, 1)).sealed_key == key
    assert await store.is_authorized(SENTINEL)
    assert SENTINEL in {u.key for u in await store.list_users()}  # a scan on KV
    assert await health.leftovers() == [], f"left behind by the check after {after}"


# -- the test --------------------------------------------------------------------------

@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
async def test_cancelled_operation_leaves_store_healthy(store: Store, store_spec, op: Op) -> None:
    sentinel = await seed(store)
    health: SqliteHealth | KvHealth
    if isinstance(store_spec, NatsSpec):
        health = await KvHealth.open(store, sentinel, store_spec)
    else:
        health = SqliteHealth(store_spec.path)
    try:
        await check_health(store, health, 0, "seeding")
        outcomes: Counter[str] = Counter()
        done_in_a_row = 0
        for i, turns in enumerate(cancel_points(), 1):
            prepared = await op.prepare(store, i)
            outcome = await cancel_at(functools.partial(op.call, store, i, prepared), turns)
            outcomes[outcome] += 1
            await check_health(store, health, i, f"{op.name} cancelled at turn {turns} ({outcome})")
            done_in_a_row = done_in_a_row + 1 if outcome in ("finished", "failed") else 0
            if turns >= DENSE and done_in_a_row >= DONE:
                break  # the cancels come after the operation's last await now
    finally:
        await health.close()
    # the sweep really cut the operation in flight, not only before or after it
    assert outcomes["interrupted"] >= 1, dict(outcomes)
