"""Screenshots of the migration and health views, against a real local 3-node cluster.

Called by tui/screenshots.py (`python -m tui.screenshots`): migrates the seeded database
with R3 from the migration screen, pictures it, then SIGKILLs 2 of the 3 servers and
pictures the health screen once it shows no-quorum (the UI failing closed).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from functools import partial
from pathlib import Path

from store import NatsSpec, SqliteSpec, StoreError, open_store
from store.local_nats import LocalNats, find_nats_server

from .app import MembershipApp
from .screens.health import HealthScreen
from .screens.migration import MigrationScreen
from .widgets.health_panel import HealthPanel

SIZE = (120, 36)
SHOWN_URL = "nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224"


async def _ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            store = await open_store(NatsSpec(url, read_only=True, op_timeout=1.0))
            await store.close()
            await asyncio.sleep(1.0)  # a meta leader is elected after the ports listen
            return
        except StoreError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


async def _until(pilot, condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the screen did not reach the state to picture")
        await pilot.pause(0.1)


async def kv_screenshots(db_path: str, out_dir: Path, clock) -> list[Path]:
    """Write migration.svg and health-no-quorum.svg into out_dir; [] without nats-server."""
    if not find_nats_server():
        print("no nats-server: migration and health screenshots skipped")
        return []
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        cluster = LocalNats(Path(tmp) / "nats", size=3).start()
        try:
            await _ready(cluster.url)
            target = NatsSpec(cluster.url, replicas=3)
            app = MembershipApp(SqliteSpec(db_path), clock=clock, migration_target=target, blink=False,
                                screens={"migration": partial(MigrationScreen,
                                                              format_path=os.path.basename)})
            async with app.run_test(size=SIZE) as pilot:
                await pilot.press("3")
                await pilot.press("m")
                screen = app.screen
                await _until(pilot, lambda: screen.outcome is not None, 60)
                panel = screen.query_one(HealthPanel)
                await _until(pilot, lambda: panel.report is not None
                             and panel.report.overall == "healthy", 20)
                screen.query_one("#migration-target").value = SHOWN_URL
                app.sub_title = f"sqlite:{os.path.basename(db_path)}"
                await pilot.pause()
                written.append(Path(app.save_screenshot("migration.svg", str(out_dir))))

                cluster.kill(1)
                cluster.kill(2)
                await pilot.press("4")
                health = app.screen
                assert isinstance(health, HealthScreen)
                panel = health.query_one(HealthPanel)
                await _until(pilot, lambda: panel.report is not None
                             and panel.report.overall == "no-quorum"
                             and panel.report.probe is not None
                             and not panel.report.probe.allowed, 20)
                app.sub_title = f"sqlite:{os.path.basename(db_path)}"
                await pilot.pause()
                written.append(Path(app.save_screenshot("health-no-quorum.svg", str(out_dir))))
        finally:
            cluster.stop()
    return written
