"""TUI fixtures: the demo state seeded into a real SQLite file or real KV buckets."""

from __future__ import annotations

import pytest

from store import NatsSpec, SqliteSpec
from tests.helpers import seed_kv, seed_sqlite


@pytest.fixture(params=["sqlite", "kv"])
async def spec(request: pytest.FixtureRequest, tmp_path, clock, bucket_prefix):
    """A seeded demo store's spec, once per backend (the store itself is opened by the app)."""
    if request.param == "sqlite":
        return await seed_sqlite(tmp_path / "demo.sqlite", clock)
    server = request.getfixturevalue("nats_server")
    kv = NatsSpec(url=server.url, bucket_prefix=bucket_prefix, replicas=1)
    await seed_kv(kv, clock)
    return kv


@pytest.fixture
async def sqlite_spec(tmp_path, clock) -> SqliteSpec:
    return await seed_sqlite(tmp_path / "demo.sqlite", clock)
