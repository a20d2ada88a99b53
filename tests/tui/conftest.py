"""TUI fixtures: the demo state seeded into a real SQLite file or real KV buckets."""

from __future__ import annotations

import pytest

from store import NatsSpec, SqliteSpec, open_store
from store.dev.demo import create_demo_database, seed_demo


async def seed_sqlite(path, clock) -> SqliteSpec:
    await create_demo_database(str(path), clock)
    return SqliteSpec(str(path))


@pytest.fixture(params=["sqlite", "kv"])
async def spec(request: pytest.FixtureRequest, tmp_path, clock, bucket_prefix):
    """A seeded demo store's spec, once per backend (the store itself is opened by the app)."""
    if request.param == "sqlite":
        return await seed_sqlite(tmp_path / "demo.sqlite", clock)
    server = request.getfixturevalue("nats_server")
    kv = NatsSpec(url=server.url, bucket_prefix=bucket_prefix, replicas=1)
    store = await open_store(kv, clock=clock)
    try:
        await seed_demo(store, clock)
    finally:
        await store.close()
    return kv


@pytest.fixture
async def sqlite_spec(tmp_path, clock) -> SqliteSpec:
    return await seed_sqlite(tmp_path / "demo.sqlite", clock)
