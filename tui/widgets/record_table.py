"""A table of records with a live filter, a sort, and every row reachable.

The rows are kept packed (packed_rows: a million users in ~150 MB, not ~500). A Textual
DataTable with 100,000 rows is too slow to fill, so the grid holds a window of
at most `window` rows of the matches and the window moves under the cursor: arrows and
pgup/pgdn past its edge, g/home and G/end, bring the rows there into it (a cost that does
not grow with the number of rows). The count line says where the cursor is ("row 523 of
100,000 users"); the filter narrows the whole list, not only the window; `s` sorts by the
next column (again: reversed) and the header shows the order; `y` copies the row's key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions
from rich.measure import Measurement
from rich.segment import Segment
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from store import InvalidRecord
from store.text import printable

from .. import keys
from ..keys import Scope
from .columns import Col, Layout, as_col, cut, fit_columns
from .packed_rows import DATA, KEY, Chunk, Picked, Record, Rows, View, narrowed, position

# Record: one row, (key, data, search): its key (what enter opens), its data, and the
# lower-cased text the filter searches. data is the row's cells, or any value the table's
# `cells` function turns into cells: then only the rows in the window are ever formatted
# (100,000 dates cost more than 1,000). A plain tuple of str and int packs best (a column a
# field), and a search text that begins with the key and a tab keeps the key once.

#: a table of this many rows or more is sorted in a thread
SORT_IN_THREAD = 50_000

#: the room the mark ("● ") takes in the first cell of a marked row
MARK_WIDTH = 2


def record(key: str, data: Any, search: str) -> Record:
    return (key, data, search)


def as_cells(data: Any) -> tuple[str | Text, ...]:
    return data


def safe_cell(cell: str | Text) -> str | Text:
    """A cell a terminal shows as text: stored names may hold escape sequences (SPEC data is
    whatever the daemon wrote), so control characters are written visibly."""
    if isinstance(cell, Text):
        plain = cell.plain
        return cell if printable(plain) == plain else Text(printable(plain), style=cell.style)
    return printable(cell)


class Cell:
    """A cell's text as the DataTable draws it: one line, never wrapped, never read as
    markup. A str given to the DataTable is read as markup (a stored name such as "[red]x"
    would be styled), and a Text is wrapped and justified first: drawing a screenful of
    Text cells cost 60 ms on every move of the window, these a fraction of it."""

    __slots__ = ("text",)

    def __init__(self, text: Text) -> None:
        self.text = text

    @property
    def plain(self) -> str:
        return self.text.plain

    def __str__(self) -> str:
        return self.text.plain

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        n = self.text.cell_len
        return Measurement(n, n)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterable[Segment]:
        return self.text.render(console)


def as_text(cell: str | Text) -> Cell:
    return Cell(cell if isinstance(cell, Text) else Text(cell))


@dataclass(frozen=True, slots=True)
class Flagged:
    """Row data that is its cells already (whatever the table's cells function expects)."""

    cells: tuple[str | Text, ...]


def invalid_record(r: InvalidRecord, width: int) -> Record:
    """A row for a stored record that breaks the rules: its key, the reason, flagged."""
    cells = (r.key, r.reason, Text("INVALID", style="bold red")) + ("",) * max(0, width - 3)
    return record(r.key, Flagged(cells[:width]), f"{r.key}\t{r.reason}\tinvalid".lower())


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

    BINDINGS = keys.bindings(Scope.TABLE)  # tui/keys.py: enter, g G, j k, s, y, space

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

    def action_copy(self) -> None:
        key = self.records.selected_key
        if key is None:
            return
        self.app.copy_to_clipboard(key)  # OSC 52: works over ssh
        self.app.notify(f"copied {printable(key)}", timeout=3)

    def on_resize(self, event: events.Resize) -> None:
        self.records.refit()


class RecordTable(Vertical):
    """A filterable, windowed table. Posts Opened(key) on enter."""

    @dataclass
    class Opened(Message):
        table: RecordTable
        key: str

    def __init__(self, noun: str, columns: Sequence[str | Col], *, window: int = 100,
                 cells: Callable[[Any], tuple[str | Text, ...]] = as_cells,
                 sort_keys: Sequence[Callable[[Any], Any] | None] = (),
                 id: str | None = None) -> None:
        """columns: names, or Col specs saying which give way on a narrow screen (a plain
        name is never hidden). sort_keys: per column, a key of a row's data to sort by
        (default: the cell's text)."""
        super().__init__(id=id, classes="record-table")
        self.noun = noun
        self.cells = cells
        self.window = window
        self.sort_keys = tuple(sort_keys)
        self._specs = tuple(map(as_col, columns))
        self._columns = tuple(c.name for c in self._specs)
        #: the columns in the grid and the width of each cut one (columns.fit_columns)
        self._layout: Layout = tuple((i, None) for i in range(len(self._columns)))
        #: (column, reversed) of the sort, None: the order the screen gave
        self.sort: tuple[int, bool] | None = None
        self._chunks: tuple[Chunk, ...] = ()  # the screen's records, packed, in its order
        self._flagged: list[Record] = []  # the invalid stored records, shown last
        self._rows = Rows()  # both
        self._records: View = self._rows  # both, in the shown order
        self._found: View = self._rows  # the matches of the filter, in the shown order
        self._offset = 0  # index in _found of the window's first row
        self._complete = True  # False while the parts of a load are still coming
        #: keys of the rows marked with space (kept across reloads while they exist)
        self.marked: set[str] = set()
        #: records newer than the rows held (patch), by key, until the next full load
        self._newer: dict[str, Record] = {}
        self._last_match: tuple[str, View] = ("", self._rows)
        self._shown: list[str] = []
        self._shown_data: list[Any] = []  # the data of the rows in the grid, to redraw only changes
        self._loaded = False
        self._sorting = False  # a sort runs in a thread (SORT_IN_THREAD rows or more)
        self._note = ""
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        yield FilterInput(placeholder="filter (enter: back to the table, escape: clear)",
                          classes="filter hidden")
        yield RecordGrid(cursor_type="row", zebra_stripes=True)
        yield Static(f"loading {self.noun}…", classes="count")

    def on_mount(self) -> None:
        self._build_columns()

    def _labels(self) -> list[str]:
        """The column names, the sorted one marked with its direction."""
        labels = list(self._columns)
        if self.sort is not None:
            col, rev = self.sort
            labels[col] += " ▼" if rev else " ▲"
        return labels

    @property
    def grid(self) -> RecordGrid:
        return self.query_one(RecordGrid)

    @property
    def filter_input(self) -> FilterInput:
        return self.query_one(FilterInput)

    @property
    def records(self) -> View:
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
    def position(self) -> int:
        """The cursor's index among all the matches (not only the window's rows)."""
        return self._offset + (self.grid.cursor_row or 0)

    @property
    def match_count(self) -> int:
        return len(self._found)

    # -- moving through every row --------------------------------------------------
    def go_to(self, index: int) -> None:
        """Put the cursor on the index-th match (clamped), moving the window when the row
        is outside it: half a window of context on each side."""
        if not self._found:
            return
        index = max(0, min(index, len(self._found) - 1))
        if not self._offset <= index < self._offset + len(self._shown):
            self._offset = self._window_around(index)
            self._fill_window()
        self.grid.move_cursor(row=index - self._offset, animate=False)
        self._update_count()

    @property
    def columns(self) -> tuple[str, ...]:
        return self._columns

    def plain_rows(self) -> Iterator[list[str]]:
        """Every match, in the shown order, as the plain text of its cells (what `e` saves).
        Made as it is read, from what is shown now (the views never change, a reload makes
        new ones): a worker thread may write them while the table goes on."""
        found, newer, cells_of = self._found, dict(self._newer), self._cells_of
        for r in found:
            cells = cells_of(newer.get(r[KEY], r)[DATA])
            yield [c.plain if isinstance(c, Text) else str(c) for c in cells]

    def toggle_mark(self) -> None:
        key = self.selected_key
        if key is None:
            return
        self.marked.symmetric_difference_update({key})
        row = self.grid.cursor_row
        first = self._first_cell(self.shown_records[row])
        self.grid.update_cell_at(Coordinate(row, 0), first, update_width=True)
        self._update_count()
        self.refit()  # the mark widens the first column

    def clear_marks(self) -> None:
        if self.marked:
            self.marked.clear()
            self._fill_window()
            self._update_count()

    def _window_around(self, index: int) -> int:
        """The first row of a window with the index-th match in its middle (at the ends, as
        near as the matches allow)."""
        return max(0, min(index - self.window // 2, len(self._found) - self.window))

    def next_sort(self) -> None:
        """Sort by the next column; the same column again first reversed; after the last,
        back to the screen's order. The selected row stays selected."""
        if self.sort is None:
            self.sort = (0, False)
        elif not self.sort[1]:
            self.sort = (self.sort[0], True)
        else:
            self.sort = (self.sort[0] + 1, False) if self.sort[0] + 1 < len(self._columns) else None
        keep = self.selected_key
        self._build_columns()
        if not self._loaded:  # the records are sorted as they arrive
            return
        if len(self._rows) < SORT_IN_THREAD:
            self._replace(keep=keep)
            return
        self._sorting = True
        self._update_count()
        self._sort_in_thread(self._rows, self.sort, keep)

    @work(thread=True, exclusive=True, group="sort", exit_on_error=False)
    def _sort_in_thread(self, rows: Rows, sort: tuple[int, bool] | None, keep: str | None) -> None:
        """A big table sorted off the UI thread (a million users take most of a second)."""
        records = self._sorted(rows, sort)
        self.app.call_from_thread(self._sorted_now, rows, sort, records, keep)

    def _sorted_now(self, rows: Rows, sort: tuple[int, bool] | None, records: View, keep: str | None) -> None:
        if rows is not self._rows or sort != self.sort:
            return  # new rows or another sort came meanwhile, and were sorted themselves
        self._show_order(records, keep)

    def _show_order(self, records: View, keep: str | None) -> None:
        """Show the rows in this order (sorted), the filter applied to it anew."""
        self._sorting = False
        self._records = records
        self._last_match = ("", records)
        self._render_rows(keep=keep)

    def _sorted(self, rows: Rows, sort: tuple[int, bool] | None) -> View:
        """The rows in the order of sort: (column, reversed), None: the screen's order."""
        if sort is None:
            return rows
        col, rev = sort
        given = self.sort_keys[col] if col < len(self.sort_keys) else None

        def key(data: Any) -> Any:
            if given is not None:
                return given(data)
            cell = self.cells(data)[col]
            return cell.plain if isinstance(cell, Text) else str(cell)

        keys = list(map(key, rows.datas()))
        order = sorted(range(rows.valid), key=keys.__getitem__, reverse=rev)
        return Picked(rows, chain(order, range(rows.valid, len(rows))))  # flagged rows stay last

    @property
    def selected_data(self) -> Any:
        """The data of the selected row's record (None when no row is selected)."""
        key = self.selected_key
        if key is None:
            return None
        if key in self._newer:
            return self._newer[key][DATA]
        i = self._rows.index_of(key)
        return self._rows[i][DATA] if i >= 0 else None

    # -- data in ----------------------------------------------------------------
    def set_columns(self, columns: Sequence[str | Col]) -> None:
        specs = tuple(map(as_col, columns))
        if specs != self._specs:
            self._specs = specs
            self._columns = tuple(c.name for c in specs)
            if self.sort is not None and self.sort[0] >= len(specs):
                self.sort = None
            self._layout = tuple((i, None) for i in range(len(specs)))
            self._build_columns()

    # -- columns that fit the width -------------------------------------------------
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
        labels = self._labels()
        natural = [cell_len(label) for label in labels]
        for r in window:
            for i, cell in enumerate(self._cells_of(r[DATA])):
                cell = safe_cell(cell)  # as drawn: a control character takes more room
                w = cell_len(cell.plain) if isinstance(cell, Text) else cell_len(cell)
                if w > natural[i]:
                    natural[i] = w
        if self.marked:
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
        if self._layout != before and self._loaded:
            row = self.grid.cursor_row
            self._fill_window()
            if self._shown:
                self.grid.move_cursor(row=row, animate=False)

    @property
    def shown_columns(self) -> list[str]:
        """The names of the columns in the grid (the others give way on a narrow screen)."""
        return [self._columns[i] for i, _ in self._layout]

    def set_records(self, records: Sequence[Record], invalid: Sequence[InvalidRecord] = ()) -> None:
        """Replace the data, keeping the filter and, if still shown, the selected row.
        invalid: stored records that break the rules, shown last as flagged rows (never
        hidden) and counted after the count."""
        self.set_chunks([Chunk.of(records)], invalid)

    def set_chunks(self, chunks: Sequence[Chunk], invalid: Sequence[InvalidRecord] = ()) -> None:
        """set_records with the records packed already (by a worker: a big table's are)."""
        self._chunks = tuple(chunks)
        self._flagged = [invalid_record(r, len(self._columns)) for r in invalid]
        self._replace(keep=self.selected_key)

    def add_chunks(self, chunks: Sequence[Chunk], invalid: Sequence[InvalidRecord] = ()) -> None:
        """The next part of a load: shown at once, the filter and sort applied to it too."""
        self._chunks += tuple(chunks)
        self._flagged += [invalid_record(r, len(self._columns)) for r in invalid]
        self._replace(keep=self.selected_key)

    @property
    def loaded(self) -> bool:
        """Some records have been given (a load's first part at least)."""
        return self._loaded

    @property
    def complete(self) -> bool:
        """False while the parts of a load are still coming (add_records)."""
        return self._complete

    def set_complete(self, complete: bool) -> None:
        """Say whether more parts of this load follow; the count says it is still loading."""
        self._complete = complete
        self._update_count()

    def _replace(self, keep: str | None) -> None:
        rows = self._rows = Rows(self._chunks, self._flagged)
        self._note = f"{len(self._flagged):,} invalid stored record(s), flagged" if self._flagged else ""
        if self.marked:
            self.marked = {key for key in self.marked if rows.index_of(key) >= 0}
        self._newer = {}  # the full data is the newest
        self._loaded = True
        self._show_order(self._sorted(rows, self.sort), keep)  # sorted here, at once

    def holds(self, key: str) -> bool:
        """The table has a valid row with this key."""
        return self._rows.find(key) >= 0

    @property
    def held(self) -> int:
        """How many rows the table holds: every record given, the flagged ones too."""
        return len(self._rows)

    @property
    def shown_records(self) -> tuple[Record, ...]:
        """The records of the rows in the window, in order (the newest of patched ones)."""
        return self._current(self._found[self._offset:self._offset + self.window])

    def _current(self, rows: Iterable[Record]) -> tuple[Record, ...]:
        """These rows with patched ones replaced by their newer record."""
        newer = self._newer
        return tuple([newer.get(r[KEY], r) for r in rows]) if newer else tuple(rows)

    def patch(self, records: Sequence[Record], *, anywhere: bool = False) -> int:
        """New data for rows someone changed, shown at once without reading, sorting or
        filtering the others again: kept beside the rows until the next full load replaces
        them all (a copy of a million-row tuple to put one row in it would stall the UI;
        and a row whose change moves it in the sort or out of the filter moves then).
        Records of keys not in the window are ignored unless anywhere (a watch says which
        rows changed, wherever they are). Returns how many rows changed."""
        shown = {r[KEY]: r for r in self.shown_records}
        changed = [n for n in records if shown.get(n[KEY], n) != n or (anywhere and n[KEY] not in shown)]
        if not changed:
            return 0
        self._newer.update((n[KEY], n) for n in changed)
        self._fill_window()  # the count is the same: rows changed, none came or went
        return len(changed)

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

    def matches(self) -> View:
        needle = self.filter_text.strip().lower()
        if not needle:
            return self._records
        last_needle, last = self._last_match
        # typing on narrows the previous matches instead of the whole list
        source = last if last_needle and last_needle in needle else self._records
        found = narrowed(source, needle)
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

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._update_count()

    # -- rendering ----------------------------------------------------------------
    def _render_rows(self, keep: str | None) -> None:
        """Show the matches from the top, or around the row `keep` when it still matches."""
        near = self.position
        self._found = self.matches()
        index = 0 if keep is None else self._index_of(keep, near)
        if not self._offset <= index < self._offset + self.window:
            self._offset = self._window_around(index) if index >= self.window else 0
        self._fill_window()
        if self._shown:
            self.grid.move_cursor(row=index - self._offset, animate=False)
        self._update_count()

    def _index_of(self, key: str, near: int) -> int:
        """The index of the match with this key (0 when none matches): looked for around
        `near` first, where a reload finds it (a scan of a million rows costs 50 ms)."""
        found = self._found
        lo, hi = max(0, near - self.window), min(len(found), near + self.window)
        for i, r in enumerate(found[lo:hi], lo):
            if r[KEY] == key:
                return i
        index = self._rows.index_of(key)
        return max(0, position(found, index)) if index >= 0 else 0

    def _fill_window(self) -> None:
        window = self.shown_records
        self._fit_columns(window)
        keys = [r[KEY] for r in window]
        drawn = [(r[DATA], r[KEY] in self.marked) for r in window]
        if keys == self._shown and len(self._shown_data) == len(window):
            # the same rows (a reload after someone's change): only the rows that changed
            # are drawn again, not two hundred (a daemon writing 50 changes/s reloads often)
            for i, r in enumerate(window):
                if drawn[i] != self._shown_data[i]:
                    for col, cell in enumerate(self._row_cells(r)):
                        self.grid.update_cell_at(Coordinate(i, col), cell)
            self._shown_data = drawn
            return
        grid = self.grid
        grid.clear()
        self._shown = keys
        self._shown_data = drawn
        for r in window:
            grid.add_row(*self._row_cells(r))

    def _cells_of(self, data: Any) -> tuple[str | Text, ...]:
        """A row's cells: a flagged row's own, else what the screen's cells function makes."""
        return data.cells if type(data) is Flagged else self.cells(data)

    def _row_cells(self, r: Record) -> list[Cell]:
        """The cells of the columns shown, a cut column's text ending in "…"."""
        cells = self._cells_of(r[DATA])
        row = [as_text(cut(safe_cell(cells[i]), width, self._specs[i].middle)) for i, width in self._layout]
        if self.marked and r[KEY] in self.marked:
            row[0] = self._first_cell(r)
        return row

    def _first_cell(self, r: Record) -> Cell:
        """The first cell of a row, with the mark when it is marked."""
        width = self._layout[0][1]
        cell = cut(safe_cell(self._cells_of(r[DATA])[0]), width and width - MARK_WIDTH, self._specs[0].middle)
        if r[KEY] not in self.marked:
            return as_text(cell)
        return Cell(Text.assemble(("● ", "bold yellow"), cell if isinstance(cell, Text) else Text(cell)))

    def _update_count(self) -> None:
        found, total = self._found, len(self._records)
        if not self._loaded:
            text = f"loading {self.noun}…"
        else:
            where = f"row {self.position + 1:,} of " if found else ""
            so_far = "" if self._complete else " so far, loading…"
            if len(found) == total:
                text = f"{where}{total:,} {self.noun}{so_far}"
            else:
                text = f"{where}{len(found):,} matching (of {total:,}{so_far}) {self.noun}"
        if self.marked:
            text += f"  ·  {len(self.marked):,} marked"
        if self._note:
            text += f"  ({self._note})"
        if self.filter_text.strip():
            text += f"  filter: {printable(repr(self.filter_text.strip()))}"
        if self.sort is not None:
            col, rev = self.sort
            done = "sorting" if self._sorting else "sorted"
            text += f"  {done} by {self._columns[col]}{', reversed' if rev else ''}{'…' if self._sorting else ''}"
        self.query_one(".count", Static).update(Text(text))
