"""The README's viewer and admin cannot delete or create durable consumers (SPEC section 9):
not the daemon's own (`daemon_watch` on KV_users), not any other; and every command they
run still works, because the tool reads with ephemeral consumers it never deletes (the
server removes them) and with the stream leader's message get."""

from __future__ import annotations

import asyncio
import json

import nats
import pytest

from tests.helpers import cli, cli_env
from tests.nats_auth import PASSWORDS, permission_blocks, start_node

DAEMON_PASSWORD = "daemon-Secret-4"
DURABLE = "daemon_watch"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """The README's three roles and the daemon (a user without limits), the buckets migrated,
    and the daemon's durable consumer on KV_users."""
    folder = tmp_path_factory.mktemp("least")
    users = "\n".join(f'{{ user: {role}, password: "{pw}", permissions: ${role.upper()} }}'
                      for role, pw in PASSWORDS.items())
    config = (permission_blocks() + f"accounts {{ APP {{ jetstream: enabled, users: [\n{users}\n"
              f'{{ user: daemon, password: "{DAEMON_PASSWORD}" }}\n] }} }}\n')
    server = start_node(folder, "least", config)
    db = str(folder / "m.sqlite")
    try:
        assert cli("seed", db, "--rooms", "3", "--users", "5", "--members-per-room", "2",
                   "--epochs", "1").returncode == 0
        proc = cli("migrate-to-kv", "--db", db, "--replicas", "1", "--no-backup", env=as_user("migrator", server.url))
        assert proc.returncode == 0, proc.stderr
        asyncio.run(daemon_durable(server.url))
        yield server, db
    finally:
        server.stop()


def as_user(role: str, url: str) -> dict[str, str]:
    return cli_env(NATS_URL=url, NATS_USER=role, NATS_PASSWORD=PASSWORDS[role])


async def daemon_durable(url: str) -> None:
    nc = await nats.connect(url, user="daemon", password=DAEMON_PASSWORD)
    try:
        await nc.jetstream().add_consumer("KV_users", durable_name=DURABLE, ack_policy="explicit")
    finally:
        await nc.close()


async def durables(url: str) -> list[str]:
    nc = await nats.connect(url, user="daemon", password=DAEMON_PASSWORD)
    try:
        return sorted(c.name for c in await nc.jetstream().consumers_info("KV_users") if c.config.durable_name)
    finally:
        await nc.close()


async def attempt(url: str, role: str, subject: str, body: dict | None = None) -> str:
    """What the server answers role's JetStream API request: "violation", or the answer."""
    errors: list[str] = []

    async def on_error(e: Exception) -> None:
        errors.append(str(e))

    nc = await nats.connect(url, user=role, password=PASSWORDS[role], error_cb=on_error)
    try:
        try:
            msg = await nc.request(subject, json.dumps(body or {}).encode(), timeout=1.5)
            answer = msg.data.decode()
        except nats.errors.TimeoutError:
            answer = "no answer"
        await asyncio.sleep(0.1)  # a violation comes on the connection, apart from the request
        if any("permissions violation" in e.lower() for e in errors):
            return "violation"
        return answer
    finally:
        await nc.close()


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_viewer_and_admin_cannot_delete_or_create_durable_consumers(node, role):
    server, _ = node
    assert asyncio.run(durables(server.url)) == [DURABLE]
    # deleting the daemon's durable consumer
    assert asyncio.run(attempt(server.url, role, f"$JS.API.CONSUMER.DELETE.KV_users.{DURABLE}")) == "violation"
    assert asyncio.run(durables(server.url)) == [DURABLE]
    cfg = {"durable_name": "evil", "ack_policy": "explicit"}
    # making a durable one: the named subjects are refused by the permissions ...
    for subject in ("$JS.API.CONSUMER.CREATE.KV_users.evil", "$JS.API.CONSUMER.DURABLE.CREATE.KV_users.evil",
                    "$JS.API.CONSUMER.CREATE.KV_users.evil.$KV.users.u0000"):
        answer = asyncio.run(attempt(server.url, role, subject, {"stream_name": "KV_users", "config": cfg}))
        assert answer == "violation", (subject, answer)
    # ... and the ephemeral one by the server: a durable name there is an error (10020)
    answer = asyncio.run(attempt(server.url, role, "$JS.API.CONSUMER.CREATE.KV_users",
                                 {"stream_name": "KV_users", "config": cfg}))
    assert json.loads(answer)["error"]["err_code"] == 10020, answer
    assert asyncio.run(durables(server.url)) == [DURABLE]


def test_every_viewer_and_admin_command_works_with_these_rights(node):
    server, db = node
    viewer, admin = as_user("viewer", server.url), as_user("admin", server.url)
    for args in (("export",), ("users", "list"), ("health",), ("authorize", "--admin", "u0000"), ("diff", "--db", db),
                 ("audit",)):
        for env in (viewer, admin):
            proc = cli(*args, env=env)
            assert proc.returncode in (0, 1) and "refused" not in proc.stderr, (args, proc.stderr)
    key = json.loads(cli("users", "list", "--json", env=viewer).stdout)[0]["key"]
    for args in (("users", "revoke", key), ("users", "reinstate", key), ("users", "add", "zed")):
        proc = cli(*args, env=admin)
        assert proc.returncode == 0, (args, proc.stderr)
    assert asyncio.run(durables(server.url)) == [DURABLE]  # and nothing the tool did touched it
