"""The private parts of Textual that tui/textual_private.py wraps, checked against the installed
Textual: the footer's hint widget (FooterKey) and the lines a screen draws (its compositor).

A Textual release may rename or rework either; these tests then fail with what to do, rather
than the footer silently hiding nothing (or every hint) and the tests reading blank screens.
"""

from __future__ import annotations

import textual
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from tui.textual_private import FooterKey, screen_line, screen_strips

WHAT_TO_DO = (
    "Textual changed a private part tui/textual_private.py relies on (textual.widgets._footer.FooterKey, "
    "Screen._compositor): read the new Textual's Footer and Screen, adapt tui/textual_private.py "
    "(widgets/footer.py fits and marks the footer's hints with it; the tests read screens with it), "
    "and keep textual's upper bound in pyproject.toml until then")


class Probe(App[None]):
    BINDINGS = [Binding("x", "bell", "Ring"), Binding("y", "bell", "Hidden", show=False)]

    def compose(self) -> ComposeResult:
        yield Static("a line of text", id="text")
        yield Footer()


def test_the_installed_textual_is_the_major_version_pyproject_allows():
    assert textual.__version__.split(".")[0] == "8", WHAT_TO_DO


async def test_the_footer_is_made_of_footer_keys_with_their_binding():
    app = Probe()
    async with app.run_test(size=(60, 5)) as pilot:
        await pilot.pause()
        keys = list(app.screen.query_one(Footer).query(FooterKey))
        assert keys, WHAT_TO_DO
        ring = [k for k in keys if k.action == "bell"]
        assert len(ring) == 1 and (ring[0].key, ring[0].key_display, ring[0].description) == ("x", "x", "Ring"), \
            WHAT_TO_DO
        assert isinstance(ring[0].render(), Text) and "Ring" in ring[0].render().plain, WHAT_TO_DO
        assert any(k.has_class("-command-palette") for k in keys), WHAT_TO_DO  # docked at the right end


async def test_a_screens_lines_are_what_it_draws():
    app = Probe()
    async with app.run_test(size=(60, 5)) as pilot:
        await pilot.pause()
        strips = screen_strips(app.screen)
        assert len(strips) == 5, WHAT_TO_DO
        assert screen_line(app.screen, 0).startswith("a line of text"), WHAT_TO_DO
        assert "Ring" in screen_line(app.screen, 4), WHAT_TO_DO


def test_no_private_textual_part_is_used_elsewhere():
    """Every other module goes through tui/textual_private.py, so this file's tests cover them all."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    private = re.compile(r"from textual(\.\w+)*\._\w+ import|import textual(\.\w+)*\._|\._compositor\b")
    found = [f"{p.relative_to(root)}:{n}" for folder in ("tui", "tests", "bench") for p in (root / folder).rglob("*.py")
             if p.name not in ("textual_private.py", "test_textual_private.py")
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if private.search(line)]
    assert found == [], f"a private part of Textual used outside tui/textual_private.py: {found}"
