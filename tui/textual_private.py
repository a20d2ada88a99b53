"""The private parts of Textual this program relies on, in this one module.

- `FooterKey` (textual.widgets._footer): the widget of one footer hint. Textual has no public
  name for it, and the fitted footer (widgets/footer.py) measures, hides and marks hints.
- `Screen._compositor`: the lines a screen draws, as the terminal gets them. The tests read
  them to check what an operator sees (a column cut, a hint whole); nothing else exposes them.

tests/tui/test_textual_private.py fails loudly, saying what to do, when a Textual release
changes either; pyproject.toml bounds textual below its next major version.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.strip import Strip
from textual.widgets._footer import FooterKey

__all__ = ["FooterKey", "screen_line", "screen_strips"]


def screen_strips(screen: Screen) -> list[Strip]:
    """Every line the screen draws (its widgets composited), top to bottom."""
    return list(screen._compositor.render_strips())


def screen_line(screen: Screen, y: int) -> str:
    """The text of one line of the screen as drawn."""
    return "".join(seg.text for seg in screen_strips(screen)[y])
