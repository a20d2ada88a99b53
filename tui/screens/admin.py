"""What every full screen shares: the footer's keys and what they do by default."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from .. import keys
from ..keys import Scope
from ..messages import AddUser, ChangeUser, ChangeUsers, OpenHistory
from ..services import UserChange
from ..session import Session


class AdminScreen(Screen[None]):
    """A full screen of the app, made with the session (never with the app itself).

    Every full screen offers the same keys, in the help screen's order: Textual lists a
    screen's keys before the app's in the footer, so the order holds only with the keys kept
    together here. A screen overrides the actions it gives a meaning to: filter, the selected
    user of r and i, m on the migration screen.
    """

    BINDINGS = keys.bindings(Scope.SCREEN)  # tui/keys.py: every key, declared once

    def __init__(self, session: Session, **kw: Any) -> None:
        super().__init__(**kw)
        self.session = session

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Under a dialog (a confirmation, the form, help) every key goes to the dialog, so the
        # footer left in view beneath it does not offer this screen's keys.
        return self.is_active

    def on_mount(self) -> None:
        for box in self.query(Input):
            box.cursor_blink = self.session.blink  # off for pictures, so they are stable

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # One place turns a failed worker into a readable message; the screen stays usable.
        if event.state == WorkerState.ERROR:
            self.session.report_error(event.worker.error)

    # -- the keys -------------------------------------------------------------------------
    def action_show(self, mode: str) -> None:
        if self.app.current_mode != mode:
            self.app.switch_mode(mode)

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:  # the first screen of a mode stays
            self.dismiss()

    def action_help(self) -> None:
        self.app.push_screen("help")

    def action_filter(self) -> None:
        self.session.notify("nothing to filter here", severity="warning")

    def action_export(self) -> None:
        self.session.notify("no table to save here", severity="warning")

    def action_sort(self) -> None:
        self.session.notify("nothing to sort here", severity="warning")

    def action_migrate(self) -> None:
        self.session.notify("m starts the migration on the migration screen (3)")

    def action_revoke(self) -> None:
        self._change_user(UserChange.REVOKE)

    def action_reinstate(self) -> None:
        self._change_user(UserChange.REINSTATE)

    def action_add_user(self) -> None:
        if not self.session.refuse_change("add user") and self.session.store is not None:
            self.post_message(AddUser())

    def selected_user_key(self) -> str | None:
        """The user that r, i and h act on here, if any."""
        return None

    def action_history(self) -> None:
        key = self.selected_user_key()
        if key is None:
            self.session.notify("select a user first (2: users, or a member in a room)", severity="warning")
        elif self.session.store is not None:
            self.post_message(OpenHistory(key))

    def marked_user_keys(self) -> list[str]:
        """The users marked here with space, which r and i then act on together."""
        return []

    def _change_user(self, change: UserChange) -> None:
        if self.session.refuse_change(change) or self.session.store is None:
            return
        marked = self.marked_user_keys()
        if marked:
            self.post_message(ChangeUsers(change, marked))
            return
        key = self.selected_user_key()
        if key is None:
            self.session.notify("select a user first (2: users, or a member in a room)",
                                severity="warning")
            return
        self.post_message(ChangeUser(change, key))
