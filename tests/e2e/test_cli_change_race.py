"""Two admins revoking one user at once (SPEC 7, issue 21 finding 7): only the one whose
compare-and-set changed the record is told "revoked"; the other is told "already revoked",
and the trail holds one change with one reason.

"At once" is made exact rather than left to timing: the command runs in this process, and
right after its store has read the user (before its compare-and-set) a second admin, on a
connection of its own to the same real server, revokes the same user. The hook wraps the
store's own read; NATS is real throughout.
"""

from __future__ import annotations

import asyncio

import pytest

from store import NatsSpec, open_store
from store.kv import KvStore
from tests.helpers import create_buckets
from tui.cli import main


async def _prepare(spec: NatsSpec) -> None:
    await create_buckets(spec)
    store = await open_store(spec)
    try:
        await store.add_user("mallory", "Mallory")
    finally:
        await store.close()


def test_two_admins_revoking_one_user_at_once_are_told_what_their_change_did(
        nats_server, bucket_prefix, monkeypatch, capsys):
    spec = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix)
    asyncio.run(_prepare(spec))
    read = KvStore._user_entry
    raced: list[str] = []

    async def read_then_other_admin_revokes(self: KvStore, key: str):
        got = await read(self, key)
        if not raced:  # once: the first read of the command under test
            raced.append(key)
            other = await open_store(spec)
            try:
                await other.revoke_user(key, reason="admin B")
            finally:
                await other.close()
        return got

    monkeypatch.setattr(KvStore, "_user_entry", read_then_other_admin_revokes)
    code = main(["users", "revoke", "mallory", "--nats-url", nats_server.url, "--bucket-prefix", bucket_prefix,
                 "--reason", "admin A"])
    out = capsys.readouterr().out
    assert raced == ["mallory"]
    assert code == 0 and out.startswith("already revoked mallory"), out
    monkeypatch.undo()

    async def trail() -> list:
        store = await open_store(spec)
        try:
            return [(e.phase, e.reason, e.result) for e in await store.audit_events() if e.action == "revoke_user"]
        finally:
            await store.close()

    events = asyncio.run(trail())
    # one change, with one reason; admin A's attempt is recorded as failed, never as done
    assert [(p, r) for p, r, _ in events if p == "done"] == [("done", "admin B")]
    assert [p for p, r, _ in events if r == "admin A"] == ["intent", "failed"]


@pytest.mark.parametrize("backend", ["sqlite", "kv"])
def test_a_revoke_says_whether_it_changed_the_user(backend, tmp_path, nats_server, bucket_prefix):
    from store import SqliteSpec
    from store.sqlite_file import create_database

    if backend == "sqlite":
        path = str(tmp_path / "m.sqlite")
        create_database(path)
        spec: SqliteSpec | NatsSpec = SqliteSpec(path)
    else:
        spec = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix)

    async def run() -> list[bool]:
        if isinstance(spec, NatsSpec):
            await create_buckets(spec)
        store = await open_store(spec)
        try:
            await store.add_user("bob")
            return [(await store.set_user_status("bob", s)).changed
                    for s in ("revoked", "revoked", "active", "active")]
        finally:
            await store.close()

    assert asyncio.run(run()) == [True, False, True, False]
