"""`health --format nagios|prometheus` as the real program, read back the way the monitoring
systems read them: the Nagios plugin line, perfdata and exit codes; the Prometheus text format
with its reference parser."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from store import NatsSpec
from store.dev.local_nats import free_port
from store.health import DEGRADED, NO_QUORUM, BucketHealth, HealthReport, ProbeResult, ReplicaHealth
from tests.helpers import cli, cli_env, create_buckets, run_sync
from tui.cli.health_formats import nagios, prometheus

NAGIOS_LINE = re.compile(r"^MEMBERSHIP-KV (OK|WARNING|CRITICAL|UNKNOWN) - (.*?)(?: \| (.*))?$")


def perfdata(text: str) -> dict[str, str]:
    """label=value;warn;crit;min pairs of a Nagios perfdata string, by label (the value)."""
    return {label: value.split(";")[0] for label, value in (item.split("=", 1) for item in text.split())}


def metrics(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
def healthy(nats_server, bucket_prefix) -> list[str]:
    run_sync(create_buckets(NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix, replicas=1)))
    return ["--nats-url", nats_server.url, "--bucket-prefix", bucket_prefix]


def test_nagios_healthy_and_unreachable(healthy):
    proc = cli("health", "--format", "nagios", *healthy)
    assert proc.returncode == 0, proc.stderr
    first, *buckets = proc.stdout.splitlines()
    status, _, perf = NAGIOS_LINE.match(first).groups()
    assert status == "OK" and perfdata(perf)["buckets"] == "5" and perfdata(perf)["no_quorum"] == "0"
    assert perfdata(perf)["probe"].endswith("s") and len(buckets) == 5
    down = cli("health", "--format", "nagios", "--nats-url", f"nats://127.0.0.1:{free_port()}", "--op-timeout", "0.5")
    assert down.returncode == 3 and NAGIOS_LINE.match(down.stdout.strip()).group(1) == "UNKNOWN"
    assert down.stderr == ""


def test_prometheus_read_back(healthy, bucket_prefix):
    proc = cli("health", "--format", "prometheus", *healthy)
    assert proc.returncode == 0, proc.stderr
    m = metrics(proc.stdout)
    assert m[("membership_kv_up", ())] == 1 and m[("membership_kv_state", ())] == 0
    users = (("bucket", f"{bucket_prefix}users"),)
    assert m[("membership_kv_bucket_replicas", users)] == 1
    assert m[("membership_kv_bucket_current_peers", users)] == 1
    assert 0 < m[("membership_kv_probe_seconds", ())] < 2 and m[("membership_kv_probe_allowed", ())] == 0
    down = cli("health", "--format", "prometheus", "--nats-url", f"nats://127.0.0.1:{free_port()}",
               "--op-timeout", "0.5")
    assert down.returncode == 3 and metrics(down.stdout) == {("membership_kv_up", ()): 0}


def test_absent_is_critical_and_named_never_a_lost_quorum(nats_server, bucket_prefix):
    """A server without the buckets (SPEC 6): authorizations are denied (CRITICAL, as without
    quorum), and the line says why: nothing migrated there, or the wrong prefix."""
    kv = ("--nats-url", nats_server.url, "--bucket-prefix", bucket_prefix)
    proc = cli("health", "--format", "nagios", *kv)
    assert proc.returncode == 2, proc.stdout
    first = proc.stdout.splitlines()[0]
    status, text, perf = NAGIOS_LINE.match(first).groups()
    assert status == "CRITICAL" and "absent" in text and "nothing migrated here, or the wrong prefix" in text
    assert "quorum" not in proc.stdout and perfdata(perf)["buckets"] == "0"
    prom = cli("health", "--format", "prometheus", *kv)
    assert prom.returncode == 3
    m = metrics(prom.stdout)
    assert m[("membership_kv_up", ())] == 1 and m[("membership_kv_state", ())] == 3
    assert m[("membership_kv_bucket_state", (("bucket", f"{bucket_prefix}users"),))] == 3
    assert m[("membership_kv_probe_allowed", ())] == 0


def test_degraded_and_no_quorum_codes_and_labels():
    """The states a cluster reaches when nodes die (their real reports are tested in
    tests/store/test_health.py), written in both formats."""
    lagging = BucketHealth('we"ird\\bucket', "KV_x", 3, "n1",
                           (ReplicaHealth("n2", "lagging", 7), ReplicaHealth("n3", "current")), DEGRADED)
    dead = BucketHealth("users", "KV_users", 3, None, (ReplicaHealth("n2", "offline"),), NO_QUORUM, "no leader")
    cases = ((DEGRADED, (lagging,), "WARNING", 1), (NO_QUORUM, (lagging, dead), "CRITICAL", 2))
    for state, buckets, word, code in cases:
        report = HealthReport("nats:nats://h:4222", state, buckets, ProbeResult("p", False, "deny", 0.002))
        text, got = nagios(report)
        assert got == code and NAGIOS_LINE.match(text.splitlines()[0]).group(1) == word
        m = metrics(prometheus(report))
        assert m[("membership_kv_state", ())] == {DEGRADED: 1, NO_QUORUM: 2}[state]
        assert m[("membership_kv_replica_lag", (("bucket", 'we"ird\\bucket'), ("replica", "n2")))] == 7
        assert m[("membership_kv_bucket_current_peers", (("bucket", 'we"ird\\bucket'),))] == 2


def test_watch_reports_until_interrupted(healthy):
    """--watch keeps reporting (JSON: a document per line) until Ctrl-C, which ends it with 0."""
    # SIGINT as a terminal's Ctrl-C delivers it: a suite started in the background (nohup,
    # `&` in a script) runs with SIGINT ignored, which a child inherits, and then the watch
    # rightly goes on (it failed so, every time, in a CI run started with `&`)
    proc = subprocess.Popen([sys.executable, "-m", "tui", "health", *healthy, "--watch", "0.2", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    reports = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    while len(reports) < 3 and time.monotonic() < deadline:
        reports.append(json.loads(proc.stdout.readline()))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert [r["overall"] for r in reports] == ["healthy"] * 3
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert cli("health", "--format", "nagios", "--watch", "1", *healthy).returncode == 2
    assert "invalid seconds" in cli("health", "--watch", "0", *healthy).stderr
