"""Benchmark of the migration SQLite -> JetStream KV at R1 (one node) and R3 (3-node cluster).

Seeds 100k users, 10k rooms, 100k members and 1M sealed keys (times --scale) with
store.dev.seed, then per replication factor, on a fresh local nats-server:
  1. a bare pipelined publish of the same records (same subjects layout, same payload
     sizes, payloads encoded beforehand) into a stream of the same kind: the ceiling;
  2. the real migration (backup, export, import, parity) into the KV buckets.
Prints records/s of both, their ratio, and the phase times of the migration.

    .venv/bin/python bench/bench_migrate.py [--scale 0.1] [--replicas 1,3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nats

from store import NatsSpec, SqliteSpec, open_store
from store.dev.local_nats import LocalNats, wait_jetstream
from store.dev.seed import seed_database
from store.kv.writer import WINDOW
from store.layout import WRITE_GROUPS
from store.migrate import migrate


async def bare_publish(url: str, records: list[tuple[str, bytes]], replicas: int,
                       window: int = WINDOW) -> float:
    """Records/s of a bare pipelined publish with `window` acks outstanding."""
    nc = await nats.connect(url.split(","))
    js = nc.jetstream(timeout=30)
    await js.add_stream(name="BARE", subjects=["bare.>"], num_replicas=replicas,
                        max_msgs_per_subject=1, storage="file")
    inbox = nc.new_inbox() + "."
    state = {"out": 0, "acked": 0, "errors": 0}
    room = asyncio.Event()
    low = window * 3 // 4

    async def on_ack(msg) -> None:
        state["out"] -= 1
        state["acked"] += 1
        if b'"error"' in msg.data or not msg.data:
            state["errors"] += 1
        if state["out"] <= low or state["out"] == 0:
            room.set()

    sub = await nc.subscribe(inbox + "*", cb=on_ack)
    t0 = time.perf_counter()
    for i, (subject, payload) in enumerate(records):
        if state["out"] >= window:
            room.clear()
            await room.wait()
        state["out"] += 1
        await nc.publish(subject, payload, reply=f"{inbox}{i}")
    await nc.flush()
    while state["out"] > 0:
        room.clear()
        await asyncio.wait_for(room.wait(), 30)
    seconds = time.perf_counter() - t0
    await sub.unsubscribe()
    await js.delete_stream("BARE")
    await nc.close()
    if state["errors"]:
        print(f"  (bare publish: {state['errors']} error acks)")
    return len(records) / seconds


async def run_one(db: str, replicas: int, base: Path) -> None:
    size = 1 if replicas == 1 else 3
    with LocalNats(base / f"r{replicas}", size=size) as server:
        await wait_jetstream(server.url)
        # the same records the migration writes, payloads encoded up front
        src = await open_store(SqliteSpec(db))
        snap = await src.export_snapshot()
        await src.close()
        records = [(f"bare.{b.name}.{k}", v) for group in WRITE_GROUPS for b in group
                   for k, v in b.rows(snap)]
        del snap
        bare = await bare_publish(server.url, records, replicas)
        n = len(records)
        del records

        phases: dict[str, float] = {}
        report = None
        async for ev in migrate(SqliteSpec(db), NatsSpec(server.url, replicas=replicas, op_timeout=5.0)):
            phases.setdefault(ev.phase, ev.elapsed)
            if ev.phase == "failed":
                print(f"R{replicas}: migration failed: {ev.message}")
                return
            report = ev.report or report
        assert report is not None
        order = [p for p in ("connect", "backup", "export", "import", "parity", "done") if p in phases]
        spans = {p: phases[order[i + 1]] - phases[p] for i, p in enumerate(order[:-1])}
        print(f"R{replicas} ({size} node{'s' if size > 1 else ''}): {n} records")
        print(f"  bare pipelined publish : {bare:>10,.0f} records/s")
        print(f"  migration import       : {report.rate:>10,.0f} records/s  "
              f"ratio {report.rate / bare:.2f}  ({report.retries} retries)")
        print(f"  migration total        : {report.duration:>10.2f} s  (with backup and parity; "
              + ", ".join(f"{p} {s:.2f}s" for p, s in spans.items()) + ")")
        print(f"  parity                 : {'identical' if report.identical else 'DIFFERENT'}; "
              f"backup {report.backup.size if report.backup else 0:,} bytes verified="
              f"{report.backup.verified if report.backup else None}")


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the full data set")
    p.add_argument("--replicas", default="1,3", help="comma-separated replication factors")
    args = p.parse_args()
    rooms = max(1, int(10_000 * args.scale))
    users = max(10, int(100_000 * args.scale))
    with tempfile.TemporaryDirectory(prefix="bench-migrate-") as tmp:
        base = Path(tmp)
        db = str(base / "bench.sqlite")
        counts = seed_database(db, rooms=rooms, users=users, members_per_room=10, epochs=10)
        print(f"seeded {counts}")
        for r in (int(x) for x in args.replicas.split(",")):
            await run_one(db, r, base)


if __name__ == "__main__":
    asyncio.run(main())
