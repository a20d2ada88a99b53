"""Save the current table (e): a path to write, its extension choosing the format (.csv or
.json). ModalScreen[str | None]; the screen that asked writes the file."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from store import InvalidInput


class ExportScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, default: str, rows: int, *, blink: bool = True) -> None:
        super().__init__()
        self.default = default
        self.rows = rows
        self.blink = blink

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Save {self.rows:,} row(s) as shown (filtered, sorted)", classes="dialog-title")
            yield Static("a .csv or .json file; an existing file is never overwritten", classes="dialog-body")
            yield Input(value=self.default, id="path", classes="reason")
            yield Static("enter saves, escape cancels", classes="hint")

    def on_mount(self) -> None:
        box = self.query_one(Input)
        box.cursor_blink = self.blink
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


def write_table(path: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    """Write rows to a new file at path as CSV or JSON (by its extension); returns the count.
    Raises InvalidInput (another extension, an existing file), OSError."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".csv", ".json"):
        raise InvalidInput(f"{path}: name a .csv or .json file")
    with open(path, "x", encoding="utf-8", newline="") as f:  # x: never overwrite
        if ext == ".csv":
            w = csv.writer(f, lineterminator="\n")
            w.writerow(columns)
            w.writerows(rows)
        else:
            json.dump([dict(zip(columns, r, strict=True)) for r in rows], f, ensure_ascii=False, indent=1)
            f.write("\n")
    return len(rows)
