"""Waiting helpers for pilot and snapshot tests (imported by name: tests/ is not a package)."""

from __future__ import annotations

import asyncio
import time


async def until(pilot, condition, timeout: float = 5.0, what: str = "condition") -> None:
    """Let the app run until condition() holds (workers, polling), or fail after timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)
    await pilot.pause()


async def settle(pilot) -> None:
    """Wait for the app's and the current screen's workers, then let messages land."""
    await pilot.pause()
    for _ in range(4):
        # the loads; not the change watcher (runs for the app's lifetime) nor a change
        # waiting on its confirmation screen
        busy = [w for w in pilot.app.workers if w.group in ("store", "load") and not w.is_finished]
        if busy:
            await asyncio.gather(pilot.app.workers.wait_for_complete(busy), return_exceptions=True)
        await pilot.pause()
