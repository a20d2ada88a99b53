"""Fail-closed authorization on a real 3-node cluster: SIGKILL nodes, watch the answers.

Buckets are R3 and created the way the daemon does (direct gets allowed), so a decision
read from any replica would still answer after the quorum is gone: the store must not.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from store import AlreadyExists, InvalidInput, NatsSpec, Unavailable
from store.dev.local_nats import NatsNode, find_nats_server, free_port
from store.health import DEGRADED, NO_QUORUM, check_health
from store.kv import KvStore
from tests.helpers import daemon_buckets

OP = 2.0  # the store's op_timeout
MARGIN = 0.5


@pytest.fixture
async def r3(cluster, bucket_prefix):
    """A store on daemon-made R3 buckets, with alice (active admin) and bob (revoked)."""
    nc, js = await daemon_buckets(cluster.url, bucket_prefix)
    s = await KvStore.open(NatsSpec(url=cluster.url, bucket_prefix=bucket_prefix, op_timeout=OP))
    await s.add_user("alice", "Alice", "admin")
    await s.add_user("bob")
    await s.revoke_user("bob")
    try:
        yield s, js
    finally:
        await s.close()
        await nc.close()


async def users_leader(js, store) -> tuple[str, list[str]]:
    info = await js.stream_info(store.stream("users"))
    return info.cluster.leader, sorted(r.name for r in info.cluster.replicas)


def index(cluster, name: str) -> int:
    return [n.name for n in cluster.nodes].index(name)


async def timed(coro) -> tuple[bool, float]:
    start = time.monotonic()
    result = await coro
    return result, time.monotonic() - start


async def assert_denies_after_kill(store, killed_at: float, watch: float = 3.0) -> None:
    """Every call is bounded; every call started op_timeout after the kill denies."""
    calls = 0
    while time.monotonic() < killed_at + OP + watch:
        started = time.monotonic()
        for fn in (store.is_authorized, store.is_admin):
            ok, took = await timed(fn("alice"))
            assert took <= OP + MARGIN, f"{fn.__name__} took {took:.2f}s"
            if started >= killed_at + OP:
                assert ok is False, f"{fn.__name__} admitted {started - killed_at:.2f}s after the kill"
                calls += 1
        await asyncio.sleep(0.1)
    assert calls >= 2


async def assert_recovers(store, cluster, killed: list[int]) -> None:
    for i in killed:
        cluster.restart(i)
    deadline = time.monotonic() + 30
    while not await store.is_authorized("alice"):
        assert time.monotonic() < deadline, "never allowed again after the restart"
        await asyncio.sleep(0.2)
    assert await store.is_admin("alice") is True
    assert await store.is_authorized("bob") is False  # revoked stays revoked


async def test_kill_two_survivor_is_leader(cluster, r3):
    store, js = r3
    assert await store.is_authorized("alice") and await store.is_admin("alice")
    assert not await store.is_authorized("bob")
    _, followers = await users_leader(js, store)
    killed = [index(cluster, f) for f in followers]
    for i in killed:
        cluster.kill(i)
    killed_at = time.monotonic()
    await assert_denies_after_kill(store, killed_at)
    # a write cannot be confirmed without a quorum: Unavailable within the bound, no hang
    start = time.monotonic()
    with pytest.raises(Unavailable):
        await store.add_user("carol")
    assert time.monotonic() - start <= OP + MARGIN
    # the leader still answers API gets now (it steps down ~10 s after the kill): health
    # must still call it no-quorum from its own view
    report = await check_health(store)
    users = next(b for b in report.buckets if b.bucket == store.bucket("users"))
    assert users.state == NO_QUORUM and report.overall == NO_QUORUM
    assert report.probe is not None and report.probe.allowed is False
    await assert_recovers(store, cluster, killed)
    # the unconfirmed write may have committed once the quorum came back: repeating it
    # is safe and ends in the same state either way. The audit stream is a stream of its
    # own: its leader may be elected after the users bucket's, and until then a change is
    # refused (fail closed), so the repeat is tried until it is accepted or found done
    deadline = time.monotonic() + 15
    while True:
        try:
            await store.add_user("carol")
            break
        except AlreadyExists:
            break
        except Unavailable:
            assert time.monotonic() < deadline, "the audit stream did not recover"
            await asyncio.sleep(0.2)
    deadline = time.monotonic() + 15  # read from the leader, which may still be changing
    while not await store.is_authorized("carol"):
        assert time.monotonic() < deadline, "the repeated write did not converge"
        await asyncio.sleep(0.2)


async def test_kill_two_survivor_is_follower(cluster, r3):
    store, js = r3
    assert await store.is_authorized("alice")
    leader, followers = await users_leader(js, store)
    killed = [index(cluster, leader), index(cluster, followers[0])]
    for i in killed:
        cluster.kill(i)
    killed_at = time.monotonic()
    await assert_denies_after_kill(store, killed_at)
    report = await check_health(store)
    assert report.overall == NO_QUORUM
    assert next(b for b in report.buckets if b.bucket == store.bucket("users")).state == NO_QUORUM
    await assert_recovers(store, cluster, killed)


async def test_kill_one_is_degraded_and_still_authorizes(cluster, r3):
    store, js = r3
    leader, followers = await users_leader(js, store)
    killed = index(cluster, followers[0])
    cluster.kill(killed)
    # the decision keeps working on the remaining quorum
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        ok, took = await timed(store.is_authorized("alice"))
        assert ok is True and took <= OP + MARGIN
        assert await store.is_authorized("bob") is False
        await asyncio.sleep(0.1)
    # buckets whose leader was on the killed node elect a new one, then all are degraded; the
    # killed follower is "lagging" first (not current) and "offline" once its leader has not
    # heard from it for STALE_S: wait for that, not just for degraded (which lagging is too)
    deadline = time.monotonic() + 20
    while True:
        report = await check_health(store)
        users = next(b for b in report.buckets if b.bucket == store.bucket("users"))
        if report.overall == DEGRADED and {p.name: p.state for p in users.peers}.get(followers[0]) == "offline":
            break
        assert time.monotonic() < deadline, f"never degraded with the killed follower offline: {report}"
        await asyncio.sleep(0.5)
    assert users.leader == leader and users.replicas == 3
    assert {p.name: p.state for p in users.peers}[followers[0]] == "offline"
    assert report.probe is not None and report.probe.reason  # a real answer, not a timeout
    # the command line says degraded too: exit 1
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tui", "health", "--nats-url", cluster.url,
        "--bucket-prefix", store.spec.bucket_prefix, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1, (out, err)
    assert b"degraded" in out and b"offline" in out
    assert await store.is_authorized("alice") is True


# -- unreachable and untrusted -----------------------------------------------------

async def test_unreachable_url_is_unavailable_within_the_timeout():
    url = f"nats://127.0.0.1:{free_port()}"
    start = time.monotonic()
    with pytest.raises(Unavailable, match="cannot connect"):
        await KvStore.open(NatsSpec(url=url, op_timeout=1.0))
    assert time.monotonic() - start <= 1.0 + MARGIN


def test_health_cli_unreachable_exits_3():
    url = f"nats://127.0.0.1:{free_port()}"
    proc = subprocess.run([sys.executable, "-m", "tui", "health", "--nats-url", url,
                           "--op-timeout", "0.5"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 3, proc
    # one line on stderr, as every command says an unavailable backend
    assert proc.stdout == "" and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("membership-admin: unavailable: cannot connect")


def _self_signed(d: Path, name: str) -> tuple[str, str]:
    cert, key = d / f"{name}.pem", d / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture(scope="module")
def tls_node(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    cert, key = _self_signed(d, "server")
    other, _ = _self_signed(d, "other")
    node = NatsNode("tls", free_port(), d / "tls", ["--tls", "--tlscert", cert, "--tlskey", key])
    node.start(find_nats_server())
    try:
        yield node, cert, other
    finally:
        node.stop()


async def test_wrong_ca_is_unavailable_within_the_timeout(tls_node):
    node, right_ca, wrong_ca = tls_node
    start = time.monotonic()
    with pytest.raises(Unavailable) as err:
        await KvStore.open(NatsSpec(url=node.url, ca=wrong_ca, op_timeout=1.0))
    assert time.monotonic() - start <= 1.0 + MARGIN
    assert "certificate" in str(err.value).lower() and "\n" not in str(err.value)
    # the right CA connects, so the failure above was the trust, not the server
    s = await KvStore.create(NatsSpec(url=node.url, ca=right_ca, op_timeout=5.0, replicas=1))
    try:
        await s.add_user("alice")
        assert await s.is_authorized("alice") is True
    finally:
        await s.close()
    # a missing CA or credentials file is bad input (exit 2), not an unavailable backend
    with pytest.raises(InvalidInput, match="CA file"):
        await KvStore.open(NatsSpec(url=node.url, ca=os.devnull + "-missing", op_timeout=1.0))
    with pytest.raises(InvalidInput, match="credentials file"):
        await KvStore.open(NatsSpec(url=node.url, creds=os.devnull + "-missing", op_timeout=1.0))
