"""A change made in the TUI on a deployment whose audit stream is weaker than SPEC 10 (a
memory stream with a 3 s max age and no deny_delete, made before this tool) is made, and its
notification says the trail is weak (issue 21 finding 5)."""

from __future__ import annotations

import json

import nats
from nats.js.api import StorageType, StreamConfig

from store import NatsSpec
from store.kv import BUCKETS
from tests.helpers import SIZE, loaded, make_app, until
from tui.screens.confirm import ConfirmScreen
from tui.screens.users import UsersScreen
from tui.widgets.record_table import RecordTable


async def weak_deployment(url: str, prefix: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for b in BUCKETS:
            kv = await js.create_key_value(bucket=prefix + b, replicas=1, direct=True)
            if b == "users":
                await kv.put("mallory", json.dumps({"key": "mallory", "name": "", "role": "user", "status": "active",
                                                    "added_at": 1, "revoked_at": None}).encode())
        name = f"{prefix}membership_audit"
        await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"], storage=StorageType.MEMORY,
                                         max_age=3.0, deny_purge=True))
    finally:
        await nc.close()


async def test_a_revoke_in_a_weak_trail_says_so(nats_server, bucket_prefix):
    await weak_deployment(nats_server.url, bucket_prefix)
    app = make_app(NatsSpec(nats_server.url, bucket_prefix=bucket_prefix))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await loaded(pilot, UsersScreen, 1)
        app.screen.query_one(RecordTable).grid.move_cursor(row=0)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        await pilot.press("y")
        await until(pilot, lambda: any("audit trail is weak" in n for n in app.notices), what="weak trail")
        assert any(n.startswith("mallory revoked") for n in app.notices), app.notices
        weak = next(n for n in app.notices if "audit trail is weak" in n)
        assert "memory storage" in weak and "max_age 3s" in weak and "deny_delete" in weak
