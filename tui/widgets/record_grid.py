"""The grid of a RecordTable: a Textual DataTable that draws a window of a TableModel's
matches, its columns fitted to the width (columns.fit_columns).

A DataTable with 100,000 rows is too slow to fill, so the grid holds at most `window` rows
and the window moves under the cursor: arrows, j/k and pgup/pgdn past its edge, g/home and
G/end bring the rows there into it (a cost that does not grow with the number of rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.actions import SkipAction
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from store.text import printable

from .. import keys
from ..keys import Scope
from .cells import Cell, as_text, marked_cell, safe_cell
from .columns import Col, Layout, cut, fit_columns
from .packed_rows import DATA, KEY, Record
from .table_model import TableModel

if TYPE_CHECKING:
    from .record_table import RecordTable

#: the room the mark ("● ") takes in the first cell of a marked row
MARK_WIDTH = 2


class RecordGrid(DataTable):
    """The cursor keys move through every match, the window following; enter opens the
    selected row (the RecordTable around it posts Opened)."""

    BINDINGS = keys.bindings(Scope.TABLE)  # tui/keys.py: enter, escape, g G, j k, s, y, space

    def __init__(self, model: TableModel, specs: Sequence[Col], window: int) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True)
        self.model = model
        self.window = window
        self.specs = tuple(specs)
        #: the columns in the grid and the width of each cut one (columns.fit_columns)
        self.fitted: Layout = tuple((i, None) for i in range(len(self.specs)))
        self.first = 0  # index among the matches of the window's first row
        self._shown: list[str] = []  # the keys of the rows in the grid
        self._shown_data: list[Any] = []  # and what they show, to redraw only changes

    def on_mount(self) -> None:
        self.build_columns()

    # -- what is shown -----------------------------------------------------------------------
    @property
    def shown_keys(self) -> list[str]:
        return list(self._shown)

    @property
    def shown_records(self) -> tuple[Record, ...]:
        """The records of the rows in the window, in order (the newest of patched ones)."""
        return self.model.slice(self.first, self.window)

    @property
    def selected_key(self) -> str | None:
        row = self.cursor_row
        return self._shown[row] if self._shown and 0 <= row < len(self._shown) else None

    @property
    def position(self) -> int:
        """The cursor's index among all the matches (not only the window's rows)."""
        return self.first + (self.cursor_row or 0)

    # -- moving the window ---------------------------------------------------------------------
    def go_to(self, index: int) -> None:
        """Put the cursor on the index-th match (clamped), moving the window when the row
        is outside it: half a window of context on each side."""
        n = len(self.model)
        if not n:
            return
        index = max(0, min(index, n - 1))
        if not self.first <= index < self.first + len(self._shown):
            self.first = max(0, min(index - self.window // 2, n - self.window))
            self.fill()
        self.move_cursor(row=index - self.first, animate=False)

    def show(self, keep: str | None) -> None:
        """Show the matches from the top, or around the row `keep` when it still matches."""
        index = 0 if keep is None else max(0, self.model.index_of(keep, self.position))
        if not self.first <= index < self.first + self.window:
            self.first = max(0, min(index - self.window // 2, len(self.model) - self.window)) \
                if index >= self.window else 0
        self.fill()
        if self._shown:
            self.move_cursor(row=index - self.first, animate=False)

    def fill(self) -> None:
        """Draw the window's rows; when they are the rows drawn already (a reload after
        someone's change), only the ones that changed (a daemon writing 50 changes/s reloads
        often)."""
        window = self.shown_records
        self._fit_columns(window)
        keys = [r[KEY] for r in window]
        drawn = [(r[DATA], self.model.is_marked(r[KEY])) for r in window]
        if keys == self._shown and len(self._shown_data) == len(window):
            for i, r in enumerate(window):
                if drawn[i] != self._shown_data[i]:
                    for col, cell in enumerate(self._row_cells(r)):
                        self.update_cell_at(Coordinate(i, col), cell)
        else:
            self.clear()
            self._shown = keys
            for r in window:
                self.add_row(*self._row_cells(r))
        self._shown_data = drawn

    def mark_drawn(self) -> None:
        """The selected row's mark drawn anew (it was toggled), its column widened."""
        row = self.cursor_row
        self.update_cell_at(Coordinate(row, 0), self._first_cell(self.shown_records[row]), update_width=True)
        self.refit()

    # -- columns that fit the width ------------------------------------------------------------
    def set_specs(self, specs: Sequence[Col]) -> None:
        self.specs = tuple(specs)
        self.fitted = tuple((i, None) for i in range(len(specs)))
        self.build_columns()

    @property
    def shown_columns(self) -> list[str]:
        """The names of the columns in the grid (the others give way on a narrow screen)."""
        return [self.model.columns[i] for i, _ in self.fitted]

    def _labels(self) -> list[str]:
        """The column names, the sorted one marked with its direction."""
        labels = list(self.model.columns)
        if self.model.sort is not None:
            col, rev = self.model.sort
            labels[col] += " ▼" if rev else " ▲"
        return labels

    def build_columns(self) -> None:
        """The columns anew, as the layout says (the rows go: the caller refills)."""
        self.clear(columns=True)
        self._shown = []
        labels = self._labels()
        for i, width in self.fitted:
            self.add_column(labels[i], width=width)

    def _fit_columns(self, window: Sequence[Record]) -> None:
        """Choose the columns shown for these rows at the grid's width; the columns are made
        anew only when the choice changes. Before the first layout (no width yet) every
        column is shown."""
        width = self.size.width
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
        if len(window) + self.header_height > self.size.height:  # the rows scroll: a scrollbar
            width -= self.styles.scrollbar_size_vertical
        layout = fit_columns(self.specs, natural, width)
        if layout != self.fitted:
            self.fitted = layout
            self.build_columns()

    def refit(self) -> None:
        """Fit the columns again (the width or the marks changed), keeping the cursor's row."""
        before = self.fitted
        self._fit_columns(self.shown_records)
        if self.fitted != before and self.model.loaded:
            row = self.cursor_row
            self.fill()
            if self._shown:
                self.move_cursor(row=row, animate=False)

    def on_resize(self, event: events.Resize) -> None:
        self.refit()

    def _row_cells(self, r: Record) -> list[Cell]:
        """The cells of the columns shown, a cut column's text ending in "…"."""
        cells = self.model.cells_of(r[DATA])
        row = [as_text(cut(safe_cell(cells[i]), width, self.specs[i].middle)) for i, width in self.fitted]
        if self.model.is_marked(r[KEY]):
            row[0] = self._first_cell(r)
        return row

    def _first_cell(self, r: Record) -> Cell:
        """The first cell of a row, with the mark when it is marked."""
        marked = self.model.is_marked(r[KEY])
        width = self.fitted[0][1]
        if width is not None and marked:
            width -= MARK_WIDTH
        cell = cut(safe_cell(self.model.cells_of(r[DATA])[0]), width, self.specs[0].middle)
        return marked_cell(cell) if marked else as_text(cell)

    # -- the keys ----------------------------------------------------------------------------
    @property
    def records(self) -> RecordTable:
        return cast("RecordTable", self.parent)  # the grid is made by a RecordTable only

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - (self.header_height if self.show_header else 0) - 1)

    def action_cursor_down(self) -> None:
        self.records.go_to(self.position + 1)

    def action_cursor_up(self) -> None:
        self.records.go_to(self.position - 1)

    def action_page_down(self) -> None:
        self.records.go_to(self.position + self._page())

    def action_page_up(self) -> None:
        self.records.go_to(self.position - self._page())

    def action_first(self) -> None:
        self.records.go_to(0)

    def action_last(self) -> None:
        self.records.go_to(len(self.model) - 1)

    def action_scroll_top(self) -> None:
        self.action_first()

    def action_scroll_bottom(self) -> None:
        self.action_last()

    def action_sort(self) -> None:
        self.records.next_sort()

    def action_mark(self) -> None:
        self.records.toggle_mark()
        self.records.go_to(self.position + 1)  # on to the next row, as file managers do

    def action_clear_filter(self) -> None:
        """escape: a filter is cleared first (as k9s does); without one, the screen's escape
        (back) runs."""
        if not self.records.clear_filter():
            raise SkipAction()

    def action_copy(self) -> None:
        key = self.selected_key
        if key is None:
            return
        self.app.copy_to_clipboard(key)  # OSC 52: works over ssh
        self.app.notify(f"copied {printable(key)}", timeout=3)
