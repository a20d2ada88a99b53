"""The `store` fixture: every contract test runs once per backend."""

from __future__ import annotations

import pytest

from store import NatsSpec, SqliteSpec, open_store

BACKENDS = ["sqlite", "kv"]


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path, clock, bucket_prefix):
    if request.param == "sqlite":
        from store.sqlite import create_database

        path = tmp_path / "membership.sqlite"
        create_database(str(path))
        spec = SqliteSpec(str(path))
    else:
        server = request.getfixturevalue("nats_server")
        spec = NatsSpec(url=server.url, bucket_prefix=bucket_prefix, replicas=1)
    s = await open_store(spec, clock=clock)
    try:
        yield s
    finally:
        await s.close()
