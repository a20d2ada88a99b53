"""A table of records with a live filter, a sort, and every row reachable: the view of a
TableModel (table_model), which holds the rows, their order, the matches and the marks.

A Textual DataTable with 100,000 rows is too slow to fill, so the grid holds a window of at
most `window` matches and the window moves under the cursor: arrows, j/k and pgup/pgdn past
its edge, g/home and G/end bring the rows there into it (a cost that does not grow with the
number of rows). The count line says where the cursor is ("row 523 of 100,000 users"); `s`
sorts by the next column (again: reversed) and the header shows the order; `y` copies the
row's key; escape clears the filter before it goes back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import events, on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.message import Message
from textual.reactive import var
from textual.widgets import DataTable, Input, Static

from store import InvalidRecord
from store.text import printable

from .cells import Cell, as_text, cut, marked_cell, safe_cell
from .columns import Col, Layout, as_col, fit_columns
from .packed_rows import DATA, KEY, Chunk, Record, Rows, View
from .table_model import Cells, Flagged, Sort, TableModel, as_cells, next_sort, record

__all__ = ["DATA", "KEY", "Chunk", "Flagged", "Record", "RecordTable", "record"]

#: a table of this many rows or more is sorted in a thread
SORT_IN_THREAD = 50_000

#: the room the mark ("● ") takes in the first cell of a marked row
MARK_WIDTH = 2


class FilterInput(Input):
    BINDINGS = [Binding("escape", "clear_filter", "Clear filter")]

    @dataclass
    class Cleared(Message):
        pass

    def action_clear_filter(self) -> None:
        self.post_message(self.Cleared())


class RecordGrid(DataTable):
    """The DataTable of a RecordTable: the cursor keys move through every match, the window
    following (the table does the moving); enter opens the selected row."""

    # enter is in the help, not the footer: the footer is full, and enter opening a row is
    # what everyone tries first
    BINDINGS = [
        Binding("enter", "select_cursor", "Open", show=False),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g,home", "first", "First row", show=False),
        Binding("G,end", "last", "Last row", show=False),
        Binding("s", "sort", "Sort", show=False),
        Binding("y", "copy", "Copy key", show=False),
        Binding("space", "mark", "Mark", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    @property
    def records(self) -> RecordTable:
        parent = self.parent
        assert isinstance(parent, RecordTable)
        return parent

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - (self.header_height if self.show_header else 0) - 1)

    def action_cursor_down(self) -> None:
        self.records.go_to(self.records.position + 1)

    def action_cursor_up(self) -> None:
        self.records.go_to(self.records.position - 1)

    def action_page_down(self) -> None:
        self.records.go_to(self.records.position + self._page())

    def action_page_up(self) -> None:
        self.records.go_to(self.records.position - self._page())

    def action_first(self) -> None:
        self.records.go_to(0)

    def action_last(self) -> None:
        self.records.go_to(self.records.match_count - 1)

    def action_scroll_top(self) -> None:
        self.action_first()

    def action_scroll_bottom(self) -> None:
        self.action_last()

    def action_sort(self) -> None:
        self.records.next_sort()

    def action_mark(self) -> None:
        self.records.toggle_mark()
        self.records.go_to(self.records.position + 1)  # on to the next row, as file managers do

    def action_clear_filter(self) -> None:
        """escape: a filter shown is cleared first (as k9s does); without one, the screen's
        escape (back) runs."""
        if not self.records.clear_filter():
            raise SkipAction()

    def action_copy(self) -> None:
        key = self.records.selected_key
        if key is None:
            return
        self.app.copy_to_clipboard(key)  # OSC 52: works over ssh
        self.app.notify(f"copied {printable(key)}", timeout=3)

    def on_resize(self, event: events.Resize) -> None:
        self.records.refit()


class RecordTable(Vertical):
    """A filterable, windowed table. Posts Opened(key) on enter.

    Its state is reactive: setting `sort` or `filter_text` orders or filters the rows,
    `loading_more` says more parts of a load are coming, and the count line is computed from them
    (with the cursor, the matches and the marks)."""

    #: (column, reversed) of the sort, None: the order the screen gave
    sort: var[Sort] = var(None, init=False)  # not on first read: the watchers draw
    filter_text = var("", init=False)
    #: parts of a load are still coming (set_complete); not `loading`, which is Textual's own
    #: (it covers the widget with a spinner)
    loading_more = var(False)
    #: a sort runs in a thread (SORT_IN_THREAD rows or more)
    sorting = var(False)
    loaded = var(False)
    #: why the first load failed ("" when not known); None: it did not
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
        (default: the cell's text)."""
        super().__init__(id=id, classes="record-table")
        self._specs = tuple(map(as_col, columns))
        self.model = TableModel(noun, [c.name for c in self._specs], cells=cells, sort_keys=sort_keys)
        self.noun = noun
        self.window = window
        #: the columns in the grid and the width of each cut one (columns.fit_columns)
        self._layout: Layout = tuple((i, None) for i in range(len(self._specs)))
        self._offset = 0  # index among the matches of the window's first row
        self._shown: list[str] = []  # the keys of the rows in the grid
        self._shown_data: list[Any] = []  # and what they show, to redraw only changes

    def compose(self) -> ComposeResult:
        yield FilterInput(placeholder="filter (enter: back to the table, escape: clear)",
                          classes="filter hidden")
        yield RecordGrid(cursor_type="row", zebra_stripes=True)
        yield Static(f"loading {self.noun}…", classes="count")

    def on_mount(self) -> None:
        self._build_columns()

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
        self._build_columns()
        if not model.loaded:  # the records are sorted as they arrive
            return
        if len(model.rows) < SORT_IN_THREAD:
            self._show_order(self._sorted(model.rows, sort), keep)
            return
        self.sorting = True
        self._sort_in_thread(model.rows, sort, keep)

    def watch_filter_text(self, text: str) -> None:
        self.model.set_filter(text)
        self._render_rows(keep=None)

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
        return list(self._shown)

    @property
    def shown_records(self) -> tuple[Record, ...]:
        """The records of the rows in the window, in order (the newest of patched ones)."""
        return self.model.slice(self._offset, self.window)

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
        return None if key is None else self.model.data_of(key)

    @property
    def position(self) -> int:
        """The cursor's index among all the matches (not only the window's rows)."""
        return self._offset + (self.grid.cursor_row or 0)

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

    @property
    def shown_columns(self) -> list[str]:
        """The names of the columns in the grid (the others give way on a narrow screen)."""
        return [self.columns[i] for i, _ in self._layout]

    # -- moving through every row ----------------------------------------------------------
    def go_to(self, index: int) -> None:
        """Put the cursor on the index-th match (clamped), moving the window when the row
        is outside it: half a window of context on each side."""
        n = len(self.model)
        if not n:
            return
        index = max(0, min(index, n - 1))
        if not self._offset <= index < self._offset + len(self._shown):
            self._offset = max(0, min(index - self.window // 2, n - self.window))
            self._fill_window()
        self.grid.move_cursor(row=index - self._offset, animate=False)
        self.cursor = index

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.cursor = self.position  # a click moves the cursor too

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
        self._render_rows(keep)

    def toggle_mark(self) -> None:
        key = self.selected_key
        if key is None:
            return
        self.model.toggle_mark(key)
        self.marks = len(self.model.marked)
        row = self.grid.cursor_row
        self.grid.update_cell_at(Coordinate(row, 0), self._first_cell(self.shown_records[row]), update_width=True)
        self.refit()  # the mark widens the first column

    def clear_marks(self) -> None:
        if self.model.marked:
            self.model.marked.clear()
            self.marks = 0
            self._fill_window()

    # -- data in ---------------------------------------------------------------------------
    def set_columns(self, columns: Sequence[str | Col]) -> None:
        specs = tuple(map(as_col, columns))
        if specs != self._specs:
            self._specs = specs
            self.model.set_columns([c.name for c in specs])
            self._layout = tuple((i, None) for i in range(len(specs)))
            if self.sort != self.model.sort:
                self.sort = self.model.sort  # the sorted column went
            else:
                self._build_columns()

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
        self._render_rows(keep)

    def set_complete(self, complete: bool) -> None:
        """Say whether more parts of this load follow; the count says it is still loading."""
        self.loading_more = not complete

    def set_failed(self, why: str = "") -> None:
        """The load failed (the error is shown by the screen): say so instead of 'loading',
        with why when the screen knows it (the store could not be opened)."""
        self.failed = why

    def patch(self, records: Sequence[Record], *, anywhere: bool = False) -> int:
        """New data for rows someone changed (TableModel.patch), drawn at once. Returns how
        many rows changed."""
        changed = self.model.patch(records, self.shown_records, anywhere=anywhere)
        if changed:
            self._fill_window()  # the count is the same: rows changed, none came or went
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
        if self._shown:
            self.go_to(0)

    @on(FilterInput.Cleared)
    def _filter_cleared(self, event: FilterInput.Cleared) -> None:
        event.stop()
        self.clear_filter()

    # -- the window and its columns ----------------------------------------------------------
    def _render_rows(self, keep: str | None) -> None:
        """Show the matches from the top, or around the row `keep` when it still matches."""
        index = 0 if keep is None else max(0, self.model.index_of(keep, self.position))
        self.matches = len(self.model)
        if not self._offset <= index < self._offset + self.window:
            self._offset = max(0, min(index - self.window // 2, self.matches - self.window)) \
                if index >= self.window else 0
        self._fill_window()
        if self._shown:
            self.grid.move_cursor(row=index - self._offset, animate=False)
        self.cursor = self.position

    def _fill_window(self) -> None:
        window = self.shown_records
        self._fit_columns(window)
        keys = [r[KEY] for r in window]
        drawn = [(r[DATA], r[KEY] in self.model.marked) for r in window]
        grid = self.grid
        if keys == self._shown and len(self._shown_data) == len(window):
            # the same rows (a reload after someone's change): only the rows that changed
            # are drawn again, not a hundred (a daemon writing 50 changes/s reloads often)
            for i, r in enumerate(window):
                if drawn[i] != self._shown_data[i]:
                    for col, cell in enumerate(self._row_cells(r)):
                        grid.update_cell_at(Coordinate(i, col), cell)
        else:
            grid.clear()
            self._shown = keys
            for r in window:
                grid.add_row(*self._row_cells(r))
        self._shown_data = drawn

    def _labels(self) -> list[str]:
        """The column names, the sorted one marked with its direction."""
        labels = list(self.columns)
        if self.sort is not None:
            col, rev = self.sort
            labels[col] += " ▼" if rev else " ▲"
        return labels

    def _build_columns(self) -> None:
        """The grid's columns anew, as the layout says (its rows go: the caller refills)."""
        grid = self.grid
        grid.clear(columns=True)
        self._shown = []
        labels = self._labels()
        for i, width in self._layout:
            grid.add_column(labels[i], width=width)

    def _fit_columns(self, window: Sequence[Record]) -> None:
        """Choose the columns shown for these rows at the grid's width; the grid's columns
        are made anew only when the choice changes. Before the first layout (no width yet)
        every column is shown."""
        grid = self.grid
        width = grid.size.width
        if not width:
            return
        natural = [cell_len(label) for label in self._labels()]
        for r in window:
            for i, cell in enumerate(self.model.cells_of(r[DATA])):
                cell = safe_cell(cell)  # as drawn: a control character takes more room
                w = cell_len(cell.plain) if isinstance(cell, Text) else cell_len(cell)
                if w > natural[i]:
                    natural[i] = w
        if self.model.marked:
            natural[0] += MARK_WIDTH
        if len(window) + grid.header_height > grid.size.height:  # the rows scroll: a scrollbar
            width -= grid.styles.scrollbar_size_vertical
        layout = fit_columns(self._specs, natural, width)
        if layout != self._layout:
            self._layout = layout
            self._build_columns()

    def refit(self) -> None:
        """Fit the columns again (the width or the marks changed), keeping the cursor's row."""
        before = self._layout
        self._fit_columns(self.shown_records)
        if self._layout != before and self.loaded:
            row = self.grid.cursor_row
            self._fill_window()
            if self._shown:
                self.grid.move_cursor(row=row, animate=False)

    def _row_cells(self, r: Record) -> list[Cell]:
        """The cells of the columns shown, a cut column's text ending in "…"."""
        cells = self.model.cells_of(r[DATA])
        row = [as_text(cut(safe_cell(cells[i]), width)) for i, width in self._layout]
        if self.model.is_marked(r[KEY]):
            row[0] = self._first_cell(r)
        return row

    def _first_cell(self, r: Record) -> Cell:
        """The first cell of a row, with the mark when it is marked."""
        cell = safe_cell(self.model.cells_of(r[DATA])[0])
        return marked_cell(cell) if self.model.is_marked(r[KEY]) else as_text(cell)
