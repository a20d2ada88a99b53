"""Posture (SPEC sections 6 and 12) against buckets and streams made weak on purpose on real
servers: each finding is made, then cleared by the change it names."""

from __future__ import annotations

import dataclasses

import nats
import pytest

from store import NatsSpec
from store.dev.local_nats import NatsNode, find_nats_server, free_port
from store.health import check_health
from store.kv import KvStore
from store.posture import ServerFacts, audit_findings, server_findings
from tests.helpers import create_buckets


async def findings(spec: NatsSpec, monitor: tuple[str, ...] = ()) -> set[tuple[str, str]]:
    report = await check_health(spec, monitor=monitor)
    assert report.error is None, report.error
    return {(f.check, f.subject) for f in report.posture}


async def edit(url: str, stream: str, **changes) -> None:
    """Change a stream's configuration as an operator would (nats stream edit)."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        cfg = (await js.stream_info(stream)).config
        await js.update_stream(dataclasses.replace(cfg, **changes))
    finally:
        await nc.close()


async def test_history_audit_and_mirror_findings_made_and_cleared(nats_server, bucket_prefix):
    spec = NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    await create_buckets(spec)
    users, audit = f"KV_{bucket_prefix}users", f"{bucket_prefix}membership_audit"
    # the tool's own buckets and audit stream: nothing to say (one server: R1 is all there is)
    assert await findings(spec) == set()
    # users keeping one revision
    await edit(nats_server.url, users, max_msgs_per_subject=1)
    assert ("history", f"{bucket_prefix}users") in await findings(spec)
    await edit(nats_server.url, users, max_msgs_per_subject=16)
    assert ("history", f"{bucket_prefix}users") not in await findings(spec)
    # an audit stream weaker than SPEC 10: no deny_delete/deny_purge, events aged out, a count limit
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await js.delete_stream(audit)
        assert ("audit", audit) in await findings(spec)  # missing: changes are refused
        await js.add_stream(name=audit, subjects=[f"{audit}.>"], max_age=86400, max_msgs=1000)
        report = await check_health(spec)
        wrong = [f.problem for f in report.posture if f.check == "audit"]
        assert any("deny_delete" in w for w in wrong) and any("deny_purge" in w for w in wrong)
        assert any("max_age 86400s" in w for w in wrong) and any("max_msgs 1000" in w for w in wrong)
        assert all(f.fix.startswith(f"nats stream edit {audit}") for f in report.posture if f.check == "audit")
        await edit(nats_server.url, audit, deny_delete=True, deny_purge=True, max_age=0, max_msgs=-1)
        assert ("audit", audit) not in await findings(spec)
        # a mirror of users that answers direct gets in its name
        mirror = f"{bucket_prefix}users_copy"
        await js.add_stream(name=mirror, mirror=nats.js.api.StreamSource(name=users), mirror_direct=True)
        try:
            report = await check_health(spec)
            hit = [f for f in report.posture if f.check == "mirror"]
            assert [f.subject for f in hit] == [f"{bucket_prefix}users"] and mirror in hit[0].problem
        finally:
            await js.delete_stream(mirror)
        assert not {c for c, _ in await findings(spec)}
    finally:
        await nc.close()


@pytest.mark.cluster
async def test_fewer_than_3_replicas_on_a_3_node_cluster(cluster, bucket_prefix):
    spec = NatsSpec(url=cluster.url, bucket_prefix=bucket_prefix, replicas=1)
    await create_buckets(spec)
    try:
        got = await findings(spec)
        assert {("replicas", f"{bucket_prefix}{b}") for b in ("users", "rooms", "members")} <= got
        await edit(cluster.nodes[0].url, f"KV_{bucket_prefix}users", num_replicas=3)
        got = await findings(spec)
        assert ("replicas", f"{bucket_prefix}users") not in got and ("replicas", f"{bucket_prefix}rooms") in got
    finally:
        store = await KvStore.open(spec)
        try:
            for b in ("rooms", "members", "rooms_by_member", "room_keys", "users"):
                await store.js.delete_key_value(store.bucket(b))
            await store.js.delete_stream(store.audit.name)
        finally:
            await store.close()


def node_with_monitor(tmp_path, name: str, sync: str | None) -> NatsNode:
    conf = tmp_path / f"{name}.conf"
    conf.write_text("jetstream {" + (f" sync_interval: {sync}" if sync else "") + " }\n")
    node = NatsNode(name, free_port(), tmp_path / name, ["-m", str(free_port()), "-c", str(conf)])
    binary = find_nats_server()
    assert binary
    node.start(binary)
    return node


async def test_disk_sync_seen_through_the_monitoring_port(tmp_path, bucket_prefix):
    for sync, expect in ((None, True), ("always", False)):
        node = node_with_monitor(tmp_path, f"sync{sync or 'default'}", sync)
        try:
            monitor = f"http://127.0.0.1:{node.extra_args[1]}"
            from store.dev.local_nats import wait_jetstream

            await wait_jetstream(node.url)
            spec = NatsSpec(url=node.url, bucket_prefix=bucket_prefix, replicas=1)
            await create_buckets(spec)
            report = await check_health(spec, monitor=(monitor,))
            sync_findings = [f for f in report.posture if f.check == "sync"]
            assert bool(sync_findings) is expect, report.posture
            if expect:
                assert sync_findings[0].subject == node.name and "every 120s" in sync_findings[0].problem
                assert "sync_interval: always" in sync_findings[0].fix
            # without the monitoring URL the sync is not visible: said, not guessed
            blind = await check_health(spec)
            assert not [f for f in blind.posture if f.check == "sync"]
            assert any("disk sync not visible" in n for n in blind.posture_notes)
        finally:
            node.stop()


def test_server_versions_before_the_crash_fix():
    old = server_findings([ServerFacts("n1", "2.10.22"), ServerFacts("n2", "2.10.23"), ServerFacts("n3", "v2.9.1")])
    assert [(f.check, f.subject) for f in old] == [("version", "n1"), ("version", "n3")]
    assert "2.10.23" in old[0].fix
    assert server_findings([ServerFacts("n1", "2.12.1", 120.0, False)])[0].check == "sync"
    assert server_findings([ServerFacts("n1", "2.12.1", 120.0, True)]) == []


def test_audit_replicas_below_the_users_bucket():
    info = {"config": {"deny_delete": True, "deny_purge": True, "storage": "file", "max_age": 0,
                       "max_msgs": -1, "max_bytes": -1, "num_replicas": 1}}
    assert audit_findings("membership_audit", info, 1) == []
    weak = audit_findings("membership_audit", info, 3)
    assert len(weak) == 1 and "fewer than the users bucket's 3" in weak[0].problem
