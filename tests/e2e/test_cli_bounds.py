"""Bounds of the command line (SPEC 7, issue 21 finding 7): `authorize` answers within
--op-timeout plus half a second in all, connecting included, also on a real cluster that
lost its quorum; --bucket-prefix is validated (bad input, exit 2, one line, never a
monitoring CRITICAL); SIGTERM stops a command as Ctrl-C does (exit 143, one line)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import pytest

from store import NatsSpec
from tests.helpers import ROOT, cli, cli_env, create_buckets
from tui.cli import main

#: SPEC 7: authorize's answer, connecting included, within --op-timeout plus this
SLACK = 0.5


async def users_with_bob(spec: NatsSpec) -> tuple[str, list[str]]:
    """R3 buckets with bob active; the users stream's leader and its other replicas."""
    import nats

    from store import open_store

    await create_buckets(spec)
    store = await open_store(spec)
    try:
        await store.add_user("bob")
    finally:
        await store.close()
    nc = await nats.connect(spec.url.split(","))
    try:
        info = await nc.jetstream().stream_info(f"KV_{spec.bucket_prefix}users")
        return info.cluster.leader, sorted(r.name for r in info.cluster.replicas)
    finally:
        await nc.close()


def timed_authorize(capsys, *args: str) -> tuple[int, str, float]:
    started = time.monotonic()
    code = main(["authorize", "bob", *args])
    took = time.monotonic() - started
    return code, capsys.readouterr().out, took


def test_authorize_answers_within_its_bound_without_quorum(cluster, bucket_prefix, capsys):
    op = 1.0
    spec = NatsSpec(cluster.url, bucket_prefix=bucket_prefix, replicas=3)
    leader, followers = asyncio.run(users_with_bob(spec))
    names = [n.name for n in cluster.nodes]
    args = ("--nats-url", cluster.url, "--bucket-prefix", bucket_prefix, "--op-timeout", f"{op:g}")
    code, out, _ = timed_authorize(capsys, *args)
    assert code == 0 and out.startswith("allow"), out
    # the leader and one follower gone: the survivor has no leader to ask, every request
    # waits out its timeout (the slow way to lose a quorum)
    survivor = followers[1]
    for name in (leader, followers[0]):
        cluster.kill(names.index(name))
    only_survivor = ("--nats-url", cluster.nodes[names.index(survivor)].url) + args[2:]
    for _ in range(3):
        code, out, took = timed_authorize(capsys, *only_survivor)
        assert code == 1 and out.startswith("deny"), out
        assert took <= op + SLACK, f"authorize took {took:.2f}s without quorum (bound {op + SLACK:g}s)"


def test_authorize_against_nothing_listening_is_a_deny_within_the_bound(capsys):
    from store.dev.local_nats import free_port

    code, out, took = timed_authorize(capsys, "--nats-url", f"nats://127.0.0.1:{free_port()}",
                                      "--op-timeout", "1")
    assert code == 1 and out.startswith("deny"), out
    assert took <= 1 + SLACK, took


@pytest.mark.parametrize("prefix", ['a"b', "a.b", "x*", "a>", "a\nb", "a b", "x" * 33, "é"])
def test_a_bad_bucket_prefix_is_bad_input(prefix):
    for args in (("users", "list"), ("health",), ("health", "--format", "nagios"), ("authorize", "bob")):
        proc = cli(*args, "--nats-url", "nats://127.0.0.1:1", "--bucket-prefix", prefix)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "invalid bucket prefix" in proc.stderr, proc.stderr
        assert "CRITICAL" not in proc.stdout and "UNKNOWN" not in proc.stdout


def test_the_longest_and_the_empty_prefix_are_valid(nats_server):
    for prefix in ("x" * 32, ""):
        proc = cli("users", "list", "--nats-url", nats_server.url, "--bucket-prefix", prefix)
        assert "invalid bucket prefix" not in proc.stderr, proc.stderr


def test_sigterm_stops_a_command_like_ctrl_c(tmp_path):
    db = str(tmp_path / "m.sqlite")
    assert cli("init-db", db).returncode == 0
    assert cli("users", "add", "bob", "--db", db).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "tui", "audit", "--follow", "--json", "--db", db], cwd=ROOT,
                            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert '"add_user"' in proc.stdout.readline()  # following: the loop runs
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, (proc.returncode, err)
    assert err == "membership-admin: terminated (SIGTERM)\n", err
    assert cli("users", "list", "--db", db, "--format", "tsv").returncode == 0  # the file is fine
