"""Store.watch_users on JetStream KV: every user written after the watch began reaches the
watcher (changes by another client, deletes, a value that breaks the rules), in order, and
the watch's consumer goes once the watcher stops."""

from __future__ import annotations

import asyncio

import nats

from store import NatsSpec, UserChanges, open_store
from tests.helpers import create_buckets


async def test_a_watch_sees_every_change_after_it_began(nats_server, bucket_prefix, clock):
    spec = NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    await create_buckets(spec)
    async with await open_store(spec, clock=clock) as daemon, await open_store(spec, clock=clock) as view:
        await daemon.add_user("before")  # written before the watch: not a change it reports
        assert view.watches_users
        batches: list[UserChanges] = []
        watch = view.watch_users()
        begun = await anext(watch)  # empty: says the watch has begun
        assert (begun.rows, begun.deleted, begun.invalid) == ([], [], [])

        async def follow() -> None:
            async for batch in watch:
                batches.append(batch)

        task = asyncio.create_task(follow())
        await daemon.add_user("ada", "Ada")
        await daemon.revoke_user("ada")
        raw = await nats.connect(nats_server.url)
        kv = await raw.jetstream().key_value(bucket_prefix + "users")
        await kv.put("mallory", b'{"key": "mallory", "role": "root"}')
        await daemon.add_user("gone")
        await kv.delete("gone")

        def seen() -> tuple[list, list, list]:
            return ([r for b in batches for r in b.rows], [k for b in batches for k in b.deleted],
                    [i.key for b in batches for i in b.invalid])

        async def all_seen() -> None:
            while len(seen()[0]) < 3 or not seen()[1] or not seen()[2]:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(all_seen(), 3)
        rows, deleted, invalid = seen()
        assert [r[0] for r in rows] == ["ada", "ada", "gone"]  # in the order written
        assert rows[0][3] == "active" and rows[1][3] == "revoked" and rows[1] == (await view.get_user("ada")).row
        assert deleted == ["gone"] and invalid == ["mallory"]

        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        # the watch's consumer is ephemeral and not deleted by the store (the README's viewer
        # may not delete consumers): nobody listens now, so the server removes it after its
        # inactive threshold (5 s)
        consumers = await raw.jetstream().consumers_info(view.stream("users"))
        assert [(c.config.durable_name, c.config.inactive_threshold) for c in consumers] == [(None, 5.0)]
        for _ in range(80):
            if not await raw.jetstream().consumers_info(view.stream("users")):
                break
            await asyncio.sleep(0.1)
        assert await raw.jetstream().consumers_info(view.stream("users")) == []
        await raw.close()
