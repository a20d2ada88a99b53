"""Shared fixtures: a clock moved by hand, real nats-server processes on 127.0.0.1, bucket
prefixes that keep tests apart. Plain helpers are in tests/helpers.py."""

from __future__ import annotations

import itertools
import os
import uuid

import pytest

from store.dev.local_nats import LocalNats, wait_jetstream
from tests.helpers import FixedClock, run_sync


@pytest.fixture(autouse=True)
def no_operator_settings(monkeypatch, tmp_path_factory) -> None:
    """Code under test never reads the developer's NATS_* variables, natscli contexts or
    config.toml, nor keeps its backends opened among the developer's: a test that wants
    them sets its own."""
    for name in [n for n in os.environ if n.startswith("NATS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture
def clock() -> FixedClock:
    """A clock the test moves by hand, so timestamps are known and snapshots stable."""
    return FixedClock()


_prefixes = itertools.count(1)


@pytest.fixture
def bucket_prefix() -> str:
    """A bucket prefix of this test's own, so tests share one server without sharing state."""
    return f"t{next(_prefixes)}{uuid.uuid4().hex[:6]}_"


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
