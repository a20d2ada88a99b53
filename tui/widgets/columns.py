"""Which columns of a table fit a width, as k9s does it: identifiers and status always shown,
free text (names, reasons) cut with "…", the least important columns hidden first; an
identifier too long to fit (a 64-hex-digit key) shortened in its middle before any of that.

Pure functions of the column specs, the widest cell of each column and the room there is, so
a table recomputes its layout on every resize and every new set of rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text

#: a cut column keeps at least this many cells (or its label's width, if wider)
LEAST = 12
#: a column shortened in the middle keeps at least this many cells: 8 of each end
#: (7f3a9c0d…d6e7f809), enough to tell keys apart and to find one with the filter
LEAST_MIDDLE = 17
#: cells of padding around each column (a DataTable's cell_padding on both sides)
PADDING = 2


@dataclass(frozen=True, slots=True)
class Col:
    """A column and what it gives up when the table is narrow.

    priority: 0 is never hidden (identifiers, status); when the columns do not fit, the
    highest number is hidden first (of equal ones, the rightmost). shrink: free text, cut
    with "…" down to LEAST cells before any column is hidden. middle: cut in its middle
    instead (its ends tell one key from another; y copies it whole), down to LEAST_MIDDLE
    cells before any column is hidden; an identifier (middle, not shrink) gets its room back
    last, so the free text beside it is cut only once the identifier is as short as it goes.
    """

    name: str
    priority: int = 0
    shrink: bool = False
    middle: bool = False


def as_col(column: str | Col) -> Col:
    return column if isinstance(column, Col) else Col(column)


#: a table's layout: (column index, width) of each column shown, in order; width None is
#: the column's own (widest cell), a number is a cut column's width
Layout = tuple[tuple[int, int | None], ...]


def fit_columns(cols: Sequence[Col], natural: Sequence[int], room: int) -> Layout:
    """The columns to show in room cells, given each column's natural width (its widest cell
    or label). The first column is always shown. When even the columns that are never hidden
    do not fit, the table scrolls sideways: nothing else is given up."""
    def least_of(c: Col, n: int) -> int:
        if c.middle:
            return min(n, max(LEAST_MIDDLE, len(c.name)))
        return min(n, max(LEAST, len(c.name))) if c.shrink else n

    least = [least_of(c, n) for c, n in zip(cols, natural, strict=True)]
    shown = list(range(len(cols)))

    def need() -> int:
        return sum(least[i] + PADDING for i in shown)

    # the least important first; of equal ones, the rightmost
    for i in sorted((i for i in shown[1:] if cols[i].priority > 0), key=lambda i: (cols[i].priority, i),
                    reverse=True):
        if need() <= room:
            break
        shown.remove(i)
    widths = list(least)
    spare = room - need()
    # the room left goes back to the cut columns, left to right, identifiers last
    for i in sorted(shown, key=lambda i: cols[i].middle and not cols[i].shrink):
        give = max(0, min(natural[i] - widths[i], spare))
        widths[i] += give
        spare -= give
    return tuple((i, widths[i] if widths[i] < natural[i] else None) for i in shown)


def cut(cell: str | Text, width: int | None, middle: bool = False) -> str | Text:
    """The cell in at most width cells: its end replaced by "…" when it is longer, or with
    middle its middle (7f3a9c0d…d6e7f809)."""
    if width is None:
        return cell
    text = cell if isinstance(cell, Text) else Text(cell)
    if text.cell_len <= width:
        return cell
    if middle and width >= 3 and text.cell_len == len(text.plain):  # a cell per character
        head, tail = width // 2, (width - 1) // 2
        return text[:head] + Text("…") + text[len(text) - tail:]
    text = text.copy()
    text.truncate(width, overflow="ellipsis")
    return text
