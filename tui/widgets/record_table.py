"""A table of records with a live filter, a sort, and every row reachable: a TableModel
(table_model: the rows, their order, the matches, the marks) drawn by a RecordGrid
(record_grid: a window of the matches that follows the cursor), with a filter box above and
the count line below ("row 523 of 100,000 users").

`/` filters the whole list, not only the window; `s` sorts by the next column (again:
reversed) and the header shows the order; `y` copies the row's key; escape clears the
filter before it goes back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import var
from textual.widgets import DataTable, Input, Static

from store import InvalidRecord

from .columns import Col, as_col
from .packed_rows import DATA, KEY, Chunk, Record, Rows, View
from .record_grid import RecordGrid
from .table_model import Cells, Sort, TableModel, as_cells, next_sort, record

#: what the screens import from here (the rows they make, and the table)
__all__ = ["DATA", "KEY", "Chunk", "Record", "RecordTable", "record"]

#: a table of this many rows or more is sorted in a thread
SORT_IN_THREAD = 50_000


class FilterInput(Input):
    BINDINGS = [Binding("escape", "clear_filter", "Clear filter")]

    @dataclass
    class Cleared(Message):
        pass

    def action_clear_filter(self) -> None:
        self.post_message(self.Cleared())


class RecordTable(Vertical):
    """A filterable table of any number of rows. Posts Opened(key) on enter.

    Its state is reactive: setting `sort` or `filter_text` orders or filters the rows,
    `loading_more` says parts of a load are still coming, and the count line is computed
    from them, the cursor, the matches and the marks."""

    #: (column, reversed) of the sort, None: the order the screen gave
    sort: var[Sort] = var(None, init=False)  # not on first read: the watchers draw
    filter_text = var("", init=False)
    #: parts of a load are still coming (the count says so); not `loading`, which is
    #: Textual's own (it covers the widget with a spinner)
    loading_more = var(False)
    #: a sort runs in a thread (SORT_IN_THREAD rows or more)
    sorting = var(False)
    loaded = var(False)
    #: why the first load failed ("" when not known; the screen shows the error), said
    #: instead of "loading"; None: it did not
    failed: var[str | None] = var(None)
    #: the cursor's index among the matches, their number, and the number of marked rows
    cursor = var(0)
    matches = var(0)
    marks = var(0)
    count = var("")

    @dataclass
    class Opened(Message):
        table: RecordTable
        key: str

    def __init__(self, noun: str, columns: Sequence[str | Col], *, window: int = 100,
                 cells: Callable[[Any], Cells] = as_cells,
                 sort_keys: Sequence[Callable[[Any], Any] | None] = (),
                 id: str | None = None) -> None:
        """columns: names, or Col specs saying which give way on a narrow screen (a plain
        name is never hidden). sort_keys: per column, a key of a row's data to sort by
        (default: the cell's text). window: the rows the grid holds at a time."""
        super().__init__(id=id, classes="record-table")
        self._specs = tuple(map(as_col, columns))
        self.model = TableModel(noun, [c.name for c in self._specs], cells=cells, sort_keys=sort_keys)
        self.noun = noun
        self.window = window

    def compose(self) -> ComposeResult:
        yield FilterInput(placeholder="filter (enter: back to the table, escape: clear)",
                          classes="filter hidden")
        yield RecordGrid(self.model, self._specs, self.window)
        yield Static(f"loading {self.noun}…", classes="count")

    # -- the reactive state ------------------------------------------------------------------
    def compute_count(self) -> str:
        return self.model.count_line(self.cursor, complete=not self.loading_more, sorting=self.sorting,
                                     failed=self.failed)

    def watch_count(self, text: str) -> None:
        if self.is_mounted:
            self.query_one(".count", Static).update(Text(text))

    def watch_sort(self, sort: Sort) -> None:
        """Sort by the new order; the selected row stays selected."""
        model, keep = self.model, self.selected_key
        model.sort = sort
        self.grid.build_columns()
        if not model.loaded:  # the records are sorted as they arrive
            return
        if len(model.rows) < SORT_IN_THREAD:
            self._show_order(self._sorted(model.rows, sort), keep)
            return
        self.sorting = True
        self._sort_in_thread(model.rows, sort, keep)

    def watch_filter_text(self, text: str) -> None:
        self.model.set_filter(text)
        self._show(keep=None)

    def _show(self, keep: str | None) -> None:
        """The matches drawn anew, the cursor on `keep` if it still matches, else on the first."""
        self.matches = len(self.model)
        self.grid.show(keep)
        self.cursor = self.grid.position

    # -- reading ---------------------------------------------------------------------------
    @property
    def grid(self) -> RecordGrid:
        return self.query_one(RecordGrid)

    @property
    def filter_input(self) -> FilterInput:
        return self.query_one(FilterInput)

    @property
    def records(self) -> View:
        """Every row, in the shown order."""
        return self.model.records

    @property
    def columns(self) -> tuple[str, ...]:
        return self.model.columns

    @property
    def marked(self) -> set[str]:
        return self.model.marked

    @property
    def shown_keys(self) -> list[str]:
        return self.grid.shown_keys

    @property
    def shown_records(self) -> tuple[Record, ...]:
        return self.grid.shown_records

    @property
    def shown_columns(self) -> list[str]:
        return self.grid.shown_columns

    @property
    def selected_key(self) -> str | None:
        return self.grid.selected_key

    @property
    def selected_data(self) -> Any:
        """The data of the selected row's record (None when no row is selected)."""
        key = self.selected_key
        return None if key is None else self.model.data_of(key)

    @property
    def position(self) -> int:
        """The cursor's index among all the matches."""
        return self.grid.position

    @property
    def match_count(self) -> int:
        return len(self.model)

    @property
    def complete(self) -> bool:
        """False while the parts of a load are still coming (add_chunks)."""
        return not self.loading_more

    @property
    def held(self) -> int:
        """How many rows the table holds: every record given, the flagged ones too."""
        return len(self.model.rows)

    def holds(self, key: str) -> bool:
        """The table has a valid row with this key."""
        return self.model.holds(key)

    def plain_rows(self) -> Iterator[list[str]]:
        return self.model.plain_rows()

    # -- the cursor ------------------------------------------------------------------------
    def go_to(self, index: int) -> None:
        """Put the cursor on the index-th match (clamped)."""
        self.grid.go_to(index)
        self.cursor = self.grid.position

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.cursor = self.grid.position  # a click moves the cursor too

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = self.selected_key
        if key is not None:
            self.post_message(self.Opened(self, key))

    # -- sort, marks -------------------------------------------------------------------------
    def next_sort(self) -> None:
        """Sort by the next column; the same column again first reversed; after the last,
        back to the screen's order."""
        self.sort = next_sort(self.sort, len(self.columns))

    def _sorted(self, rows: Rows, sort: Sort) -> View:
        return self.model.sorted(rows, sort)

    @work(thread=True, exclusive=True, group="sort", exit_on_error=False)
    def _sort_in_thread(self, rows: Rows, sort: Sort, keep: str | None) -> None:
        """A big table sorted off the UI thread (a million users take most of a second)."""
        records = self._sorted(rows, sort)
        self.app.call_from_thread(self._sorted_now, rows, sort, records, keep)

    def _sorted_now(self, rows: Rows, sort: Sort, records: View, keep: str | None) -> None:
        if rows is self.model.rows and sort == self.sort:  # else newer rows or sort came meanwhile
            self._show_order(records, keep)

    def _show_order(self, records: View, keep: str | None) -> None:
        self.model.show_order(records)
        self.sorting = False
        self._show(keep)

    def toggle_mark(self) -> None:
        key = self.selected_key
        if key is not None:
            self.model.toggle_mark(key)
            self.marks = len(self.model.marked)
            self.grid.mark_drawn()

    def clear_marks(self) -> None:
        if self.model.marked:
            self.model.marked.clear()
            self.marks = 0
            self.grid.fill()

    # -- data in ---------------------------------------------------------------------------
    def set_columns(self, columns: Sequence[str | Col]) -> None:
        specs = tuple(map(as_col, columns))
        if specs != self._specs:
            self._specs = specs
            self.model.set_columns([c.name for c in specs])
            self.grid.set_specs(specs)
            self.sort = self.model.sort  # None when the sorted column went

    def set_records(self, records: Sequence[Record], invalid: Sequence[InvalidRecord] = ()) -> None:
        """Replace the data, keeping the filter and, if still shown, the selected row.
        invalid: stored records that break the rules, shown last as flagged rows (never
        hidden) and counted after the count."""
        self.set_chunks([Chunk.of(records)], invalid)

    def set_chunks(self, chunks: Sequence[Chunk], invalid: Sequence[InvalidRecord] = ()) -> None:
        """set_records with the records packed already (by a worker: a big table's are)."""
        keep = self.selected_key
        self.model.set_chunks(chunks, invalid)
        self._loaded_anew(keep)

    def add_chunks(self, chunks: Sequence[Chunk], invalid: Sequence[InvalidRecord] = ()) -> None:
        """The next part of a load: shown at once, the filter and sort applied to it too."""
        keep = self.selected_key
        self.model.add_chunks(chunks, invalid)
        self._loaded_anew(keep)

    def _loaded_anew(self, keep: str | None) -> None:
        self.sorting = False  # sorted with the rows
        self.loaded = True
        self.marks = len(self.model.marked)
        self._show(keep)

    def patch(self, records: Sequence[Record], *, anywhere: bool = False) -> int:
        """New data for rows someone changed (TableModel.patch), drawn at once. Returns how
        many rows changed."""
        changed = self.model.patch(records, self.shown_records, anywhere=anywhere)
        if changed:
            self.grid.fill()  # the count is the same: rows changed, none came or went
        return changed

    # -- filter ----------------------------------------------------------------------------
    def open_filter(self) -> None:
        box = self.filter_input
        box.remove_class("hidden")
        # focus now, not after the queued events: keys typed right after / go into the box
        self.screen.set_focus(box)

    def clear_filter(self) -> bool:
        """Clear and hide the filter; False when there was none to clear."""
        box = self.filter_input
        if box.has_class("hidden") and not self.filter_text:
            return False
        box.value = ""  # posts Changed, which changes nothing now
        box.add_class("hidden")
        self.filter_text = ""
        self.grid.focus()
        return True

    @on(Input.Changed, "FilterInput")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.filter_text = event.value

    @on(Input.Submitted, "FilterInput")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.grid.focus()
        self.go_to(0)

    @on(FilterInput.Cleared)
    def _filter_cleared(self, event: FilterInput.Cleared) -> None:
        event.stop()
        self.clear_filter()
