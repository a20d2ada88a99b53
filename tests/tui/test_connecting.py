"""The TUI on a production-like NATS (SPEC section 9): a mistyped prefix is said in the
view and creates nothing, secrets stay out of the header, a change the NATS user may not
make is a notification and the app goes on, a context's label and colour in the header."""

from __future__ import annotations

import time

import pytest

from store import NatsSpec, Unavailable, open_store
from store.dev.demo import REVOKED, demo_key
from store.kv import KvStore
from tests.helpers import SIZE, loaded, make_app, seed_kv, seed_sqlite, shows, steps, until
from tests.nats_auth import PASSWORDS, secured_server
from tui.screens.confirm import ConfirmScreen
from tui.screens.health import HealthScreen
from tui.screens.rooms import RoomsScreen
from tui.screens.users import UsersScreen
from tui.widgets.record_table import RecordTable

MALLORY = demo_key(REVOKED)


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    node, _ = secured_server(tmp_path_factory.mktemp("tui-secured"))
    try:
        yield node
    finally:
        node.stop()


def as_role(role: str, url: str, prefix: str) -> NatsSpec:
    return NatsSpec(url=url, user=role, password=PASSWORDS[role], bucket_prefix=prefix, replicas=1)


async def test_missing_buckets_are_said_in_the_view_and_nothing_is_created(nats_server, bucket_prefix):
    spec = NatsSpec(url=nats_server.url, bucket_prefix=bucket_prefix)
    app = make_app(spec)
    async with app.run_test(size=SIZE) as pilot:
        count = app.screen.query_one(RecordTable).query_one(".count")
        await until(pilot, lambda: "do not exist" in str(count.content), what="the view says why")
        text = str(count.content)
        assert text.startswith("could not load rooms: buckets ") and f"{bucket_prefix}rooms" in text
        assert f"prefix '{bucket_prefix}'" in text and nats_server.url in text
        await pilot.press("2")
        users_count = app.screen.query_one(RecordTable).query_one(".count")
        await until(pilot, lambda: "do not exist" in str(users_count.content), what="users view too")
    with pytest.raises(Unavailable, match="do not exist"):  # looking created nothing
        await KvStore.open(spec)


async def test_a_password_in_the_url_is_never_shown(nats_server, bucket_prefix, clock):
    host = nats_server.url.removeprefix("nats://")
    spec = NatsSpec(url=f"nats://ops:Hunter2-Secret@{host}", bucket_prefix=bucket_prefix, replicas=1)
    await seed_kv(spec, clock)
    app = make_app(spec)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        assert f"ops:***@{host}" in app.sub_title and "Hunter2" not in app.sub_title
        await pilot.press("4")
        await until(pilot, lambda: isinstance(app.screen, HealthScreen))
        await pilot.pause(0.5)
        shown = "\n".join(str(w.render()) for w in app.screen.query("*"))
        assert "Hunter2" not in shown + "".join(app.notices) + repr(spec)


async def test_a_refused_change_is_a_notification_and_the_app_goes_on(secured, clock):
    bucket_prefix = ""  # the README's blocks are written for the default prefix (a server of its own)
    await seed_kv(as_role("migrator", secured.url, bucket_prefix), clock)
    viewer = as_role("viewer", secured.url, bucket_prefix)
    app = make_app(viewer, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await loaded(pilot, UsersScreen, 8)
        t = app.screen.query_one(RecordTable)
        t.grid.move_cursor(row=t.shown_keys.index(MALLORY))
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        started = time.monotonic()
        await pilot.press("y")
        await until(pilot, lambda: any("may not publish" in n for n in app.notices), what="refusal")
        assert time.monotonic() - started < 3.0
        refusal = next(n for n in app.notices if "may not publish" in n)
        # the audit intent is refused first (fail closed): the change is never tried
        assert "may not publish to membership_audit.reinstate_user" in refusal, refusal
        # the app goes on: the view reloads, other screens open, nothing was written
        await pilot.press("1")
        await loaded(pilot, RoomsScreen, 5)
        store = await open_store(viewer)
        try:
            assert (await store.get_user(MALLORY)).status == "revoked"
        finally:
            await store.close()


def test_header_label_and_colour_of_a_context(snap_compare, tmp_path, clock, monkeypatch):
    """What config.toml's label and color give the header (here on the demo file, so the
    picture needs no server): production looks unlike staging."""
    from store import SqliteSpec
    from tests.helpers import run_sync

    monkeypatch.chdir(tmp_path)
    run_sync(seed_sqlite(tmp_path / "demo.sqlite", clock))
    app = make_app(SqliteSpec("demo.sqlite"), clock=clock, poll_interval=3600, blink=False,
                   label="PRODUCTION", color="darkred")
    assert snap_compare(app, terminal_size=SIZE, run_before=steps(shows(RoomsScreen, 5)))
