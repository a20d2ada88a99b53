"""A detail pane: one whole record of a history (an audit event or a stored revision), every
field as stored, where the table's row shows only a line of it (enter on a history row)."""

from __future__ import annotations

import json
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from store.audit import AuditEvent
from store.codec import user_obj
from store.models import Revision
from store.text import iso_time, printable


def detail_of(entry: AuditEvent | Revision) -> tuple[str, str]:
    """The pane's title and its text: the record as JSON (keys in stored order), its times
    also written out, since Unix seconds say nothing at a glance."""
    obj: dict[str, Any]
    if isinstance(entry, AuditEvent):
        title = f"audit event {entry.action} {entry.phase} at {iso_time(entry.at)}"
        obj = entry.to_obj()
    else:
        what = f"revision {entry.revision}" if entry.revision else "current record"
        title = f"{what}{f' written {iso_time(entry.at)}' if entry.at else ''}"
        obj = {"revision": entry.revision, "at": entry.at,
               "user": user_obj(entry.user) if entry.user is not None else None}
    # stored text may hold control characters: shown escaped, never sent to the terminal
    lines = json.dumps(obj, indent=2, ensure_ascii=False).splitlines()
    return printable(title), "\n".join(map(printable, lines))


class DetailScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,enter", "close", "Close")]

    def __init__(self, entry: AuditEvent | Revision) -> None:
        super().__init__()
        self.title_text, self.text = detail_of(entry)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog detail"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            with VerticalScroll(classes="dialog-body"):  # arrows and pgup/pgdn on a short screen
                yield Static(self.text, markup=False, id="detail-text")
            yield Static("escape, q or enter closes", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
