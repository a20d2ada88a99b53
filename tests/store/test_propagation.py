"""How far a change has spread (SPEC section 12), on a real 3-node cluster with one replica
paused (SIGSTOP): the change is acknowledged by the quorum, the report says 2/3 and names
the paused node; after SIGCONT every replica has it (3/3). Also `users revoke
--wait-replicated` as the real program: exit 1 naming the node while it is paused, exit 0
once it is back."""

from __future__ import annotations

import contextlib
import os
import signal

import pytest

from store import NatsSpec
from store.kv import KvStore
from store.kv.propagation import replication_of, wait_replicated
from tests.helpers import cli

pytestmark = pytest.mark.cluster


@contextlib.contextmanager
def paused(node):
    """SIGSTOP the node's process (it keeps its sockets, answers nothing), SIGCONT after."""
    os.kill(node.proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(node.proc.pid, signal.SIGCONT)


async def test_a_paused_replica_is_named_until_it_has_the_change(cluster, bucket_prefix):
    spec = NatsSpec(url=cluster.url, bucket_prefix=bucket_prefix, replicas=3, op_timeout=5.0)
    made = await KvStore.create(spec)
    try:
        await made.add_user("alice")
        await made.add_user("bob")
        users_leader = (await made.stream_info("users"))["cluster"]["leader"]
        audit_leader = (await made.audit.info() or {})["cluster"]["leader"]
    finally:
        await made.close()
    # the tool talks to the users stream's leader; the node paused leads neither stream the
    # change writes (a paused leader would stop the change itself, not its spread)
    by_name = {n.name: n for n in cluster.nodes}
    url = by_name[users_leader].url
    victim = next(n for n in cluster.nodes if n.name not in (users_leader, audit_leader))
    store = await KvStore.open(NatsSpec(url=url, bucket_prefix=bucket_prefix, op_timeout=5.0))
    try:
        before = await wait_replicated(store.replication, 10.0)
        assert before is not None and before.complete and before.text() == "3/3 replicas"
        with paused(victim):
            await store.revoke_user("alice")
            rep = await store.replication()
            assert rep is not None and not rep.complete
            assert len(rep.have) == 2 and [name for name, _ in rep.behind] == [victim.name]
            assert rep.text().startswith(f"2/3 replicas ({victim.name} behind: ")
            # waiting does not help while it is paused: still behind when the time is up
            assert not (await wait_replicated(store.replication, 0.5, rep.target)).complete
            # the program says the same: exit 1 naming the node
            proc = cli("users", "revoke", "bob", "--nats-url", url, "--bucket-prefix", bucket_prefix,
                       "--wait-replicated", "1", "--op-timeout", "5")
            assert proc.returncode == 1, proc.stderr
            assert "revoked bob: 2/3 replicas" in proc.stdout
            assert f"not on every replica after 1s: {victim.name}" in proc.stderr
        after = await wait_replicated(store.replication, 15.0, rep.target)
        assert after is not None and after.complete and after.text() == "3/3 replicas"
        proc = cli("users", "reinstate", "bob", "--nats-url", url, "--bucket-prefix", bucket_prefix,
                   "--wait-replicated", "15", "--op-timeout", "5")
        assert proc.returncode == 0, proc.stderr
        assert "reinstated bob: 3/3 replicas" in proc.stdout
    finally:
        await store.close()


def test_replicas_are_counted_from_the_leaders_stream_info():
    info = {"config": {"num_replicas": 3}, "state": {"last_seq": 10},
            "cluster": {"leader": "n1", "replicas": [
                {"name": "n2", "current": True, "active": 200_000_000, "lag": 0},
                {"name": "n3", "current": False, "active": 400_000_000, "lag": 2}]}}
    rep = replication_of(info)
    assert (rep.target, rep.have, rep.behind) == (10, ("n1", "n2"), (("n3", "lag 2"),))
    # n3 has sequence 8 already: a change at 8 is on every replica
    assert replication_of(info, 8).complete
    # not heard from for a while: behind, whatever its lag says
    info["cluster"]["replicas"][1] = {"name": "n3", "current": True, "active": 9_000_000_000, "lag": 0}
    assert replication_of(info).behind == (("n3", "not heard from for 9.0s"),)
    single = replication_of({"config": {"num_replicas": 1}, "state": {"last_seq": 3}, "cluster": {}})
    assert single.complete and single.text() == "1/1 replicas"
