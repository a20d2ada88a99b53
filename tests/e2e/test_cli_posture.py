"""`health` with posture findings, as the real program: a healthy deployment whose users
bucket keeps one revision is still exit 0 (SPEC 7: the state is healthy) and lists the
finding with its fix; --json carries it; Nagios says WARNING (exit 1); Prometheus has a
gauge for it. Once the bucket is fixed, Nagios says OK again."""

from __future__ import annotations

import json

from store import NatsSpec
from tests.helpers import cli, create_buckets
from tests.tui.test_health_posture import set_history


async def test_posture_in_every_format(nats_server, bucket_prefix):
    spec = NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    await create_buckets(spec)
    users = f"{bucket_prefix}users"
    await set_history(nats_server.url, f"KV_{users}", 1)
    base = ("health", "--nats-url", nats_server.url, "--bucket-prefix", bucket_prefix)
    text = cli(*base)
    assert text.returncode == 0, text.stderr
    assert "posture: 1 finding(s)" in text.stdout
    assert f"history  {users}: keeps 1 revision per user" in text.stdout
    assert f"fix: nats stream edit KV_{users} --max-msgs-per-subject 16" in text.stdout
    doc = json.loads(cli(*base, "--json").stdout)
    assert doc["overall"] == "healthy"
    assert [(f["check"], f["subject"]) for f in doc["posture"]] == [("history", users)]
    nagios = cli(*base, "--format", "nagios")
    assert nagios.returncode == 1 and nagios.stdout.startswith("MEMBERSHIP-KV WARNING - ")
    assert "1 posture finding(s)" in nagios.stdout and "posture_findings=1;1;;0" in nagios.stdout
    prom = cli(*base, "--format", "prometheus").stdout
    assert f'membership_kv_posture_finding{{check="history",subject="{users}"}} 1' in prom.splitlines()
    bad = cli(*base, "--monitor", "file:///etc/passwd")
    assert bad.returncode == 2 and "invalid --monitor URL" in bad.stderr
    await set_history(nats_server.url, f"KV_{users}", 16)
    nagios = cli(*base, "--format", "nagios")
    assert nagios.returncode == 0 and nagios.stdout.startswith("MEMBERSHIP-KV OK - ")
    assert "posture: no findings" in cli(*base).stdout
