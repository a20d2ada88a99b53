"""What a table shows, without a terminal: its rows (packed), their order, the filter's
matches, the marked rows, the rows patched since the last load, and the count line.

The view (record_table) draws a slice of the matches and moves a cursor through them; every
question about the rows is answered here, so it is tested without Textual
(tests/tui/test_table_model.py).

A record is (key, data, search): its key (what enter opens), its data, and the lower-cased
text the filter searches. data is the row's cells, or any value the table's `cells` function
turns into cells: then only the rows drawn are ever formatted (100,000 dates cost more than
1,000). A plain tuple of str and int packs best (a column a field), and a search text that
begins with the key and a tab keeps the key once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from rich.text import Text

from store import InvalidRecord
from store.text import printable

from .packed_rows import DATA, KEY, Chunk, Picked, Record, Rows, View, narrowed, position

#: (column, reversed) of a sort; None: the order the screen gave
Sort = tuple[int, bool] | None
Cells = tuple[str | Text, ...]

#: how far from the row it was a reloaded row is looked for first (a scan of a million
#: rows costs 50 ms; a reload finds it near where it was)
NEAR = 100


def record(key: str, data: Any, search: str) -> Record:
    return (key, data, search)


def as_cells(data: Any) -> Cells:
    return data


@dataclass(frozen=True, slots=True)
class Flagged:
    """Row data that is its cells already (whatever the table's cells function expects)."""

    cells: Cells


def invalid_record(r: InvalidRecord, width: int) -> Record:
    """A row for a stored record that breaks the rules: its key, the reason, flagged."""
    cells = (r.key, r.reason, Text("INVALID", style="bold red")) + ("",) * max(0, width - 3)
    return record(r.key, Flagged(cells[:width]), f"{r.key}\t{r.reason}\tinvalid".lower())


def plain(cell: str | Text) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def next_sort(sort: Sort, columns: int) -> Sort:
    """The sort after this one: the same column reversed, then the next column; after the
    last, the screen's order."""
    if sort is None:
        return (0, False)
    col, rev = sort
    if not rev:
        return (col, True)
    return (col + 1, False) if col + 1 < columns else None


class TableModel:
    """The rows of one table and what is shown of them. Used from one thread, except
    sorted(), which reads only what it is given (a big table is sorted in a thread)."""

    def __init__(self, noun: str, columns: Sequence[str], *, cells: Callable[[Any], Cells] = as_cells,
                 sort_keys: Sequence[Callable[[Any], Any] | None] = ()) -> None:
        """sort_keys: per column, a key of a row's data to sort by (default: the cell's text)."""
        self.noun = noun
        self.columns = tuple(columns)
        self.cells = cells
        self.sort_keys = tuple(sort_keys)
        self.sort: Sort = None
        self.filter_text = ""
        self.loaded = False  # some records have been given (a load's first part at least)
        #: keys of the rows marked (kept across reloads while they exist)
        self.marked: set[str] = set()
        self._chunks: tuple[Chunk, ...] = ()  # the screen's records, packed, in its order
        self._flagged: list[Record] = []  # the invalid stored records, shown last
        self.rows = Rows()  # both
        self.records: View = self.rows  # both, in the shown order
        self.found: View = self.rows  # the matches of the filter, in the shown order
        #: records newer than the rows held (patch), by key, until the next full load
        self.newer: dict[str, Record] = {}
        self._last_match: tuple[str, View] = ("", self.rows)

    # -- data in -------------------------------------------------------------------------
    def set_columns(self, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        if self.sort is not None and self.sort[0] >= len(self.columns):
            self.sort = None

    def set_chunks(self, chunks: Sequence[Chunk], invalid: Sequence[InvalidRecord] = ()) -> None:
        """Every record anew (packed already: a big table's are packed by a worker); the
        filter, the sort and the marks still there are kept."""
        self._chunks = tuple(chunks)
        self._flagged = [invalid_record(r, len(self.columns)) for r in invalid]
        self._replace()

    def add_chunks(self, chunks: Sequence[Chunk], invalid: Sequence[InvalidRecord] = ()) -> None:
        """The next part of a load, the filter and sort applied to it too."""
        self._chunks += tuple(chunks)
        self._flagged += [invalid_record(r, len(self.columns)) for r in invalid]
        self._replace()

    def _replace(self) -> None:
        rows = self.rows = Rows(self._chunks, self._flagged)
        if self.marked:
            self.marked = {key for key in self.marked if rows.index_of(key) >= 0}
        self.newer = {}  # the full data is the newest
        self.loaded = True
        self.show_order(self.sorted(rows, self.sort))  # sorted here, at once

    # -- order ---------------------------------------------------------------------------
    def sorted(self, rows: Rows, sort: Sort) -> View:
        """The rows in the order of sort (flagged rows stay last)."""
        if sort is None:
            return rows
        col, rev = sort
        given = self.sort_keys[col] if col < len(self.sort_keys) else None
        cells = self.cells
        key = given if given is not None else (lambda data: plain(cells(data)[col]))
        keys = list(map(key, rows.datas()))
        order = sorted(range(rows.valid), key=keys.__getitem__, reverse=rev)
        return Picked(rows, chain(order, range(rows.valid, len(rows))))

    def show_order(self, records: View) -> None:
        """Show the rows in this order (sorted), the filter applied to it anew."""
        self.records = records
        self._last_match = ("", records)
        self.found = self._matches()

    # -- filter --------------------------------------------------------------------------
    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.found = self._matches()

    def _matches(self) -> View:
        needle = self.filter_text.strip().lower()
        if not needle:
            return self.records
        last_needle, last = self._last_match
        # typing on narrows the previous matches instead of the whole list
        source = last if last_needle and last_needle in needle else self.records
        found = narrowed(source, needle)
        self._last_match = (needle, found)
        return found

    # -- reading -------------------------------------------------------------------------
    def __len__(self) -> int:
        """The number of matches."""
        return len(self.found)

    def slice(self, offset: int, n: int) -> tuple[Record, ...]:
        """n matches from offset, patched ones as their newer record."""
        rows = self.found[offset:offset + n]
        newer = self.newer
        return tuple([newer.get(r[KEY], r) for r in rows]) if newer else rows

    def index_of(self, key: str, near: int = 0) -> int:
        """The index among the matches of the row with this key, -1 when none matches:
        looked for around `near` first."""
        found = self.found
        lo, hi = max(0, near - NEAR), min(len(found), near + NEAR)
        for i, r in enumerate(found[lo:hi], lo):
            if r[KEY] == key:
                return i
        index = self.rows.index_of(key)
        return position(found, index) if index >= 0 else -1

    def data_of(self, key: str) -> Any:
        """The data of the record with this key (None when there is none)."""
        if key in self.newer:
            return self.newer[key][DATA]
        i = self.rows.index_of(key)
        return self.rows[i][DATA] if i >= 0 else None

    def holds(self, key: str) -> bool:
        """The table has a valid row with this key."""
        return self.rows.find(key) >= 0

    def cells_of(self, data: Any) -> Cells:
        """A row's cells: a flagged row's own, else what the screen's cells function makes."""
        return data.cells if type(data) is Flagged else self.cells(data)

    def plain_rows(self) -> Iterator[list[str]]:
        """Every match, in the shown order, as the plain text of its cells (what `e` saves).
        Made as it is read, from what is shown now (the views never change, a reload makes
        new ones): a worker thread may read them while the table goes on."""
        found, newer, cells_of = self.found, dict(self.newer), self.cells_of
        for r in found:
            yield [plain(c) for c in cells_of(newer.get(r[KEY], r)[DATA])]

    # -- marks and patches ---------------------------------------------------------------
    def toggle_mark(self, key: str) -> None:
        self.marked.symmetric_difference_update({key})

    def is_marked(self, key: str) -> bool:
        return key in self.marked

    def patch(self, records: Sequence[Record], among: Sequence[Record], *, anywhere: bool = False) -> int:
        """New data for rows someone changed, shown without reading, sorting or filtering the
        others again: kept beside the rows until the next full load replaces them all (a
        copy of a million-row tuple to put one row in it would stall the UI; a row whose
        change moves it in the sort or out of the filter moves then). Records of keys not
        among these (the rows drawn) are ignored unless anywhere (a watch says which rows
        changed, wherever they are). Returns how many rows changed."""
        shown = {r[KEY]: r for r in among}
        changed = [n for n in records if shown.get(n[KEY], n) != n or (anywhere and n[KEY] not in shown)]
        self.newer.update((n[KEY], n) for n in changed)
        return len(changed)

    # -- the count line ------------------------------------------------------------------
    def count_line(self, cursor: int, *, complete: bool = True, sorting: bool = False,
                   failed: str | None = None) -> str:
        """What the line under the table says: where the cursor is (its index among the
        matches), how many there are, marked, flagged, the filter and the sort. complete:
        no more parts of the load are coming; sorting: a new order is being made (in a
        thread); failed: why the load failed ("" when not known), None when it did not."""
        if not self.loaded:
            if failed is not None:
                return f"could not load {self.noun}" + (f": {failed}" if failed else "")
            return f"loading {self.noun}…"
        found, total = len(self.found), len(self.records)
        where = f"row {cursor + 1:,} of " if found else ""
        so_far = "" if complete else " so far, loading…"
        if found == total:
            text = f"{where}{total:,} {self.noun}{so_far}"
        else:
            text = f"{where}{found:,} matching (of {total:,}{so_far}) {self.noun}"
        if self.marked:
            text += f"  ·  {len(self.marked):,} marked"
        if self._flagged:
            text += f"  ({len(self._flagged):,} invalid stored record(s), flagged)"
        if self.filter_text.strip():
            text += f"  filter: {printable(repr(self.filter_text.strip()))}"
        if self.sort is not None:
            col, rev = self.sort
            done = "sorting" if sorting else "sorted"
            text += f"  {done} by {self.columns[col]}{', reversed' if rev else ''}{'…' if sorting else ''}"
        return text
