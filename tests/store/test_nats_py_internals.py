"""The nats-py internals store.kv.direct relies on, checked against the installed nats-py.

subscribe_direct swaps a subscription's private `_pending_queue` (an asyncio.Queue that
nats-py's parser fills with put_nowait) for an object that calls a handler at once: a
third of the cost of a scan or of collecting a migration's acks. A nats-py release may
rename or rework that queue; these tests then fail with what to do, rather than the
scans silently taking the slower callback path.
"""

from __future__ import annotations

import asyncio

import nats

from store.kv.direct import _Direct, subscribe_direct

WHAT_TO_DO = (
    "nats-py changed Subscription._pending_queue, which store/kv/direct.py swaps for a direct "
    "call: read the new nats-py's Subscription and how its parser hands a message over, adapt "
    "subscribe_direct (or let it fall back to callback subscriptions and measure bench/bench_kv.py "
    "and bench/bench_migrate.py), and keep nats-py's upper bound in pyproject.toml until then")


async def test_a_plain_subscription_queues_messages_in_an_asyncio_queue(nats_server):
    nc = await nats.connect(nats_server.url)
    try:
        sub = await nc.subscribe("internals.plain", pending_msgs_limit=-1, pending_bytes_limit=-1)
        assert isinstance(getattr(sub, "_pending_queue", None), asyncio.Queue), WHAT_TO_DO
        await nc.publish("internals.plain", b"x")
        msg = await sub.next_msg(timeout=2)  # the queue is where the parser puts messages
        assert msg.data == b"x", WHAT_TO_DO
    finally:
        await nc.close()


async def test_subscribe_direct_swaps_the_queue_and_handles_messages_as_they_are_parsed(nats_server):
    nc = await nats.connect(nats_server.url)
    try:
        got: list = []
        tasks: set = set()

        def on_msg(msg) -> None:
            got.append((msg.subject, msg.data))
            tasks.add(asyncio.current_task())

        sub = await subscribe_direct(nc, "internals.direct.>", on_msg)
        assert isinstance(sub._pending_queue, _Direct), WHAT_TO_DO
        for i in range(3):
            await nc.publish(f"internals.direct.{i}", str(i).encode())
        for _ in range(200):
            if len(got) == 3:
                break
            await asyncio.sleep(0.01)
        assert got == [(f"internals.direct.{i}", str(i).encode()) for i in range(3)], WHAT_TO_DO
        # called by the client's reader as it parses, not by a task of the subscription
        assert tasks == {getattr(nc, "_reading_task", None)}, WHAT_TO_DO
    finally:
        await nc.close()
