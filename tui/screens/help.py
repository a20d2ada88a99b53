"""The help screen: every key of SPEC section 8."""

from __future__ import annotations

from rich.console import Group
from rich.padding import Padding
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("1 2 3 4 5", "rooms, users, migration, health, audit trail"),
    ("/", "filter the table: typing narrows it; enter: to the table; escape: clears"),
    ("enter", "open the selected row (a room's detail; a user's rooms)"),
    ("escape", "back"),
    ("g G", "first, last row (also home, end; pgup pgdn: a page): every row is reachable"),
    ("s", "sort by the next column (again: reversed); the header shows the order"),
    ("y", "copy the selected row's key (OSC 52: works over ssh)"),
    ("space", "mark the selected row; r and i on marked users act on all of them"),
    ("e", "save the current table (filtered, sorted) as .csv or .json"),
    ("r", "revoke the selected user (confirm with y; tab: a reason; n or escape cancels)"),
    ("i", "reinstate the selected user (same confirmation)"),
    ("h", "the selected user's history: its revisions and the audit events naming it"),
    ("a", "add a user (a form that validates as you type)"),
    ("m", "on the migration screen: start (or re-run) the migration"),
    ("?", "this help"),
    ("ctrl+p", "command palette"),
    ("q", "quit"),
]


NOTES = ["Sealed keys are shown as fingerprints only.",
         "Changes by others (the daemon, another admin) appear within 2 s."]


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
