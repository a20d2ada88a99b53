"""A table of records with a live filter that shows a window of the matches.

A Textual DataTable with 100,000 rows is too slow to fill, so the table holds at most
`window` rows (the first matches in order) and says how many it shows of how many;
the filter narrows the whole list, not only the window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from store import InvalidRecord
from store.text import printable


@dataclass(frozen=True, slots=True)
class Record:
    """One row: its key (what enter opens), its data, and the lower-cased text the filter searches.

    data is the row's cells, or any value the table's `cells` function turns into cells: then
    only the rows in the window are ever formatted (100,000 dates cost more than 1,000).
    """

    key: str
    data: Any
    search: str


def as_cells(data: Any) -> tuple[str | Text, ...]:
    return data


def safe_cell(cell: str | Text) -> str | Text:
    """A cell a terminal shows as text: stored names may hold escape sequences (SPEC data is
    whatever the daemon wrote), so control characters are written visibly."""
    if isinstance(cell, Text):
        plain = cell.plain
        return cell if printable(plain) == plain else Text(printable(plain), style=cell.style)
    return printable(cell)


@dataclass(frozen=True, slots=True)
class Flagged:
    """Row data that is its cells already (whatever the table's cells function expects)."""

    cells: tuple[str | Text, ...]


def invalid_record(r: InvalidRecord, width: int) -> Record:
    """A row for a stored record that breaks the rules: its key, the reason, flagged."""
    cells = (r.key, r.reason, Text("INVALID", style="bold red")) + ("",) * max(0, width - 3)
    return Record(r.key, Flagged(cells[:width]), f"{r.key}\t{r.reason}\tinvalid".lower())


class FilterInput(Input):
    BINDINGS = [Binding("escape", "clear_filter", "Clear filter")]

    @dataclass
    class Cleared(Message):
        pass

    def action_clear_filter(self) -> None:
        self.post_message(self.Cleared())


class RecordGrid(DataTable):
    """The DataTable; enter opens the selected row."""

    # shown in the help, not the footer: the footer is full, and enter opening a row is what
    # everyone tries first
    BINDINGS = [Binding("enter", "select_cursor", "Open", show=False)]


class RecordTable(Vertical):
    """A filterable, windowed table. Posts Opened(key) on enter."""

    @dataclass
    class Opened(Message):
        table: RecordTable
        key: str

    def __init__(self, noun: str, columns: Sequence[str], *, window: int = 200,
                 cells: Callable[[Any], tuple[str | Text, ...]] = as_cells,
                 id: str | None = None) -> None:
        super().__init__(id=id, classes="record-table")
        self.noun = noun
        self.cells = cells
        self.window = window
        self._columns = tuple(columns)
        self._records: list[Record] = []
        self._by_key: dict[str, Any] | None = None
        self._last_match: tuple[str, list[Record]] = ("", [])
        self._shown: list[str] = []
        self._loaded = False
        self._note = ""
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        yield FilterInput(placeholder="filter (enter: back to the table, escape: clear)",
                          classes="filter hidden")
        yield RecordGrid(cursor_type="row", zebra_stripes=True)
        yield Static(f"loading {self.noun}…", classes="count")

    def on_mount(self) -> None:
        self.grid.add_columns(*self._columns)

    @property
    def grid(self) -> RecordGrid:
        return self.query_one(RecordGrid)

    @property
    def filter_input(self) -> FilterInput:
        return self.query_one(FilterInput)

    @property
    def records(self) -> list[Record]:
        return self._records

    @property
    def shown_keys(self) -> list[str]:
        return list(self._shown)

    @property
    def selected_key(self) -> str | None:
        row = self.grid.cursor_row
        if not self._shown or row is None or not 0 <= row < len(self._shown):
            return None
        return self._shown[row]

    @property
    def selected_data(self) -> Any:
        """The data of the selected row's record (None when no row is selected)."""
        key = self.selected_key
        if key is None:
            return None
        if self._by_key is None:
            self._by_key = {r.key: r.data for r in self._records}
        return self._by_key.get(key)

    # -- data in ----------------------------------------------------------------
    def set_columns(self, columns: Sequence[str]) -> None:
        columns = tuple(columns)
        if columns != self._columns:
            self._columns = columns
            self.grid.clear(columns=True)
            self.grid.add_columns(*columns)
            self._shown = []

    def set_records(self, records: list[Record], invalid: Sequence[InvalidRecord] = ()) -> None:
        """Replace the data, keeping the filter and, if still shown, the selected row.
        invalid: stored records that break the rules, shown last as flagged rows (never
        hidden) and counted after the count."""
        if invalid:
            records = records + [invalid_record(r, len(self._columns)) for r in invalid]
        self._note = f"{len(invalid):,} invalid stored record(s), flagged" if invalid else ""
        self._records = records
        self._by_key = None
        self._last_match = ("", records)
        self._loaded = True
        self._render_rows(keep=self.selected_key)

    def set_failed(self, why: str = "") -> None:
        """The load failed (the error is shown by the screen): say so instead of 'loading',
        with why when the screen knows it (the store could not be opened)."""
        if not self._loaded:
            text = f"could not load {self.noun}" + (f": {why}" if why else "")
            self.query_one(".count", Static).update(Text(printable(text)))

    # -- filter -------------------------------------------------------------------
    def open_filter(self) -> None:
        box = self.filter_input
        box.remove_class("hidden")
        # focus now, not after the queued events: keys typed right after / go into the box
        self.screen.set_focus(box)

    def matches(self) -> list[Record]:
        needle = self.filter_text.strip().lower()
        if not needle:
            return self._records
        last_needle, last = self._last_match
        # typing on narrows the previous matches instead of the whole list
        source = last if last_needle and last_needle in needle else self._records
        found = [r for r in source if needle in r.search]
        self._last_match = (needle, found)
        return found

    @on(Input.Changed, "FilterInput")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.filter_text = event.value
        self._render_rows(keep=None)

    @on(Input.Submitted, "FilterInput")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        grid = self.grid
        grid.focus()
        if self._shown:
            grid.move_cursor(row=0)

    @on(FilterInput.Cleared)
    def _filter_cleared(self, event: FilterInput.Cleared) -> None:
        event.stop()
        box = self.filter_input
        box.value = ""  # posts Changed, which re-renders with no filter
        self.filter_text = ""
        box.add_class("hidden")
        self.grid.focus()
        self._render_rows(keep=None)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = self.selected_key
        if key is not None:
            self.post_message(self.Opened(self, key))

    # -- rendering ----------------------------------------------------------------
    def _render_rows(self, keep: str | None) -> None:
        found = self.matches()
        window = found[: self.window]
        grid = self.grid
        grid.clear()
        self._shown = [r.key for r in window]
        cells = self.cells
        for r in window:
            data = r.data
            grid.add_row(*map(safe_cell, data.cells if type(data) is Flagged else cells(data)))
        if keep is not None and keep in self._shown:
            grid.move_cursor(row=self._shown.index(keep), animate=False)
        total = len(self._records)
        if not self._loaded:
            text = f"loading {self.noun}…"
        elif len(found) == total:
            text = f"{len(window):,} of {total:,} {self.noun}"
        else:
            text = f"{len(window):,} of {len(found):,} matching (of {total:,}) {self.noun}"
        if self._note:
            text += f"  ({self._note})"
        if self.filter_text.strip():
            text += f"  filter: {printable(repr(self.filter_text.strip()))}"
        self.query_one(".count", Static).update(text)
