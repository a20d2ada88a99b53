"""Regenerate screenshots/*.svg of every view from the seeded demo data, at 120x36.

    .venv/bin/python -m tui.screenshots [--out DIR] [--no-kv] [--only NAME ...]

It makes its pictures as the snapshot tests make theirs, with tui/scripted.py (the app
factory, the steps that wait for a view) and the fixed clock, no cursor blink and a relative
database name in the header, so reruns give the same files. It needs nothing from tests/:
an installed copy runs it too (the files go to ./screenshots unless --out says otherwise).
The migration and health views need nats-server: the seeded database is migrated to a local
3-node cluster from the migration screen, then 2 of the 3 servers are SIGKILLed and the
health screen is pictured once it shows no-quorum (the UI failing closed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

from textual.widgets import Input

from store import NatsSpec, SqliteSpec
from store.dev.demo import REVOKED, FixedClock, create_demo_database, demo_key

from .screens.add_user import AddUserScreen
from .screens.audit import AuditScreen
from .screens.confirm import ConfirmScreen
from .screens.health import HealthScreen
from .screens.history import HistoryScreen
from .screens.migration import MigrationScreen
from .screens.room import RoomScreen
from .screens.rooms import RoomsScreen
from .screens.user_rooms import UserRoomsScreen
from .screens.users import UsersScreen
from .scripted import SIZE, Step, make_app, modal, select, shows, steps, until
from .widgets.health_panel import HealthPanel

#: relative to the current folder: the repository's root in a checkout (the README's pictures)
DEFAULT_OUT = Path("screenshots")
#: the cluster's URL as the migration picture shows it (its ports are random)
SHOWN_URL = "nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224"

#: file name -> the steps that lead to the view
VIEWS: dict[str, list[Step]] = {
    "rooms.svg": [shows(RoomsScreen, 5)],
    "room-detail.svg": [shows(RoomsScreen, 5), select("ops"), ("enter",), shows(RoomScreen, 4)],
    "room-missing-key.svg": [shows(RoomsScreen, 5), ("enter",), shows(RoomScreen, 4)],
    "users.svg": [("2",), shows(UsersScreen, 8)],
    "user-rooms.svg": [("2",), shows(UsersScreen, 8), select(demo_key("ada")), ("enter",),
                       shows(UserRoomsScreen, 4)],
    "users-filter.svg": [("2",), shows(UsersScreen, 8), ("slash", *"admin"), shows(UsersScreen, 2)],
    "revoke-confirm.svg": [("2",), shows(UsersScreen, 8), select(demo_key("grace")), ("r",),
                           modal(ConfirmScreen)],
    "reinstate-confirm.svg": [("2",), shows(UsersScreen, 8), select(demo_key(REVOKED)), ("i",),
                              modal(ConfirmScreen)],
    "add-user.svg": [("2",), shows(UsersScreen, 8), ("a",), modal(AddUserScreen), tuple("new!")],
    "help.svg": [shows(RoomsScreen, 5), ("question_mark",)],
    "audit.svg": [("5",), shows(AuditScreen, 9)],
    "user-history.svg": [("2",), shows(UsersScreen, 8), select(demo_key(REVOKED)), ("h",),
                         shows(HistoryScreen, 3)],
}


async def take(name: str, view: list[Step], out: Path, clock: FixedClock) -> Path:
    app = make_app(SqliteSpec("demo.sqlite"), clock=clock, poll_interval=3600, blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await steps(*view)(pilot)
        await pilot.pause(0.2)
        return Path(app.save_screenshot(name, str(out)))


async def kv_screenshots(db_path: str, out: Path, clock: FixedClock) -> list[Path]:
    """Write migration.svg and health-no-quorum.svg into out; [] without nats-server."""
    from store.dev.local_nats import LocalNats, find_nats_server, wait_jetstream

    if not find_nats_server():
        print("no nats-server: migration and health screenshots skipped")
        return []
    written: list[Path] = []
    shown_db = f"sqlite:{os.path.basename(db_path)}"  # the header, not a temporary path
    with tempfile.TemporaryDirectory() as tmp:
        cluster = LocalNats(Path(tmp) / "nats", size=3).start()
        try:
            await wait_jetstream(cluster.url)  # a new cluster elects its meta leader first
            app = make_app(SqliteSpec(db_path), clock=clock, blink=False,
                           migration_target=NatsSpec(cluster.url, replicas=3),
                           migration={"format_path": os.path.basename})
            async with app.run_test(size=SIZE) as pilot:
                await pilot.press("3")
                await pilot.press("m")
                screen = app.screen
                assert isinstance(screen, MigrationScreen)
                await until(pilot, lambda: screen.outcome is not None, 60, "the migration's end")
                panel = screen.query_one(HealthPanel)
                await until(pilot, lambda: panel.report is not None
                            and panel.report.overall == "healthy", 20, "a healthy target")
                screen.query_one("#migration-target", Input).value = SHOWN_URL
                app.sub_title = shown_db
                await pilot.pause()
                written.append(Path(app.save_screenshot("migration.svg", str(out))))

                cluster.kill(1)
                cluster.kill(2)
                await pilot.press("4")
                assert isinstance(app.screen, HealthScreen)
                panel = app.screen.query_one(HealthPanel)
                await until(pilot, lambda: panel.report is not None
                            and panel.report.overall == "no-quorum"
                            and panel.report.probe is not None
                            and not panel.report.probe.allowed, 20, "no quorum")
                app.sub_title = shown_db
                await pilot.pause()
                written.append(Path(app.save_screenshot("health-no-quorum.svg", str(out))))
        finally:
            cluster.stop()
    return written


async def main_async(out: Path, kv: bool, only: list[str] | None = None) -> list[Path]:
    """only: these pictures of VIEWS (the KV ones are made only when none is named)."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        clock = FixedClock()
        await create_demo_database(str(Path(tmp) / "demo.sqlite"), clock)
        os.chdir(tmp)  # the header then names "demo.sqlite", not a temporary path
        try:
            for name, view in VIEWS.items():
                if not only or name in only:
                    written.append(await take(name, view, out, clock))
        finally:
            os.chdir(here)
        if kv and not only:
            written += await kv_screenshots(str(Path(tmp) / "demo.sqlite"), out, clock)
    return written


def main() -> None:
    p = argparse.ArgumentParser(description="Regenerate screenshots/*.svg from seeded data.")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--no-kv", action="store_true", help="skip the views that need nats-server")
    p.add_argument("--only", nargs="+", metavar="NAME", choices=sorted(VIEWS),
                   help="only these pictures, e.g. --only rooms.svg (a quick check of an install)")
    args = p.parse_args()
    for path in asyncio.run(main_async(args.out, not args.no_kv, args.only)):
        print(path)


if __name__ == "__main__":
    main()
