"""A yes/no confirmation: ModalScreen[bool]. y confirms; n or escape cancels.

With ask_reason, a box takes the operator's optional reason (SPEC section 10: kept in the
audit trail): tab goes to it, enter there confirms; y and n stay answers while the buttons
have the focus, so a plain "r y" still revokes."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from store.audit import MAX_REASON


class ConfirmScreen(ModalScreen[bool]):
    # No has the focus from the moment the dialog is up (enter on a stray key must not
    # confirm), not from a focus() on mount, which lands a moment later
    AUTO_FOCUS = "#no"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, title: str, body: str, *, ask_reason: bool = False, blink: bool = True) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.ask_reason = ask_reason
        self.blink = blink
        #: the reason typed (None: none), read once the screen is dismissed
        self.reason: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield Static(self.body, classes="dialog-body")
            if self.ask_reason:
                yield Input(placeholder="reason, optional (tab to type, enter confirms)",
                            max_length=MAX_REASON, id="reason", classes="reason")
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        for box in self.query(Input):
            box.cursor_blink = self.blink

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self._answer(event.button.id == "yes")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._answer(True)

    def action_answer(self, yes: bool) -> None:
        self._answer(yes)

    def _answer(self, yes: bool) -> None:
        if yes and self.ask_reason:
            self.reason = self.query_one("#reason", Input).value.strip() or None
        self.dismiss(yes)


class PlanScreen(ConfirmScreen):
    """The bulk confirmation as a plan (SPEC section 11): each user by name and key in a list
    that scrolls (pgup/pgdn, the mouse wheel), how many change, who is already so, the rooms at
    risk. y applies it (each user a compare-and-set against the revision read for the plan);
    w saves it to a file instead (`membership-admin apply` makes it later); n or escape
    cancels. The reason box is the plan's reason."""

    BINDINGS = [
        *ConfirmScreen.BINDINGS,
        Binding("w", "save", "Save plan"),
        Binding("pageup", "scroll_body(-1)", "Page up", show=False),
        Binding("pagedown", "scroll_body(1)", "Page down", show=False),
    ]

    def __init__(self, title: str, lines: list[str], *, blink: bool = True) -> None:
        super().__init__(title, "\n".join(lines), ask_reason=True, blink=blink)
        #: w was pressed: the caller saves the plan instead of applying it
        self.save = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog plan"):
            yield Static(self.title_text, classes="dialog-title")
            body = VerticalScroll(classes="plan-body", id="plan-body")
            body.can_focus = False  # tab goes to the reason as in every confirmation; pgup/pgdn scroll
            with body:
                yield Static(self.body, classes="dialog-body", markup=False)
            yield Input(placeholder="reason, optional (tab to type, enter confirms)",
                        max_length=MAX_REASON, id="reason", classes="reason")
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("Save plan (w)", id="save")
                yield Button("No (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            super().on_button_pressed(event)

    def action_save(self) -> None:
        self.save = True
        self.reason = self.query_one("#reason", Input).value.strip() or None
        self.dismiss(False)

    def action_scroll_body(self, pages: int) -> None:
        body = self.query_one("#plan-body", VerticalScroll)
        body.scroll_to(y=body.scroll_y + pages * max(1, body.size.height - 1), animate=False)
