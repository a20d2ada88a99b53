"""Posture on the health screen (SPEC 12): a finding is shown with its fix while the users
bucket keeps one revision, and goes once the bucket is changed (the screen re-checks live)."""

from __future__ import annotations

import dataclasses

import nats

from store import NatsSpec
from tests.helpers import SIZE, frozen_clock, make_app, seed_kv, text_of, until
from tui.widgets.health_panel import HealthPanel


async def set_history(url: str, stream: str, history: int) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        cfg = (await js.stream_info(stream)).config
        await js.update_stream(dataclasses.replace(cfg, max_msgs_per_subject=history))
    finally:
        await nc.close()


async def test_a_posture_finding_shown_and_cleared_live(nats_server, bucket_prefix):
    spec = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    await seed_kv(spec, frozen_clock)
    await set_history(nats_server.url, f"KV_{bucket_prefix}users", 1)
    app = make_app(spec, clock=frozen_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        panel = app.screen.query_one(HealthPanel)

        def shown() -> str:
            return text_of(panel) if panel.report is not None else ""

        await until(pilot, lambda: "1 finding(s)" in shown(), what="the finding")
        text = shown()
        assert f"{bucket_prefix}users (history): keeps 1 revision per user" in text
        assert f"fix: nats stream edit KV_{bucket_prefix}users --max-msgs-per-subject 16" in text
        assert "disk sync not visible" in text
        await set_history(nats_server.url, f"KV_{bucket_prefix}users", 16)
        await until(pilot, lambda: "posture no findings" in shown(), what="the finding cleared")
