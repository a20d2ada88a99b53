"""A table cell as the terminal shows it: control characters written visibly, cut to its
column's width with "…", drawn as one line that is never read as markup."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, ConsoleOptions
from rich.measure import Measurement
from rich.segment import Segment
from rich.text import Text

from store.text import printable


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


def marked_cell(cell: str | Text) -> Cell:
    """The first cell of a marked row: the mark, then the cell."""
    return Cell(Text.assemble(("● ", "bold yellow"), cell if isinstance(cell, Text) else Text(cell)))
