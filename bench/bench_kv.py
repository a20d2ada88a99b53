"""KV backend figures, in one run against local nats-servers this script starts itself.

1. Seeds the five buckets on one node with pipelined core publishes (no per-message ack).
2. export_snapshot records/s, against a bare nats-py ordered consumer over the same
   streams that only counts messages (the ratio is the figure to watch: target >= 0.75).
3. is_authorized latency p50/p99 on R1 (that node) and on R3 (a 3-node cluster).

    .venv/bin/python bench/bench_kv.py [--users 100000 --rooms 10000 --members 100000
                                        --keys 300000 --auth-calls 500]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import tempfile
import time

import nats
from nats.js.api import DeliverPolicy

from store import NatsSpec, codec
from store.dev.local_nats import LocalNats, wait_jetstream
from store.kv import BUCKETS, KvStore
from store.models import Member, Room, SealedKey, User

NOW = 1_767_225_600


def records(n_users: int, n_rooms: int, n_members: int, n_keys: int):
    """Deterministic synthetic rows: (bucket, key, value) in SPEC layout."""
    for i in range(n_users):
        u = User(f"user{i:07d}", f"User {i}", "admin" if i % 50 == 0 else "user",
                 "revoked" if i % 10 == 0 else "active", NOW, NOW + 1 if i % 10 == 0 else None)
        yield "users", u.key, codec.encode_user(u)
    for r in range(n_rooms):
        room = Room(f"room{r:06d}", f"Room {r}", True, f"user{r % max(n_users, 1):07d}", 3, NOW)
        yield "rooms", room.id, codec.encode_room(room)
    for j in range(n_members):
        room_id = f"room{j % max(n_rooms, 1):06d}"
        m = Member(room_id, f"user{(j * 7919) % max(n_users, 1):07d}", "member", NOW)
        yield "members", f"{m.room_id}.{m.endpoint}", codec.encode_member(m)
        yield "rooms_by_member", f"{m.endpoint}.{m.room_id}", codec.encode_reverse(m)
    sealed = base64.b64decode("c2VhbGVkLWtleS1ieXRlcy0wMTIzNDU2Nzg5YWJjZGVm")
    for k in range(n_keys):
        room_id = f"room{k % max(n_rooms, 1):06d}"
        sk = SealedKey(room_id, 1 + (k // max(n_rooms, 1)) % 3, f"user{(k * 31) % max(n_users, 1):07d}",
                       sealed, NOW)
        yield "room_keys", f"{sk.room_id}.{sk.epoch}.{sk.endpoint}", codec.encode_key(sk)


async def seed(url: str, args: argparse.Namespace) -> dict[str, int]:
    s = await KvStore.create(NatsSpec(url=url, replicas=1, op_timeout=10))
    await s.close()
    nc = await nats.connect(url, pending_size=64 * 1024 * 1024)
    start = time.monotonic()
    sent = 0
    for bucket, key, value in records(args.users, args.rooms, args.members, args.keys):
        await nc.publish(f"$KV.{bucket}.{key}", value)
        sent += 1
        if sent % 20000 == 0:
            await nc.flush(timeout=30)
    await nc.flush(timeout=30)
    js = nc.jetstream()
    counts = {}
    while True:  # core publishes are stored asynchronously: wait until all are in
        counts = {b: (await js.stream_info(f"KV_{b}")).state.messages for b in BUCKETS}
        if sum(counts.values()) >= sent or time.monotonic() - start > 120:
            break
        await asyncio.sleep(0.2)
    took = time.monotonic() - start
    print(f"seeded {sum(counts.values())} messages in {took:.1f}s ({sum(counts.values()) / took:,.0f}/s): {counts}")
    await nc.close()
    return counts


async def bare_ordered(url: str) -> tuple[int, float]:
    """The floor: nats-py's own ordered push consumer, last per subject, only counting."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    total = 0
    start = time.monotonic()
    for b in BUCKETS:
        done = asyncio.get_running_loop().create_future()
        n = 0

        async def cb(msg, done=done):  # this bucket's future
            nonlocal n
            n += 1
            if msg.reply.endswith(".0") and not done.done():
                done.set_result(None)

        sub = await js.subscribe(f"$KV.{b}.>", ordered_consumer=True, cb=cb,
                                 deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
                                 pending_msgs_limit=-1, pending_bytes_limit=-1)
        await asyncio.wait_for(done, 120)
        await sub.unsubscribe()
        total += n
    took = time.monotonic() - start
    await nc.close()
    return total, took


async def export(url: str) -> tuple[int, int, float]:
    s = await KvStore.open(NatsSpec(url=url, read_only=True, op_timeout=10))
    start = time.monotonic()
    snap = await s.export_snapshot()
    took = time.monotonic() - start
    await s.close()
    assert not snap.invalid, snap.invalid[:3]
    # messages streamed = records + the reverse index rows
    return snap.record_count, snap.record_count + len(snap.members), took


async def auth_latency(url: str, replicas: int, calls: int) -> list[float]:
    s = await KvStore.create(NatsSpec(url=url, replicas=replicas, bucket_prefix=f"lat{replicas}_"))
    await s.add_user("alice")
    for _ in range(20):  # warm up
        await s.is_authorized("alice")
    lat = []
    allowed = 0
    for _ in range(calls):
        t = time.perf_counter()
        allowed += await s.is_authorized("alice")
        lat.append(time.perf_counter() - t)
    await s.close()
    if allowed != calls:
        print(f"  note: R{replicas}: {calls - allowed} of {calls} calls denied (fail closed)")
    return lat


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


async def main_async(args: argparse.Namespace, one: LocalNats) -> None:
    await wait_jetstream(one.url)
    await seed(one.url, args)
    export_runs, bare_runs = [], []
    for _ in range(args.runs):  # interleaved, so machine noise hits both alike
        bare_runs.append(await bare_ordered(one.url))
        export_runs.append(await export(one.url))
    # the median run of each (shared, noisy machines)
    n_bare, t_bare = sorted(bare_runs, key=lambda r: r[1])[len(bare_runs) // 2]
    n_rec, n_msgs, t_exp = sorted(export_runs, key=lambda r: r[2])[len(export_runs) // 2]
    print(f"runs: bare {', '.join(f'{r[1]:.2f}s' for r in bare_runs)}; "
          f"export {', '.join(f'{r[2]:.2f}s' for r in export_runs)}")
    print(f"bare ordered consumer: {n_bare} msgs in {t_bare:.2f}s = {n_bare / t_bare:,.0f} msgs/s")
    print(f"export_snapshot:       {n_rec} records ({n_msgs} msgs) in {t_exp:.2f}s = "
          f"{n_rec / t_exp:,.0f} records/s, {n_msgs / t_exp:,.0f} msgs/s")
    print(f"ratio export/bare (msgs/s): {(n_msgs / t_exp) / (n_bare / t_bare):.2f}")
    lat1 = await auth_latency(one.url, 1, args.auth_calls)
    print(f"is_authorized R1: p50 {pct(lat1, .5) * 1000:.2f} ms, p99 {pct(lat1, .99) * 1000:.2f} ms "
          f"({len(lat1)} calls)")


async def cluster_latency(args: argparse.Namespace, three: LocalNats) -> None:
    await wait_jetstream(three.url)
    lat3 = await auth_latency(three.url, 3, args.auth_calls)
    print(f"is_authorized R3: p50 {pct(lat3, .5) * 1000:.2f} ms, p99 {pct(lat3, .99) * 1000:.2f} ms, "
          f"max {max(lat3) * 1000:.0f} ms, mean {statistics.mean(lat3) * 1000:.2f} ms ({len(lat3)} calls)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--rooms", type=int, default=10_000)
    p.add_argument("--members", type=int, default=100_000)
    p.add_argument("--keys", type=int, default=300_000)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--auth-calls", type=int, default=500)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        with LocalNats(f"{d}/one", size=1) as one:
            asyncio.run(main_async(args, one))
        with LocalNats(f"{d}/three", size=3) as three:
            asyncio.run(cluster_latency(args, three))


if __name__ == "__main__":
    main()
