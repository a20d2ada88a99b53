"""The help screen: every key of SPEC section 8 (declared in tui/keys.py)."""

from __future__ import annotations

from rich.console import Group
from rich.padding import Padding
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..keys import help_lines
from ..session import POLL_INTERVAL

#: (key, what it does), in the order of tui/keys.py, where every key is declared
KEYS = help_lines()
NOTES = ["Sealed keys are shown as fingerprints only.",
         f"Changes by others (the daemon, another admin) appear within {POLL_INTERVAL:g} s."]


def help_table() -> Padding:
    """The keys, each description wrapping beside its key (never under it) on a narrow screen."""
    table = Table.grid(padding=(0, 1, 0, 0))
    table.add_column(no_wrap=True, width=10)
    table.add_column()
    for k, what in KEYS:
        table.add_row(k, what)
    return Padding(Group(table, "", *NOTES), (0, 0, 0, 2))


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Static("Keys", classes="dialog-title")
            # scrolls (arrows, pgup/pgdn) when the terminal is too short for every key
            with VerticalScroll(classes="dialog-body"):
                yield Static(help_table())
            yield Static("escape, q or ? closes", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
