"""Text that wraps only between its parts: an info line's facts ("room ops · Operations ·
owner …") or a path's folders, so a line never breaks inside a phrase or a file name.

A part wider than the whole line is cut in its middle, keeping its end (a file name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.cells import cell_len
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from store.text import printable

#: what an info line puts between its parts
DOT = "  ·  "


def middle_ellipsis(text: str, width: int) -> str:
    """text in at most width cells: a third of them from its start, "…", the rest from its end."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:max(0, width)]
    head = (width - 1) // 3
    tail = width - 1 - head
    return text[:head] + "…" + text[len(text) - tail:]


def flow(parts: Iterable[str], width: int, sep: str = DOT) -> list[str]:
    """The parts in lines of at most width cells, a line broken only between two parts (the
    separator dropped there)."""
    lines: list[str] = []
    line = ""
    for part in parts:
        part = middle_ellipsis(part, width)
        if not line:
            line = part
        elif cell_len(line + sep + part) <= width:
            line += sep + part
        else:
            lines.append(line)
            line = part
    if line:
        lines.append(line)
    return lines


def path_parts(path: str) -> list[str]:
    """A path's folders, each with its separator ("/tmp/", "x/", "demo.sqlite")."""
    return re.findall(r"[^/]*/|[^/]+$", path) or [path]


class FlowText(Widget):
    """Parts shown on as many lines as the width needs, broken only between parts."""

    DEFAULT_CSS = """
    FlowText { height: auto; }
    """

    def __init__(self, parts: Iterable[str] = (), *, sep: str = DOT, **kw) -> None:
        super().__init__(**kw)
        self.sep = sep
        self.parts = [printable(p) for p in parts]

    def update(self, parts: Iterable[str]) -> None:
        self.parts = [printable(p) for p in parts]
        self.refresh(layout=True)

    @property
    def plain(self) -> str:
        """The parts on one line (what a test reads)."""
        return self.sep.join(self.parts)

    def lines(self, width: int) -> list[str]:
        return flow(self.parts, width, self.sep) if width > 0 else [self.plain]

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return cell_len(self.plain)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, len(self.lines(width)))

    def render(self) -> Text:
        return Text("\n".join(self.lines(self.content_size.width)), no_wrap=True)
