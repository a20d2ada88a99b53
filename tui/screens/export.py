"""Save the current table (e): a path to write, its extension choosing the format (.csv or
.json). ModalScreen[str | None]; the screen that asked writes the file (save_table)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterable, Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from store import InvalidInput, StoreError

from ..cli.table_output import write_csv


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


def write_table(path: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> int:
    """Write rows to a new file at path as CSV or JSON (by its extension); returns the count.
    rows may be made as they are written (a million of them need not be held at once).
    Raises InvalidInput (another extension, an existing file), OSError."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".csv", ".json"):
        raise InvalidInput(f"{path}: name a .csv or .json file")
    n = 0
    with open(path, "x", encoding="utf-8", newline="") as f:  # x: never overwrite
        if ext == ".csv":  # a formula's start neutralized: a spreadsheet opens this file
            n = write_csv(f, columns, rows)
        else:  # a JSON array written an element at a time, as json.dump(list, indent=1) would
            f.write("[")
            for n, row in enumerate(rows, 1):
                element = json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False, indent=1)
                f.write(("," if n > 1 else "") + "\n " + element.replace("\n", "\n "))
            f.write("\n]\n" if n else "]\n")
    return n


async def save_table(path: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> tuple[str, str]:
    """write_table in a thread; what to tell the user: (the notice, its severity)."""
    try:
        n = await asyncio.to_thread(write_table, path, columns, rows)
    except FileExistsError:
        return f"{path} exists already: name a new file", "warning"
    except (StoreError, OSError) as e:
        return f"not saved: {e}", "error"
    return f"saved {n:,} row(s) to {path}", "information"
