"""Add a user: key, name, role. Validates as you type with store.ids; errors show inline."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from store import InvalidInput, ids


@dataclass(frozen=True)
class NewUser:
    key: str
    name: str
    role: str


def check(key: str, name: str) -> str:
    """The first problem with the form's values, or '' when they can be submitted (a key
    that exists already is the store's to refuse)."""
    if not key:
        return "key: required"
    try:
        ids.key(key)
        ids.name(name)
    except InvalidInput as e:
        return str(e)
    return ""


class AddUserScreen(ModalScreen["NewUser | None"]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, *, blink: bool = True) -> None:
        super().__init__()
        #: the text cursors blink (off for pictures)
        self.blink = blink

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Add a user", classes="dialog-title")
            yield Label("key (public key: 1-128 of A-Z a-z 0-9 _ -)")
            yield Input(id="key", placeholder="key")
            yield Static(id="stored", classes="stored")  # the key as stored, when it differs
            yield Label("name")
            yield Input(id="name", placeholder="name (optional)")
            yield Label("role")
            yield Select([("user", "user"), ("admin", "admin")], value="user", allow_blank=False,
                         id="role")
            yield Static("key: required", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Add", id="add", variant="primary", disabled=True)
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        for box in self.query(Input):
            box.cursor_blink = self.blink
        self.query_one("#stored", Static).display = False
        self.query_one("#key", Input).focus()

    def _values(self) -> tuple[str, str, str]:
        return (self.query_one("#key", Input).value, self.query_one("#name", Input).value,
                str(self.query_one("#role", Select).value))

    def on_input_changed(self, event: Input.Changed) -> None:
        key, name, _ = self._values()
        problem = check(key, name)
        self.query_one("#error", Static).update(problem)
        self.query_one("#add", Button).disabled = bool(problem)
        # keys are stored lower-case (store.ids): say so before, not after, it is added
        stored = self.query_one("#stored", Static)
        try:
            kept = ids.key(key)
        except InvalidInput:
            kept = ""
        stored.display = bool(kept) and kept != key
        stored.update(f"stored as {kept} (keys are kept in lower case)" if stored.display else "")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "add":
            self._submit()
        else:
            self.dismiss(None)

    def _submit(self) -> None:
        key, name, role = self._values()
        problem = check(key, name)
        if problem:
            self.query_one("#error", Static).update(problem)
            return
        self.dismiss(NewUser(ids.key(key), name, role))

    def action_cancel(self) -> None:
        self.dismiss(None)
