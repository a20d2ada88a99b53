"""Shared fixtures: a frozen clock, real nats-server processes on 127.0.0.1, fresh databases."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import uuid

import nats
import pytest

from store.dev.demo import DEMO_NOW, FixedClock
from store.dev.local_nats import LocalNats, wait_jetstream
from store.kv import BUCKETS

FIXED_NOW = DEMO_NOW  # 2026-01-01T00:00:00Z


@pytest.fixture
def clock() -> FixedClock:
    """A clock the test moves by hand, so timestamps are known and snapshots stable."""
    return FixedClock()


_prefixes = itertools.count(1)


@pytest.fixture
def bucket_prefix() -> str:
    """A bucket prefix of this test's own, so tests share one server without sharing state."""
    return f"t{next(_prefixes)}{uuid.uuid4().hex[:6]}_"


def run_sync(coro) -> None:
    """asyncio.run in a thread of its own: sync fixtures may be set up (via
    request.getfixturevalue) from inside an async fixture's running loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory):
    """One JetStream node for the whole session; isolate tests with bucket_prefix."""
    with LocalNats(tmp_path_factory.mktemp("nats1"), size=1) as server:
        run_sync(wait_jetstream(server.url))
        yield server


@pytest.fixture(scope="session")
def nats_cluster(tmp_path_factory: pytest.TempPathFactory):
    """A 3-node JetStream cluster for the session. Tests that kill nodes restart them."""
    with LocalNats(tmp_path_factory.mktemp("nats3"), size=3) as cluster:
        run_sync(wait_jetstream(cluster.url))
        yield cluster


@pytest.fixture
def cluster(nats_cluster: LocalNats):
    """The session cluster, with every node running again after the test."""
    yield nats_cluster
    for i, node in enumerate(nats_cluster.nodes):
        if not node.running:
            nats_cluster.restart(i)
    run_sync(wait_jetstream(nats_cluster.url))


async def daemon_buckets(cluster_url: str, prefix: str):
    """The five buckets made R3 with direct gets, as the daemon makes them, and the raw
    client (nc, js) that made them: the caller closes nc."""
    async def quiet(_e):  # a killed node makes a raw client log EOFs otherwise
        pass

    nc = await nats.connect(cluster_url.split(","), error_cb=quiet)
    js = nc.jetstream()
    for b in BUCKETS:
        await js.create_key_value(bucket=prefix + b, replicas=3, direct=True)
    return nc, js
