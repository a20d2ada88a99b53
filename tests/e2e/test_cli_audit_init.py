"""`membership-admin audit init` (SPEC section 10) as the real program against real
nats-server processes: a deployment the daemon made (buckets, no audit stream) can revoke
once the migrator has run it, and an existing stream weaker than section 10 is named, by
`audit init` and by every change's output.

The daemon's deployment is made here with the raw client, as the daemon makes it: the five
KV buckets and a user in them, no audit stream.
"""

from __future__ import annotations

import asyncio
import json

import nats
import nats.js.errors
from nats.js.api import RetentionPolicy, StorageType, StreamConfig

from store.kv import BUCKETS
from store.kv.audit_check import audit_stream_config, audit_stream_problems
from tests.helpers import cli, cli_env
from tests.nats_auth import PASSWORDS, secured_server

USER = json.dumps({"key": "mallory", "name": "Mallory", "role": "user", "status": "active",
                   "added_at": 1_700_000_000, "revoked_at": None}, separators=(",", ":")).encode()


def as_user(role: str, url: str, **more: str) -> dict[str, str]:
    return cli_env(NATS_URL=url, NATS_USER=role, NATS_PASSWORD=PASSWORDS[role], **more)


async def _connect(url: str, **auth: str):
    return await nats.connect(url.split(","), **auth)


def daemon_deployment(url: str, prefix: str = "", replicas: int = 1, audit: StreamConfig | None = None,
                      **auth: str) -> None:
    """The five buckets (direct gets on, as the daemon makes them) and one active user;
    an audit stream only when one is given (a stream someone made before this tool)."""
    async def make() -> None:
        nc = await _connect(url, **auth)
        try:
            js = nc.jetstream()
            for b in BUCKETS:
                kv = await js.create_key_value(bucket=prefix + b, replicas=replicas, direct=True)
                if b == "users":
                    await kv.put("mallory", USER)
            if audit is not None:
                await js.add_stream(audit)
        finally:
            await nc.close()

    asyncio.run(make())


def streams(url: str, prefix: str = "", **auth: str) -> dict[str, dict]:
    """The config of the deployment's streams that exist (the five buckets' and the audit
    stream), by name: asked one by one, as a user without the right to list streams can."""
    names = [f"KV_{prefix}{b}" for b in BUCKETS] + [f"{prefix}membership_audit"]

    async def read() -> dict[str, dict]:
        nc = await _connect(url, **auth)
        try:
            js, found = nc.jetstream(), {}
            for name in names:
                try:
                    found[name] = (await js.stream_info(name)).config.as_dict()
                except nats.js.errors.NotFoundError:
                    pass
            return found
        finally:
            await nc.close()

    return asyncio.run(read())


# -- finding 4: a daemon-made deployment ------------------------------------------------------

def test_daemon_made_deployment_can_revoke_after_audit_init(tmp_path):
    node, _ = secured_server(tmp_path / "secured")
    try:
        migrator = as_user("migrator", node.url)
        admin = as_user("admin", node.url)
        daemon_deployment(node.url, user="migrator", password=PASSWORDS["migrator"])
        before = streams(node.url, user="migrator", password=PASSWORDS["migrator"])
        assert "membership_audit" not in before

        # without the stream every change is refused, and the message names the way out
        proc = cli("users", "revoke", "mallory", "--reason", "compromised", env=admin)
        assert proc.returncode == 3 and "audit init" in proc.stderr, proc.stderr
        assert "migrate-to-kv creates" not in proc.stderr
        # the admin's rights do not create streams: refused, naming what, nothing made
        proc = cli("audit", "init", env=admin)
        assert proc.returncode == 4 and "$JS.API.STREAM.CREATE.membership_audit" in proc.stderr, proc.stderr
        assert streams(node.url, user="migrator", password=PASSWORDS["migrator"]) == before

        proc = cli("audit", "init", env=migrator)
        assert proc.returncode == 0 and "created audit stream membership_audit" in proc.stdout, proc.stderr
        after = streams(node.url, user="migrator", password=PASSWORDS["migrator"])
        assert set(after) - set(before) == {"membership_audit"}  # the stream alone
        assert {n: c for n, c in after.items() if n in before} == before  # the buckets untouched
        made = after["membership_audit"]
        assert audit_stream_problems(made, users_replicas=1) == []
        assert (made["storage"], made["deny_delete"], made["deny_purge"], made["num_replicas"]) == (
            "file", True, True, 1)

        # idempotent: the second run finds it good and changes nothing
        proc = cli("audit", "init", env=migrator)
        assert proc.returncode == 0 and "nothing to do" in proc.stdout, proc.stdout
        assert streams(node.url, user="migrator", password=PASSWORDS["migrator"]) == after

        # the compromised account can now be revoked, with its trail
        proc = cli("users", "revoke", "mallory", "--reason", "compromised", env=admin)
        assert proc.returncode == 0 and proc.stdout.startswith("revoked mallory"), proc.stderr
        assert "weak" not in proc.stderr
        assert cli("authorize", "mallory", env=admin).returncode == 1
        trail = [json.loads(line) for line in cli("audit", "--json", env=admin).stdout.splitlines()]
        assert [(e["action"], e["phase"], e["reason"]) for e in trail] == [
            ("revoke_user", "intent", "compromised"), ("revoke_user", "done", "compromised")]
    finally:
        node.stop()


def test_audit_init_on_a_read_only_session_or_without_buckets(nats_server, bucket_prefix):
    url = nats_server.url
    # nothing migrated under this prefix: no stream is made for a deployment that is not there
    proc = cli("audit", "init", "--nats-url", url, "--bucket-prefix", bucket_prefix)
    assert proc.returncode == 3 and "nothing was migrated there" in proc.stderr, proc.stderr
    assert f"{bucket_prefix}membership_audit" not in streams(url, bucket_prefix)
    daemon_deployment(url, bucket_prefix)
    proc = cli("--read-only", "audit", "init", "--nats-url", url, "--bucket-prefix", bucket_prefix)
    assert proc.returncode == 4 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"{bucket_prefix}membership_audit" not in streams(url, bucket_prefix)


# -- finding 5: a weak stream found is named ----------------------------------------------------

def test_a_weak_audit_stream_is_named_and_each_change_says_so(nats_server, bucket_prefix):
    url = nats_server.url
    name = f"{bucket_prefix}membership_audit"
    weak = StreamConfig(name=name, subjects=[f"{name}.>"], storage=StorageType.MEMORY, max_age=3.0,
                        retention=RetentionPolicy.LIMITS, num_replicas=1, deny_delete=False, deny_purge=True)
    daemon_deployment(url, bucket_prefix, audit=weak)
    kv = ("--nats-url", url, "--bucket-prefix", bucket_prefix)

    proc = cli("audit", "init", *kv)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    named = proc.stderr
    assert "memory storage" in named and "max_age 3s" in named and "deny_delete is not set" in named, named
    assert "deny_purge" not in named  # what is right is not named
    assert streams(url, bucket_prefix)[name]["storage"] == "memory"  # checked, never changed

    # changes still proceed (the trail exists), and each one's output says it is weak
    for args, done in ((("users", "revoke", "mallory"), "revoked mallory"),
                       (("users", "reinstate", "mallory"), "reinstated mallory"),
                       (("users", "add", "trent"), "added trent")):
        proc = cli(*args, *kv)
        assert proc.returncode == 0 and proc.stdout.startswith(done), proc.stderr
        assert "audit trail is weak" in proc.stderr and "max_age 3s" in proc.stderr, proc.stderr


def test_the_tools_own_stream_config_is_not_weak_and_each_weakness_is_named():
    good = audit_stream_config("membership_audit", 3)
    assert audit_stream_problems(good, 3) == [] and audit_stream_problems(good, None) == []
    cases = {
        "storage": ("memory", "memory storage"), "retention": ("workqueue", "workqueue retention"),
        "deny_delete": (False, "deny_delete"), "deny_purge": (False, "deny_purge"),
        "max_age": (3_000_000_000, "max_age 3s"), "max_msgs": (1000, "max_msgs 1000"),
        "max_bytes": (1 << 20, "max_bytes"), "max_msgs_per_subject": (5, "max_msgs_per_subject 5"),
        "allow_rollup_hdrs": (True, "rollup"), "allow_msg_ttl": (True, "TTL"),
        "num_replicas": (1, "1 replica(s), fewer than the users bucket's 3"),
    }
    for field, (value, words) in cases.items():
        problems = audit_stream_problems({**good, field: value}, 3)
        assert len(problems) == 1 and words in problems[0], (field, problems)
    # no limit is written -1 or 0 by NATS; a field left out is its default
    assert audit_stream_problems({**good, "max_msgs": 0, "max_bytes": 0}, 3) == []
    assert audit_stream_problems({"storage": "file", "deny_delete": True, "deny_purge": True}, 1) == []
