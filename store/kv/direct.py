"""Subscriptions whose messages reach a plain function as nats-py parses them.

nats-py queues every message of a callback subscription for a task that awaits the
callback: an asyncio.Queue put and get and a coroutine per message, a third of the cost
of streaming a bucket (store.kv.scan) or collecting a migration's acks (store.kv.writer).
A subscription without a callback starts no task; its queue is swapped for a direct
call. That queue is nats-py's private `Subscription._pending_queue`:
tests/store/test_nats_py_internals.py fails loudly when a nats-py release changes it,
and pyproject.toml bounds nats-py below its next major version.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

_log = logging.getLogger(__name__)


class _Direct:
    """Stands in for a subscription's message queue: nats-py puts each message in as it
    is parsed, and this hands it to a plain function at once."""

    def __init__(self, on_msg: Callable[[Any], None]) -> None:
        self._on_msg = on_msg

    def put_nowait(self, msg: Any) -> None:
        try:
            self._on_msg(msg)
        except Exception:
            _log.exception("message handler failed on %s", getattr(msg, "subject", "?"))

    def empty(self) -> bool:
        return True

    def qsize(self) -> int:
        return 0


async def subscribe_direct(nc: Any, subject: str, on_msg: Callable[[Any], None]) -> Any:
    """Subscribe with a synchronous handler called for each message as it is parsed.

    On a nats-py without that queue the ordinary callback subscription is used instead.
    """
    sub = await nc.subscribe(subject, pending_msgs_limit=-1, pending_bytes_limit=-1)
    if isinstance(getattr(sub, "_pending_queue", None), asyncio.Queue):
        sub._pending_queue = _Direct(on_msg)
        return sub
    await sub.unsubscribe()

    async def cb(m: Any) -> None:
        on_msg(m)

    return await nc.subscribe(subject, cb=cb, pending_msgs_limit=-1, pending_bytes_limit=-1)
