"""The header line: the program's name and the open backend, the backend always readable.

Textual's Header cuts "title — sub-title" at its right end, so on a narrow terminal the
backend (SPEC: the header always shows which backend is open) was the part cut. Here the
program's name goes first, then the middle of the backend's text, keeping its start (the
kind of backend) and its end (the file name and the state: read-only, quorum lost).
"""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.app import App
from textual.content import Content
from textual.widgets import Header, Static

from .flow_text import middle_ellipsis


def fit_title(app: App, title: str, sub_title: str, width: int) -> Content:
    """The header's text in width cells (0: not laid out yet, the whole text)."""
    if not width or not sub_title or cell_len(f"{title} — {sub_title}") <= width:
        return app.format_title(title, sub_title)
    return Content(middle_ellipsis(sub_title, width)).stylize("dim")


class AppHeader(Header):
    def format_title(self) -> Content:
        return fit_title(self.app, self.screen_title, self.screen_sub_title, self._title.size.width)

    @property
    def _title(self) -> Static:
        return self.query_one("HeaderTitle", Static)

    def on_resize(self, event: events.Resize) -> None:
        # the title's own width is known once this layout is done
        self.call_after_refresh(lambda: self._title.update(self.format_title()))
