"""The migration screen refuses what the command line refuses (SPEC 5.7, 5.9): a read-only
session or a read-only context writes nothing (no backup, no bucket), and records changed
in KV since the last migration are listed and overwritten only after a second yes."""

from __future__ import annotations

import os
from dataclasses import replace

import nats
import pytest

from store import NatsSpec, open_store
from store.dev.demo import demo_key
from tests.helpers import SIZE, demo_file, frozen_clock, make_app, until
from tui.screens.confirm import ConfirmScreen
from tui.screens.migration import MigrationScreen

ADA = demo_key("ada")


async def streams_of(url: str, prefix: str) -> list[str]:
    """The streams (buckets and the audit stream) whose names hold the prefix."""
    nc = await nats.connect(url)
    try:
        return sorted(n for n in await nc.jetstream().streams_info() for n in [n.config.name] if prefix in n)
    finally:
        await nc.close()


async def press_m(pilot) -> MigrationScreen:
    await pilot.press("3")
    await until(pilot, lambda: isinstance(pilot.app.screen, MigrationScreen), what="screen 3")
    await pilot.press("m")
    await pilot.pause(0.3)
    return pilot.app.screen


@pytest.mark.parametrize("how", ["--read-only", "read-only context"])
async def test_a_read_only_session_never_migrates(tmp_path, nats_server, bucket_prefix, how):
    spec = demo_file(tmp_path / "demo.sqlite")
    target = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    if how == "--read-only":
        spec = replace(spec, read_only=True)
    else:  # as tui.cli.app_cmd makes it for a context that config.toml makes read-only
        target = replace(target, read_only=True)
    app = make_app(spec, clock=frozen_clock, migration_target=target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await press_m(pilot)
        assert not screen.running and screen.outcome is None
        assert any("read-only" in n and "nothing was written" in n for n in app.notices), app.notices
    assert not [n for n in os.listdir(tmp_path) if "backup" in n]
    assert await streams_of(nats_server.url, bucket_prefix) == []


def test_the_target_of_a_read_only_context_is_read_only(tmp_path, monkeypatch):
    """--db with a context that config.toml makes read-only: the migration target is read-only
    (it was built without the guard), unless --write."""
    from tui.cli import build_parser
    from tui.cli.app_cmd import _specs

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "nats" / "context").mkdir(parents=True)
    (tmp_path / "nats" / "context" / "prod.json").write_text('{"url": "nats://127.0.0.1:4222"}')
    (tmp_path / "membership-admin").mkdir()
    (tmp_path / "membership-admin" / "config.toml").write_text("[contexts.prod]\nread_only = true\n")
    db = str(demo_file(tmp_path / "demo.sqlite").path)
    _, target = _specs(build_parser().parse_args(["--db", db, "--context", "prod"]))
    assert target is not None and target.read_only is True
    _, target = _specs(build_parser().parse_args(["--db", db, "--context", "prod", "--write"]))
    assert target is not None and target.read_only is False


async def test_records_changed_in_kv_are_shown_and_overwritten_only_after_yes(tmp_path, nats_server,
                                                                            bucket_prefix):
    spec = demo_file(tmp_path / "demo.sqlite")
    target = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    app = make_app(spec, clock=frozen_clock, migration_target=target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await press_m(pilot)
        await until(pilot, lambda: screen.outcome is not None, timeout=30, what="first run")
        assert screen.outcome == "done" and screen.identical
        kv = await open_store(target)
        try:  # after cut-over an admin revokes ada in KV
            await kv.revoke_user(ADA, reason="laptop stolen")
        finally:
            await kv.close()

        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=30, what="the question")
        body = str(app.screen.body)
        assert ADA in body and '"status":"revoked"' in body and "laptop stolen" in body
        assert screen.outcome == "failed"
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen)
        assert await status_in_kv(target, ADA) == "revoked"  # nothing was written

        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=30, what="the question")
        await pilot.press("y")
        await until(pilot, lambda: screen.outcome == "done", timeout=30, what="the overwrite")
        assert screen.identical
    assert await status_in_kv(target, ADA) == "active"
    kv = await open_store(target)
    try:
        events = [e for e in await kv.audit_events() if e.action == "overwrite_kv" and e.target == ADA]
    finally:
        await kv.close()
    assert [e.phase for e in events] == ["intent", "done"]
    assert events[-1].before["status"] == "revoked" and events[-1].after["status"] == "active"


async def status_in_kv(target: NatsSpec, key: str) -> str:
    kv = await open_store(target)
    try:
        return (await kv.get_user(key)).status
    finally:
        await kv.close()
