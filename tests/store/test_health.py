"""KV quorum health: the judgement of a leader's stream info, and the report on a real server."""

from __future__ import annotations

import asyncio
import json

from store import NatsSpec
from store.health import ABSENT, DEGRADED, HEALTHY, NO_QUORUM, check_health, judge_stream
from store.kv import BUCKETS, KvStore
from tui.cli import main

S = 1_000_000_000  # active is in nanoseconds


def info(replicas: int, leader: str | None, peers: list[dict]) -> dict:
    return {"config": {"num_replicas": replicas},
            "cluster": {"leader": leader, "replicas": peers} if leader or peers else {}}


def peer(name: str, current: bool = True, active: float = 0.2, lag: int = 0, offline: bool = False) -> dict:
    p = {"name": name, "current": current, "active": int(active * S), "lag": lag}
    if offline:
        p["offline"] = True
    return p


def test_judge_stream_states():
    ok = judge_stream("users", "KV_users", info(3, "n1", [peer("n2"), peer("n3", active=1.9)]))
    assert ok.state == HEALTHY and ok.leader == "n1" and ok.replicas == 3
    assert [(p.name, p.state) for p in ok.peers] == [("n2", "current"), ("n3", "current")]

    lag = judge_stream("users", "KV_users", info(3, "n1", [peer("n2"), peer("n3", current=False, lag=7)]))
    assert lag.state == DEGRADED and lag.peers[1].state == "lagging" and lag.peers[1].lag == 7

    # a SIGKILLed follower stays `current` for ~10 s; silence is what gives it away
    silent = judge_stream("users", "KV_users", info(3, "n1", [peer("n2"), peer("n3", active=4.0)]))
    assert silent.state == DEGRADED and silent.peers[1].state == "offline"

    off = judge_stream("users", "KV_users", info(3, "n1", [peer("n2", offline=True), peer("n3", active=5)]))
    assert off.state == NO_QUORUM and "1 of 3" in off.reason

    no_leader = judge_stream("users", "KV_users", info(3, None, [peer("n2"), peer("n3")]))
    assert no_leader.state == NO_QUORUM and no_leader.leader is None

    r5 = judge_stream("users", "KV_users", info(5, "n1", [peer("n2"), peer("n3"), peer("n4", active=9),
                                                          peer("n5", current=False)]))
    assert r5.state == DEGRADED  # 3 of 5 current is a quorum

    single = judge_stream("users", "KV_users", info(1, None, []))
    assert single.state == HEALTHY and single.replicas == 1


async def test_report_on_a_single_node(nats_server, bucket_prefix):
    spec = NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    s = await KvStore.create(spec)
    try:
        await s.add_user("prober")
        report = await check_health(s, probe_key="prober")
        assert report.overall == HEALTHY and report.error is None
        assert [b.bucket for b in report.buckets] == [bucket_prefix + b for b in BUCKETS]
        assert all(b.replicas == 1 and b.state == HEALTHY for b in report.buckets)
        assert report.probe.allowed is True and 0 < report.probe.seconds < spec.op_timeout
        await s.revoke_user("prober")
        report = await check_health(s, probe_key="prober")
        assert report.probe.allowed is False and "revoked" in report.probe.reason
    finally:
        await s.close()
    # from a spec: opening creates nothing; a server without any of the buckets is absent
    # (SPEC 6), each bucket named, the probe a deny; never a lost quorum
    other = NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix + "none_")
    report = await check_health(other)
    assert report.overall == ABSENT and report.error is None
    assert [(b.bucket, b.state) for b in report.buckets] == [(f"{bucket_prefix}none_{b}", ABSENT) for b in BUCKETS]
    assert f"{bucket_prefix}none_users" in report.detail and "do not exist" in report.detail
    assert report.probe is not None and not report.probe.allowed and "denied" in report.probe.reason


async def test_unreachable_report(bucket_prefix):
    from store.dev.local_nats import free_port

    report = await check_health(NatsSpec(url=f"nats://127.0.0.1:{free_port()}", op_timeout=0.5))
    assert report.overall == NO_QUORUM and "cannot connect" in report.error and report.buckets == ()


def test_health_command(nats_server, bucket_prefix, capsys):
    async def seed():
        s = await KvStore.create(NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix, replicas=1))
        await s.add_user("alice")
        await s.close()

    asyncio.run(seed())
    args = ["health", "--nats-url", nats_server.url, "--bucket-prefix", bucket_prefix]
    assert main(args + ["--probe-key", "ALICE"]) == 0
    out = capsys.readouterr().out
    assert "healthy" in out and bucket_prefix + "users" in out
    assert "is_authorized(alice): allow" in out
    # the default probe key is on no allowlist: its deny is the healthy answer, said as one
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "probe is_authorized(health-probe): answered in " in out and "deny: not on the allowlist" in out
    assert "unknown user" not in out and "): deny" not in out  # read as an alarm before
    assert main(args + ["--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["overall"] == "healthy" and len(doc["buckets"]) == 5
    assert doc["probe"]["allowed"] is False and doc["probe"]["key"] == "health-probe"
    # missing buckets: one line naming them, exit 3 (SPEC 9); a bad probe key is bad usage: exit 2
    capsys.readouterr()
    # no bucket at all: absent (SPEC 6), exit 3, never said to be a lost quorum
    absent = ["health", "--nats-url", nats_server.url, "--bucket-prefix", bucket_prefix + "x_"]
    assert main(absent) == 3
    out = capsys.readouterr().out
    assert ": absent (nothing migrated here, or the wrong prefix): authorizations are denied" in out
    assert f"{bucket_prefix}x_users" in out and "quorum" not in out
    assert main([*absent, "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["overall"] == "absent" and {b["state"] for b in doc["buckets"]} == {"absent"}
    assert doc["probe"]["allowed"] is False
    assert main(args + ["--probe-key", "not a key!"]) == 2
    assert "invalid key" in capsys.readouterr().err
