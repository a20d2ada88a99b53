"""asyncio helpers for work that must finish even when its caller is cancelled.

A backend operation cancelled half-way must not leave state behind: an open SQLite
transaction (which blocks the daemon's writes and its WAL checkpoints), a JetStream
consumer, a subscription. The cleanup itself runs to its end, then the cancellation
goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")


async def settle(aw: Awaitable[T]) -> T:
    """Await aw to its end even if this task is cancelled meanwhile (once or more), then
    re-raise the cancellation; otherwise return its result or raise its error."""
    task = asyncio.ensure_future(aw)
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait({task})  # unlike awaiting the task, never cancels it
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        if not task.cancelled():
            task.exception()  # retrieved: the cancellation wins
        raise asyncio.CancelledError()
    return task.result()


async def gather_settled(*aws: Awaitable[T]) -> list[T]:
    """asyncio.gather that returns or raises only once every awaitable has ended.

    asyncio.gather raises as soon as one child fails or is cancelled, while the others
    still run (a cancelled caller's children may still be cleaning up: a scan deleting its
    consumer). Here, on an error or a cancellation, the others are cancelled and awaited to
    their end, then the error (or the cancellation) goes on.
    """
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        if tasks:
            await settle(asyncio.wait(tasks))
        raise


async def stop(task: asyncio.Future[Any], bound: float = 1.0) -> None:
    """Cancel a task and wait (settled) until it has ended, at most about `bound` seconds:
    an operation that returns has no work of its own still running. A cancellation can be
    lost (Python 3.11's wait_for swallows one that races its inner result), so it is asked
    again until the task ends."""
    async def until_done() -> None:
        for _ in range(max(1, int(bound / 0.05))):
            if task.done():
                return
            task.cancel()
            await asyncio.wait({task}, timeout=0.05)

    if not task.done():
        await settle(until_done())
