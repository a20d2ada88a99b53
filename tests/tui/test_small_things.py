"""What an operator bumped into, each seen in the running app: the footer marks the view on
screen and shows the migration screen's own keys, ctrl+c's hint is plain text, the add form
shows the key as it will be stored, a healthy probe reads as healthy."""

from __future__ import annotations

from rich.text import Text

from store.health import HEALTHY, BucketHealth, HealthReport, ProbeResult
from tests.helpers import SIZE, loaded, make_app, until
from tui.screens.add_user import AddUserScreen
from tui.screens.health import HealthScreen
from tui.screens.migration import MigrationScreen
from tui.screens.room import RoomScreen
from tui.screens.rooms import RoomsScreen
from tui.screens.users import UsersScreen
from tui.textual_private import FooterKey
from tui.widgets.footer import FittedFooter
from tui.widgets.health_panel import HealthPanel


def hints(app) -> dict[str, FooterKey]:
    """The footer's hints shown, by their text ("2 Users")."""
    keys = app.screen.query_one(FittedFooter).query(FooterKey)
    return {f"{k.key_display} {k.description}": k for k in keys if k.display}


def marked(app) -> list[str]:
    found = [text for text, k in hints(app).items() if k.has_class("-current")]
    for text in found:  # marked as drawn, not only by a class: bold and underlined
        style = hints(app)[text].get_component_rich_style("footer-key--description")
        assert style.bold and style.underline, text
    return found


async def test_the_footer_marks_the_view_on_screen(sqlite_spec):
    app = make_app(sqlite_spec)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        assert marked(app) == ["1 Rooms"]
        await pilot.press("2")
        await loaded(pilot, UsersScreen, 8)
        assert marked(app) == ["2 Users"]
        await pilot.press("1", "enter")  # a room's detail is still the rooms view
        await until(pilot, lambda: isinstance(app.screen, RoomScreen), what="a room")
        await pilot.pause(0.1)
        assert marked(app) == ["1 Rooms"]
        await pilot.press("3")
        await until(pilot, lambda: isinstance(app.screen, MigrationScreen))
        await pilot.pause(0.1)
        assert marked(app) == ["3 Migrate"]


async def test_the_migration_footer_shows_m_and_o_at_120_and_80_columns(sqlite_spec):
    app = make_app(sqlite_spec)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: isinstance(app.screen, MigrationScreen))
        await pilot.pause(0.1)
        assert {"m Start", "o Target", "? Help"} <= set(hints(app))
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.2)
        assert {"m Start", "o Target", "? Help"} <= set(hints(app))
        await pilot.press("2")  # elsewhere m and o do nothing, and are not offered
        await loaded(pilot, UsersScreen, 8)
        assert not {"m Start", "o Target"} & set(hints(app))


async def test_ctrl_c_says_how_to_quit_in_plain_text(sqlite_spec):
    app = make_app(sqlite_spec)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        await pilot.press("ctrl+c")
        await until(pilot, lambda: any("to quit" in n for n in app.notices))
        said = next(n for n in app.notices if "to quit" in n)
        assert said == "press q (or ctrl+q) to quit" and "[" not in said
        assert app.is_running


async def test_the_add_form_shows_the_key_as_it_will_be_stored(sqlite_spec):
    app = make_app(sqlite_spec)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await loaded(pilot, UsersScreen, 8)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AddUserScreen))
        stored = app.screen.query_one("#stored")
        await pilot.press(*"lower")
        await pilot.pause()
        assert not stored.display  # already as stored: nothing to say
        await pilot.press(*"BadKey")
        await pilot.pause()
        assert stored.display and "stored as lowerbadkey" in str(stored.render())
        await pilot.press("enter")
        await until(pilot, lambda: any("lowerbadkey added" in n for n in app.notices), what="added")


async def test_a_healthy_probe_reads_as_a_healthy_answer(sqlite_spec):
    """The default probe key is on no allowlist: a healthy deployment denies it, and the panel
    says the store answered (green), not "deny … unknown user" in red."""
    bucket = BucketHealth("users", "KV_users", 1, "n1", (), HEALTHY)
    report = HealthReport("nats:nats://127.0.0.1:4222", HEALTHY, (bucket,),
                          ProbeResult("health-probe", False, "unknown user", 0.002))
    app = make_app(sqlite_spec, health={"live": False})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await until(pilot, lambda: isinstance(app.screen, HealthScreen))
        panel = app.screen.query_one(HealthPanel)
        panel.show(report)
        await pilot.pause()
        text = Text()
        for part in panel.content.renderables:  # the panel's parts: the table, the probe line
            if isinstance(part, Text):
                text.append_text(part)
        line = text.plain
        assert "is_authorized(health-probe) answered" in line and "not on the allowlist" in line, line
        assert "unknown user" not in line and ") deny" not in line, line
        word = next(s for s in text.spans if text.plain[s.start:s.end] == "answered")
        assert "green" in str(word.style)
