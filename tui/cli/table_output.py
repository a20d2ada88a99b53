"""Rows for a person or for a pipe: an aligned table on a terminal, tab-separated values
otherwise (`--format auto`, the default of the listing commands).

The table is laid out here, measured in terminal cells by rich (Textual brings it: a wide
character counts twice), coloured by rich's styles. Identifiers (keys, times, actions, states)
are shown whole, folded onto more lines only when nothing else can give way; long free text
(names, reasons) is cut with an ellipsis to fit the terminal's width. Not rich's Table: it
renders every cell through its layout engine, 14 times the time of tab-separated output
(20,000 users: 5.2 s against 0.37 s).
Every value goes through store.text.printable, so a newline or an escape sequence in stored
text is shown, never acted on, and never starts a new row or field.

Colour only for a person: stdout a terminal and NO_COLOR unset or empty (https://no-color.org);
otherwise no escape sequence at all, bold included.
"""

from __future__ import annotations

import csv
import os
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from rich.cells import cell_len, chop_cells, set_cell_size
from rich.color import ColorSystem
from rich.style import Style

from store.text import printable

#: the --format choices every listing shares; a command may add its own (csv, json)
AUTO, TABLE, TSV = "auto", "table", "tsv"
#: the width of a table written to a pipe (--format table) when COLUMNS does not say
PIPE_WIDTH = 120
#: spaces between two columns
GAP = 2
#: the header line's style (on a terminal, without NO_COLOR)
HEADER_STYLE = Style(bold=True)
#: a free column is cut no narrower than this (or its widest value) before identifiers fold
FREE_FLOOR = 6


@dataclass(frozen=True)
class Column:
    """One column: its header, whether it holds long free text, and the colour of some values.

    free: shrunk first and cut with "…" when the row is wider than the terminal (names,
    reasons); otherwise the value is shown whole, folded onto a second line in the last resort.
    width: the fixed width of a streamed table (every batch lines up under the first header).
    """

    name: str
    free: bool = False
    width: int | None = None
    styles: Mapping[str, str] = field(default_factory=dict)


def resolve(fmt: str, out: TextIO | None = None) -> str:
    """auto: a table on a terminal, tsv in a pipe; any other format as given."""
    if fmt != AUTO:
        return fmt
    return TABLE if (out or sys.stdout).isatty() else TSV


def colour(out: TextIO | None = None) -> bool:
    """Colour (and other styling) for this stream: a terminal, and NO_COLOR unset or empty."""
    return (out or sys.stdout).isatty() and not os.environ.get("NO_COLOR")


def width_of(out: TextIO | None = None) -> int:
    """The terminal's width (COLUMNS first, as shells set it); in a pipe COLUMNS, else PIPE_WIDTH."""
    if not (out or sys.stdout).isatty():
        columns = os.environ.get("COLUMNS", "")
        return int(columns) if columns.isdigit() and int(columns) > 0 else PIPE_WIDTH
    return shutil.get_terminal_size((PIPE_WIDTH, 24)).columns


def print_table(columns: Sequence[Column], rows: Iterable[Sequence[object]], *, header: bool = True,
                stream: bool = False, out: TextIO | None = None) -> None:
    """An aligned table as wide as the terminal allows. stream: the widths come from the
    columns (fixed ones, the free ones sharing the rest), not from these rows, so tables
    printed one after another (a follower's batches) line up."""
    out = out or sys.stdout
    width = width_of(out)
    cells = [[printable(v) for v in row] for row in rows]
    if stream:
        natural = [width if c.free else (c.width or width) for c in columns]
    else:
        natural = [max([cell_len(c.name), *(cell_len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    widths = fit(natural, [c.free for c in columns], width - GAP * (len(columns) - 1))
    system = ColorSystem.STANDARD if colour(out) else None  # None: Style.render adds nothing
    lines: list[str] = []
    if header:
        lines += _row_lines(columns, widths, [c.name for c in columns], system, HEADER_STYLE)
    for row in cells:
        lines += _row_lines(columns, widths, row, system)
    out.write("".join(line + "\n" for line in lines))


def _row_lines(columns: Sequence[Column], widths: Sequence[int], row: Sequence[str],
               system: ColorSystem | None, style: Style | None = None) -> list[str]:
    """One row as terminal lines: free text cut with "…", anything else folded onto more lines."""
    parts = []
    for c, w, text in zip(columns, widths, row, strict=True):
        if c.free:
            parts.append([text if cell_len(text) <= w else set_cell_size(text, w - 1).rstrip() + "…"])
        else:
            parts.append(chop_cells(text, w) or [""])
    lines = []
    for i in range(max(map(len, parts))):
        line = []
        for c, w, piece, text in zip(columns, widths, parts, row, strict=True):
            shown = piece[i] if i < len(piece) else ""
            paint = style or (Style.parse(c.styles[text]) if text in c.styles else None)
            line.append((paint.render(shown, color_system=system) if paint else shown)
                        + " " * (w - cell_len(shown)))
        lines.append((" " * GAP).join(line).rstrip())
    return lines


def fit(natural: Sequence[int], free: Sequence[bool], room: int) -> list[int]:
    """Column widths that fit in room: the free columns shrink first (the widest first, down to
    FREE_FLOOR), then, if that is not enough, the others (their values fold, never cut)."""
    room = max(room, len(natural))  # a terminal too narrow for anything: a column each
    widths = [min(n, room) for n in natural]  # nothing is wider than the whole table
    for shrinking, floor in ((True, FREE_FLOOR), (False, 1)):
        floors = [min(n, floor) for n in widths]
        while sum(widths) > room:
            candidates = [i for i, w in enumerate(widths) if free[i] == shrinking and w > floors[i]]
            if not candidates:
                break
            widest = max(candidates, key=lambda i: widths[i])
            widths[widest] -= 1
    return widths


def print_tsv(columns: Sequence[Column], rows: Iterable[Sequence[object]], *, header: bool = True,
              out: TextIO | None = None) -> None:
    """A header line, then a line per row; a tab or newline in a value is escaped by
    printable, never a new field or line."""
    out = out or sys.stdout
    if header:
        out.write("\t".join(c.name for c in columns) + "\n")
    for row in rows:
        out.write("\t".join(printable(v) for v in row) + "\n")


#: how a spreadsheet's formula may start (a tab or a carriage return before one is skipped)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A value for a CSV cell that no spreadsheet runs as a formula: text starting as one
    does gets a leading ' (SPEC 7; OWASP's CSV injection advice). JSON and TSV keep the
    exact text: they are for programs, which do not evaluate cells."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def write_csv(out: TextIO, header: Sequence[str] | None, rows: Iterable[Sequence[object]]) -> int:
    """A header line (unless None), then a line per row, each cell through csv_cell; returns
    the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    # Python's csv quotes a field holding "\n" but not one holding only "\r" (with "\n" line
    # ends), which a reader then takes for a line end: such a row is written all quoted
    quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def write(cells: Sequence[object]) -> None:
        shown = [csv_cell(v) for v in cells]
        (quoted if any("\r" in c for c in shown) else writer).writerow(shown)

    if header is not None:
        write(header)
    n = 0
    for row in rows:
        write(row)
        n += 1
    return n


def print_rows(fmt: str, columns: Sequence[Column], rows: Iterable[Sequence[object]], *,
               header: bool = True, stream: bool = False, out: TextIO | None = None) -> None:
    """The rows as fmt says: table, tsv, or auto (table on a terminal, tsv in a pipe)."""
    if resolve(fmt, out) == TABLE:
        print_table(columns, rows, header=header, stream=stream, out=out)
    else:
        print_tsv(columns, rows, header=header, out=out)
