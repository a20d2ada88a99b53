"""The `store` fixture: every contract test runs once per backend."""

from __future__ import annotations

import pytest

from store import NatsSpec, SqliteSpec, open_store
from tests.helpers import create_buckets, run_sync

BACKENDS = ["sqlite", "kv"]


@pytest.fixture(params=BACKENDS)
def store_spec(request: pytest.FixtureRequest, tmp_path, bucket_prefix):
    """Sync on purpose: the session nats_server fixture starts with asyncio.run, which
    cannot run inside the event loop of an async fixture."""
    if request.param == "sqlite":
        from store.sqlite_file import create_database

        path = tmp_path / "membership.sqlite"
        create_database(str(path))
        return SqliteSpec(str(path))
    server = request.getfixturevalue("nats_server")
    spec = NatsSpec(url=server.url, bucket_prefix=bucket_prefix, replicas=1)
    run_sync(create_buckets(spec))  # the KV side of create_database
    return spec


@pytest.fixture
async def store(store_spec, clock):
    s = await open_store(store_spec, clock=clock)
    try:
        yield s
    finally:
        await s.close()
