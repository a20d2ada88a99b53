"""Driving the app by script, as the screenshots (tui/screenshots.py) and the tests do: the
app made with fixed screen options, key presses, and waits on a running app (Textual's pilot).

In the package, not in tests/, so that an installed copy can make its own screenshots.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

from textual.screen import Screen

from store import StoreSpec

from .app import MembershipApp, Mode
from .screens.health import HealthScreen
from .screens.migration import MigrationScreen
from .session import Session
from .widgets.record_table import RecordTable

#: the terminal size of every TUI test and picture
SIZE = (120, 36)


def make_app(spec: StoreSpec, *, migration: Mapping[str, Any] | None = None,
             health: Mapping[str, Any] | None = None, **options: Any) -> MembershipApp:
    """The app as a test or a picture makes it: MembershipApp(spec, **options), with
    `migration` and `health` the options of those screens (fixed formatters, a scripted
    engine, a health panel fed by hand). No subclass: the app keeps its own CSS and modes."""
    screens: dict[Mode, Callable[[Session], Screen]] = {}
    if migration is not None:
        screens["migration"] = partial(MigrationScreen, **migration)
    if health is not None:
        screens["health"] = partial(HealthScreen, **health)
    return MembershipApp(spec, screens=screens, **options)


async def until(pilot, condition: Callable[[], object], timeout: float = 5.0,
                what: str = "condition") -> None:
    """Let the app run until condition() holds (workers, polling), or fail after timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await pilot.pause(0.05)
    await pilot.pause()


async def settle(pilot) -> None:
    """Wait for the app's and the current screen's loads, then let their messages land."""
    await pilot.pause()
    for _ in range(4):
        # the loads; not the watchers (they run for the app's lifetime) nor a change
        # waiting on its confirmation screen
        busy = [w for w in pilot.app.workers if w.group in ("store", "load", "patch") and not w.is_finished]
        if busy:
            await asyncio.gather(pilot.app.workers.wait_for_complete(busy), return_exceptions=True)
        await pilot.pause()


def shows_table(app: Any, screen_type: type[Any], rows: int | None = None) -> bool:
    """A screen_type is on top with its table loaded (with that many rows in the grid)."""
    screen: Any = app.screen
    if not isinstance(screen, screen_type):
        return False
    t = screen.query_one(RecordTable)
    return t.loaded and (rows is None or len(t.shown_keys) == rows)


Step = Callable[..., Awaitable[None]] | tuple[str, ...]


def steps(*actions: Step) -> Callable[..., Awaitable[None]]:
    """A run_before for snap_compare (or a picture): key presses (tuples) and waits (callables)."""
    async def run(pilot) -> None:
        for action in actions:
            if isinstance(action, tuple):
                await pilot.press(*action)
            else:
                await action(pilot)
        await settle(pilot)
    return run


def shows(screen_type: type[Any], rows: int | None = None) -> Callable[..., Awaitable[None]]:
    """A step: wait until a screen_type shows its table loaded (with that many rows)."""
    async def wait(pilot) -> None:
        await until(pilot, lambda: shows_table(pilot.app, screen_type, rows), timeout=10, what=screen_type.__name__)
        await settle(pilot)
    return wait


def select(key: str) -> Callable[..., Awaitable[None]]:
    """A step: move the current table's cursor to the row with that key."""
    async def run(pilot) -> None:
        t = pilot.app.screen.query_one(RecordTable)
        t.grid.move_cursor(row=t.shown_keys.index(key), animate=False)
        await pilot.pause()
    return run


def modal(screen_type: type[Any]) -> Callable[..., Awaitable[None]]:
    """A step: wait until a screen_type (a dialog) is on top."""
    async def run(pilot) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, screen_type),
                    what=screen_type.__name__)
        await settle(pilot)
    return run
