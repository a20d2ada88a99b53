"""Regenerate screenshots/*.svg of every view from the seeded demo data, at 120x36.

    .venv/bin/python -m tui.screenshots [--out DIR] [--no-kv]

Pictures come from Textual's run_test and app.save_screenshot, with a fixed clock, no
cursor blink and a relative database name in the header, so reruns give the same files.
The migration and health pictures need nats-server (tui/screenshots_kv.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from store import SqliteSpec
from store.dev.demo import REVOKED, FixedClock, create_demo_database, demo_key

from .app import MembershipApp
from .screens.add_user import AddUserScreen
from .screens.confirm import ConfirmScreen
from .screens.room import RoomScreen
from .screens.rooms import RoomsScreen
from .screens.user_rooms import UserRoomsScreen
from .screens.users import UsersScreen
from .widgets.record_table import RecordTable

SIZE = (120, 36)
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "screenshots"


async def _until(pilot, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the view did not show up in time")
        await pilot.pause(0.05)
    await pilot.pause(0.1)


def _shows(screen_type, rows: int | None = None):
    async def wait(pilot) -> None:
        app = pilot.app

        def ready() -> bool:
            if not isinstance(app.screen, screen_type):
                return False
            t = app.screen.query_one(RecordTable)
            return t._loaded and (rows is None or len(t.shown_keys) == rows)
        await _until(pilot, ready)
    return wait


def _modal(screen_type):
    async def wait(pilot) -> None:
        await _until(pilot, lambda: isinstance(pilot.app.screen, screen_type))
    return wait


def _select(key: str):
    async def run(pilot) -> None:
        t = pilot.app.screen.query_one(RecordTable)
        t.grid.move_cursor(row=t.shown_keys.index(key), animate=False)
        await pilot.pause()
    return run


Step = tuple[str, ...] | Callable[..., Awaitable[None]]

#: file name -> the steps that lead to the view
VIEWS: dict[str, list[Step]] = {
    "rooms.svg": [_shows(RoomsScreen, 5)],
    "room-detail.svg": [_shows(RoomsScreen, 5), _select("ops"), ("enter",), _shows(RoomScreen, 4)],
    "room-missing-key.svg": [_shows(RoomsScreen, 5), ("enter",), _shows(RoomScreen, 4)],
    "users.svg": [("2",), _shows(UsersScreen, 8)],
    "user-rooms.svg": [("2",), _shows(UsersScreen, 8), _select(demo_key("ada")), ("enter",),
                       _shows(UserRoomsScreen, 4)],
    "users-filter.svg": [("2",), _shows(UsersScreen, 8), ("slash", *"admin"), _shows(UsersScreen, 2)],
    "revoke-confirm.svg": [("2",), _shows(UsersScreen, 8), _select(demo_key("grace")), ("r",),
                           _modal(ConfirmScreen)],
    "reinstate-confirm.svg": [("2",), _shows(UsersScreen, 8), _select(demo_key(REVOKED)), ("i",),
                              _modal(ConfirmScreen)],
    "add-user.svg": [("2",), _shows(UsersScreen, 8), ("a",), _modal(AddUserScreen), tuple("new!")],
    "help.svg": [_shows(RoomsScreen, 5), ("question_mark",)],
}


async def take(name: str, steps: list[Step], out: Path, clock: FixedClock) -> Path:
    app = MembershipApp(SqliteSpec("demo.sqlite"), clock=clock, poll_interval=3600, blink=False)
    async with app.run_test(size=SIZE) as pilot:
        for step in steps:
            if isinstance(step, tuple):
                await pilot.press(*step)
            else:
                await step(pilot)
        await pilot.pause(0.2)
        return Path(app.save_screenshot(name, str(out)))


async def main_async(out: Path, kv: bool) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        clock = FixedClock()
        await create_demo_database(str(Path(tmp) / "demo.sqlite"), clock)
        os.chdir(tmp)  # the header then names "demo.sqlite", not a temporary path
        try:
            for name, steps in VIEWS.items():
                written.append(await take(name, steps, out.resolve() if out.is_absolute()
                                          else Path(here) / out, clock))
        finally:
            os.chdir(here)
        if kv:
            from .screenshots_kv import kv_screenshots

            written += await kv_screenshots(str(Path(tmp) / "demo.sqlite"), out, clock)
    return written


def main() -> None:
    p = argparse.ArgumentParser(description="Regenerate screenshots/*.svg from seeded data.")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--no-kv", action="store_true", help="skip the views that need nats-server")
    args = p.parse_args()
    for path in asyncio.run(main_async(args.out, not args.no_kv)):
        print(path)


if __name__ == "__main__":
    main()
