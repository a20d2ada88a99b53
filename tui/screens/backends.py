"""The picker `:` opens: another backend to browse, without leaving (k9s's `:ctx`).
ModalScreen[Choice | None]: enter opens the selected one, escape keeps the one open."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from store.text import printable

from ..backends import Choice


class BackendPicker(ModalScreen[Choice | None]):
    AUTO_FOCUS = "#backends"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str, found: list[Choice], problems: list[str]) -> None:
        super().__init__()
        self.current = current
        self.found = found
        self.problems = problems

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog backends"):
            yield Static(Text(f"Open another backend (now: {printable(self.current)})"), classes="dialog-title")
            if self.found:
                yield OptionList(*(Option(Text(f"{c.kind:<17}{printable(c.label)}"), id=str(i))
                                   for i, c in enumerate(self.found)), id="backends")
            else:
                yield Static("nothing else to open: no natscli context, no other backend opened in this "
                             "run, no migration target", classes="dialog-body")
            for line in self.problems:  # a context that cannot be read is said, not hidden
                yield Static(Text(printable(line)), classes="error")
            yield Static("enter opens the selected one; escape keeps this one", classes="hint")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.found[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
