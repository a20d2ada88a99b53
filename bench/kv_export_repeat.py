"""KV exports over and over: how many hang, how many scans were made again.

    .venv/bin/python bench/kv_export_repeat.py [RUNS]

Seeds 610k messages on a local nats-server (as bench/bench_kv.py does), then exports them
RUNS times (default 20), each bounded by 40 s. Before scans counted only data as progress,
1 export in 20 hung: a consumer the server had stalled sent heartbeats on and on.
"""

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_kv

from store import NatsSpec
from store.dev.local_nats import LocalNats, wait_jetstream
from store.kv import KvStore
from store.kv import scan as scanmod

restarts = []
_orig = scanmod.scan_once
async def counted(*a, **k):
    try:
        return await _orig(*a, **k)
    except (scanmod.Stalled, scanmod.Gap) as e:
        restarts.append(type(e).__name__)
        print("  made again:", type(e).__name__, a[1], flush=True)
        raise


scanmod.scan_once = counted  # counts the scans made again (a bench script may reach in)

async def main(url, runs):
    args = argparse.Namespace(users=100000, rooms=10000, members=100000, keys=300000, auth_calls=10)
    await bench_kv.seed(url, args)
    hangs = 0
    for i in range(runs):
        s = await KvStore.open(NatsSpec(url, replicas=1))
        t = time.perf_counter()
        try:
            await asyncio.wait_for(s.export_snapshot(), 40)
            print(f"run {i}: {time.perf_counter()-t:.2f} s", flush=True)
        except TimeoutError:
            hangs += 1
            print(f"run {i}: HANG", flush=True)
        except Exception as e:
            print(f"run {i}: error {type(e).__name__}: {e}", flush=True)
        await s.close()
    print("hangs", hangs, "of", runs, "restarts", restarts)

with tempfile.TemporaryDirectory() as tmp, LocalNats(tmp) as one:
    asyncio.run(wait_jetstream(one.url))
    asyncio.run(main(one.url, int(sys.argv[1]) if len(sys.argv) > 1 else 20))
