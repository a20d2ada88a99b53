"""The theme chosen in the command palette is kept in config.toml (beside the contexts'
settings, which stay as they were) and used at the next start; NO_COLOR gives a TUI without
any colour, its cursor shown by reversed text."""

from __future__ import annotations

import tomllib

import pytest

from store import InvalidInput
from tests.helpers import SIZE, loaded, make_app, until
from tui.cli import main
from tui.config import config_path, save_theme, saved_theme, with_theme
from tui.screens.rooms import RoomsScreen
from tui.textual_private import screen_strips
from tui.widgets.record_table import RecordTable


@pytest.fixture(autouse=True)
def colours(monkeypatch):
    """The theme tests name themes: not under a NO_COLOR of the shell that runs them."""
    monkeypatch.delenv("NO_COLOR", raising=False)


SETTINGS = """\
# production looks unlike staging
[contexts.prod]
read_only = true   # changes need --write
label = "PRODUCTION"
"""


async def choose_theme(pilot, name: str) -> None:
    """ctrl+p, Theme, then the theme by name: as a person picks one."""
    app = pilot.app
    await pilot.press("ctrl+p")
    await until(pilot, lambda: type(app.screen).__name__ == "CommandPalette", what="the palette")
    await pilot.press(*"theme")
    await pilot.pause(0.3)  # the palette searches in a worker
    await pilot.press("enter")
    await until(pilot, lambda: type(app.screen).__name__ == "CommandPalette"
                and "theme" in app.screen.query_one("Input").placeholder.lower(), what="the theme list")
    await pilot.press(*name)
    await pilot.pause(0.3)
    await pilot.press("enter")
    await until(pilot, lambda: app.theme == name, what=f"theme {name}")


async def test_a_theme_chosen_in_the_palette_is_kept_and_used_at_the_next_start(sqlite_spec, tmp_path,
                                                                                monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text(SETTINGS)

    app = make_app(sqlite_spec, theme=saved_theme(), config_file=path)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        assert app.theme == "textual-dark"  # none saved yet
        await choose_theme(pilot, "nord")
        await until(pilot, lambda: "nord" in path.read_text(), what="the config file written")
    text = path.read_text()
    assert text == 'theme = "nord"\n\n' + SETTINGS  # the comments and the context as they were
    assert tomllib.loads(text)["contexts"]["prod"] == {"read_only": True, "label": "PRODUCTION"}

    again = make_app(sqlite_spec, theme=saved_theme(), config_file=path)
    async with again.run_test(size=SIZE) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        assert again.theme == "nord"
        await choose_theme(pilot, "gruvbox")
        await until(pilot, lambda: 'theme = "gruvbox"' in path.read_text(), what="the theme replaced")
    assert path.read_text() == 'theme = "gruvbox"\n\n' + SETTINGS


async def test_without_a_config_file_the_theme_is_not_written(sqlite_spec, tmp_path, monkeypatch):
    """Tests and pictures make the app without one: choosing a theme writes nothing."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    app = make_app(sqlite_spec)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        await choose_theme(pilot, "nord")
        await pilot.pause(0.2)
    assert not (tmp_path / "config").exists()


async def test_an_unknown_saved_theme_is_said_and_the_default_used(sqlite_spec):
    app = make_app(sqlite_spec, theme="no-such-theme")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        assert app.theme == "textual-dark"
        assert any("no theme named 'no-such-theme'" in n for n in app.notices)


def test_the_theme_line_is_added_or_replaced_at_the_top_level():
    assert with_theme("", "nord") == 'theme = "nord"\n'
    assert with_theme("# mine\n", "nord") == 'theme = "nord"\n\n# mine\n'
    assert with_theme("x = 1\n\n[a]\n", "nord") == 'x = 1\ntheme = "nord"\n\n[a]\n'
    assert with_theme('theme = "x"\n[a]\nb = 1\n', "nord") == 'theme = "nord"\n[a]\nb = 1\n'
    # a table's own `theme` key is not the top-level one
    out = with_theme('[a]\ntheme = "inner"\n', "nord")
    assert tomllib.loads(out) == {"theme": "nord", "a": {"theme": "inner"}}


def test_a_file_that_cannot_be_edited_by_line_is_left_alone(tmp_path):
    """A multi-line string holding a line like a table header: the line edit would change
    the string, so nothing is written and the operator is told what to add."""
    path = tmp_path / "config.toml"
    odd = 'note = """\n[not a table]\n"""\n'
    path.write_text(odd)
    with pytest.raises(InvalidInput, match='add that line by hand'):
        save_theme("nord", path)
    assert path.read_text() == odd
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temporary file left


def test_a_theme_that_is_not_text_is_exit_2(tmp_path, monkeypatch, capsys, sqlite_spec):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    config_path().parent.mkdir(parents=True)
    config_path().write_text("theme = 3\n")
    assert main(["--db", sqlite_spec.path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "theme must be a theme's name" in err


def coloured_segments(app) -> list[str]:
    """The styles with a colour (not the terminal's default) in what the screen draws."""
    found = set()
    for strip in screen_strips(app.screen):
        for seg in strip:
            st = seg.style
            if st is not None and any(c is not None and not c.is_default for c in (st.color, st.bgcolor)):
                found.add(str(st))
    return sorted(found)


@pytest.mark.parametrize("no_color", ["1", None])
async def test_no_color_gives_a_tui_without_colour(sqlite_spec, monkeypatch, no_color):
    """NO_COLOR set: no colour anywhere, the cursor row in reversed text; unset: colours."""
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    app = make_app(sqlite_spec)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, RoomsScreen, 5)
        if no_color:
            assert coloured_segments(app) == []
            grid = app.screen.query_one(RecordTable).grid
            row = grid.region.y + grid.header_height  # the first row, where the cursor is
            assert all(seg.style.reverse for seg in screen_strips(app.screen)[row]
                       if seg.text.strip())
        else:
            assert coloured_segments(app)
