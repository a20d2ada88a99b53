"""The health screen (key 4): live quorum state of real nats-servers, and the UI failing closed.

The cluster test SIGKILLs 2 of 3 servers while the screen is open: within 10 s it must
show no-quorum and a denying probe, the app must refuse revoke/reinstate/add, and all of it
must come back after the servers are restarted. The snapshot is built from a fixed
HealthReport fed to the panel (no ports, no timings).
"""

from __future__ import annotations

import time

import pytest

from store import NatsSpec
from store.dev.demo import demo_key
from store.health import ABSENT, DEGRADED, HEALTHY, NO_QUORUM, BucketHealth, HealthReport, ProbeResult, ReplicaHealth
from tests.helpers import SIZE, demo_file, frozen_clock, make_app, seed_kv, text_of, until
from tui.screens.health import HealthScreen
from tui.widgets.health_panel import QUORUM_LOST, HealthPanel

ADA = demo_key("ada")


def panel(app) -> HealthPanel:
    return app.screen.query_one(HealthPanel)


async def test_health_of_the_open_kv_backend(nats_server, bucket_prefix):
    spec = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    await seed_kv(spec, frozen_clock)
    app = make_app(spec, clock=frozen_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        assert isinstance(app.screen, HealthScreen)
        await until(pilot, lambda: panel(app).report is not None, what="first report")
        report = panel(app).report
        assert report.overall == HEALTHY
        assert [b.bucket for b in report.buckets] == [
            bucket_prefix + b for b in ("rooms", "members", "rooms_by_member", "room_keys", "users")]
        # the probe asks for an active admin of the allowlist: allowed while healthy
        assert report.probe.key == ADA and report.probe.allowed
        shown = text_of(panel(app))
        assert "HEALTHY" in shown and f"is_authorized({ADA}) allow" in shown
        assert "KV backend open in this app" in text_of(app.screen.query_one("#health-target"))
        assert panel(app).has_class("-healthy")
        # refreshed on its own, at least every 2 s
        checks = panel(app).checks
        await until(pilot, lambda: panel(app).checks >= checks + 2, timeout=4.5, what="refreshes")
        assert not app.session.quorum_lost


async def test_health_without_kv_target_says_so(tmp_path):
    app = make_app(demo_file(tmp_path / "demo.sqlite"), clock=frozen_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await pilot.pause()
        assert "no KV target" in text_of(app.screen.query_one("#health-target"))
        assert "nothing to check" in text_of(panel(app))
        assert panel(app).report is None


async def test_a_migration_target_without_buckets_is_absent_not_a_lost_quorum(tmp_path, nats_server, bucket_prefix):
    """SPEC 6: a server that answers, with none of the buckets (nothing migrated yet, or the
    wrong prefix), is `absent`; never shown as a lost quorum."""
    target = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    app = make_app(demo_file(tmp_path / "demo.sqlite"), clock=frozen_clock, migration_target=target)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await until(pilot, lambda: panel(app).report is not None, timeout=5, what="report")
        report = panel(app).report
        assert report.overall == ABSENT and report.error is None
        assert [b.state for b in report.buckets] == [ABSENT] * 5 and not report.probe.allowed
        shown = text_of(panel(app))
        assert "ABSENT" in shown and "nothing migrated here, or the wrong prefix" in shown
        assert "authorizations are denied" in shown and f"{bucket_prefix}users" in shown
        assert QUORUM_LOST not in shown and "no-quorum" not in shown.lower() and "quorum lost" not in shown.lower()
        assert panel(app).has_class("-absent") and not panel(app).has_class("-no-quorum")


async def test_health_of_an_unreachable_migration_target(tmp_path):
    target = NatsSpec("nats://127.0.0.1:1", op_timeout=0.5)
    app = make_app(demo_file(tmp_path / "demo.sqlite"), clock=frozen_clock,
                        migration_target=target)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await until(pilot, lambda: panel(app).report is not None, timeout=5, what="report")
        assert panel(app).report.overall == NO_QUORUM
        shown = text_of(panel(app))
        assert "NO-QUORUM" in shown and "127.0.0.1:1" in shown
        # the open database is SQLite: a KV target's quorum does not gate its changes
        assert not app.session.quorum_lost


@pytest.mark.cluster
async def test_killing_two_of_three_shows_no_quorum_and_closes_changes(cluster, bucket_prefix):
    spec = NatsSpec(cluster.url, bucket_prefix=bucket_prefix, replicas=3)
    await seed_kv(spec, frozen_clock)
    app = make_app(spec, clock=frozen_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await until(pilot, lambda: panel(app).report is not None
                    and panel(app).report.overall == HEALTHY, timeout=15, what="healthy")
        assert panel(app).report.probe.allowed

        # one of three gone: degraded (yellow), and authorizations still work
        cluster.kill(1)
        await until(pilot, lambda: panel(app).report.overall == DEGRADED, timeout=10,
                    what="degraded")
        await until(pilot, lambda: panel(app).report.probe.allowed, timeout=5, what="allow")
        assert panel(app).has_class("-degraded")
        # (a leader election after the kill may close changes for a moment: not for long)
        await until(pilot, lambda: not app.session.quorum_lost, timeout=6, what="changes open")
        assert any(p.state == "offline" for b in panel(app).report.buckets for p in b.peers)

        cluster.kill(2)
        killed = time.monotonic()
        await until(pilot, lambda: panel(app).report.overall == NO_QUORUM
                    and not panel(app).report.probe.allowed, timeout=10, what="no-quorum")
        assert time.monotonic() - killed < 10
        shown = text_of(panel(app))
        assert "NO-QUORUM" in shown and "deny" in shown and QUORUM_LOST in shown
        assert panel(app).has_class("-no-quorum")

        # the UI fails closed too: no change can be started, and the header says why (the
        # app's own quorum watcher checks every 2 s, apart from this screen)
        await until(pilot, lambda: app.session.quorum_lost, timeout=6, what="changes closed")
        notices = len(app.notices)
        for key in ("r", "i", "a"):
            await pilot.press(key)
        await pilot.pause()
        refused = [n for n in app.notices[notices:] if "refused" in n]
        assert len(refused) == 3 and all("quorum" in n for n in refused), app.notices[notices:]
        assert "quorum lost" in app.sub_title.lower()

        cluster.restart(1)
        cluster.restart(2)
        await until(pilot, lambda: panel(app).report.overall == HEALTHY
                    and panel(app).report.probe.allowed, timeout=30, what="recovery")
        await until(pilot, lambda: not app.session.quorum_lost, timeout=6, what="changes open again")
        assert "quorum lost" not in app.sub_title.lower()


# -- snapshot -----------------------------------------------------------------------------

def no_quorum_report() -> HealthReport:
    def bucket(name: str, leader: str | None, peers, state: str, reason: str) -> BucketHealth:
        return BucketHealth(name, f"KV_{name}", 3, leader, peers, state, reason)

    offline = (ReplicaHealth("n2", "offline"), ReplicaHealth("n3", "offline"))
    return HealthReport(
        target="nats:nats://127.0.0.1:4222",
        overall=NO_QUORUM,
        buckets=(
            bucket("rooms", "n1", offline, NO_QUORUM, "1 of 3 current, 2 needed"),
            bucket("members", None, offline, NO_QUORUM, "no leader"),
            bucket("rooms_by_member", "n1", (ReplicaHealth("n2", "lagging", 42),
                                             ReplicaHealth("n3", "current")), DEGRADED,
                   "2 of 3 current"),
            bucket("room_keys", "n1", offline, NO_QUORUM, "1 of 3 current, 2 needed"),
            bucket("users", None, offline, NO_QUORUM, "no answer within the op timeout"),
        ),
        probe=ProbeResult(ADA, False, "users stream: no quorum: 1 of 3 peers current (need 2) "
                                      "(fail closed)", 2.0),
    )


async def _show_no_quorum(pilot) -> None:
    await pilot.press("4")
    await pilot.pause()
    pilot.app.screen.query_one(HealthPanel).show(no_quorum_report())
    pilot.app.sub_title = "sqlite:demo.sqlite"
    await pilot.pause()


def no_quorum_app(tmp_path):
    target = NatsSpec("nats://127.0.0.1:4222")  # never contacted: the screen is not live
    return make_app(demo_file(tmp_path / "demo.sqlite"), clock=frozen_clock,
                    migration_target=target, health={"live": False})


def test_snapshot_no_quorum(snap_compare, tmp_path):
    assert snap_compare(no_quorum_app(tmp_path), terminal_size=SIZE, run_before=_show_no_quorum)


def test_snapshot_no_quorum_80x24(snap_compare, tmp_path):
    assert snap_compare(no_quorum_app(tmp_path), terminal_size=(80, 24), run_before=_show_no_quorum)
