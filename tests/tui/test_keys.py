"""tui/keys.py is the one table of keys: the footer, the help and the palette are made from it,
and every action it names exists where its key is bound (no drift between them)."""

from __future__ import annotations

import inspect

from tui import keys
from tui.app import MembershipApp
from tui.commands import COMMANDS
from tui.keys import KEYS, Scope
from tui.screens.base import AdminScreen, DataScreen
from tui.screens.help import KEYS as HELP_KEYS
from tui.screens.help import NOTES
from tui.screens.migration import MigrationScreen
from tui.session import POLL_INTERVAL
from tui.widgets.record_table import RecordGrid

OWNERS = {Scope.SCREEN: AdminScreen, Scope.TABLE: RecordGrid, Scope.MIGRATION: MigrationScreen,
          Scope.APP: MembershipApp}


def has_action(cls: type, action: str) -> bool:
    """The action is a method of cls (a full screen's: of AdminScreen or DataScreen), or of the
    app for an `app.` one."""
    name = action.split("(")[0]
    if name.startswith("app."):
        cls, name = MembershipApp, name[4:]
    classes = (cls, DataScreen) if cls is AdminScreen else (cls,)
    return any(hasattr(c, f"action_{name}") for c in classes)


def test_every_binding_comes_from_the_table_and_its_action_exists():
    for scope, owner in OWNERS.items():
        declared = [(k.key, k.action, k.description, k.show) for k in keys.bindings(scope)]
        bound = [(b.key, b.action, b.description, b.show) for b in owner.BINDINGS]  # type: ignore[union-attr]
        assert bound == declared, owner.__name__
    for k in KEYS:
        # o acts on the migration screen alone (elsewhere it is bound only to keep its place)
        owner = MigrationScreen if k.action == "open_target" else OWNERS[k.scope]
        assert has_action(owner, k.action), k


def test_the_help_and_the_palette_are_the_table():
    assert [line[0] for line in HELP_KEYS] == [k.shown or k.written for k in KEYS if k.help]
    assert {"j k", ":", "o", "m", "enter", "escape"} <= {line[0] for line in HELP_KEYS}
    assert [c[0] for c in COMMANDS] == [k.palette for k in KEYS if k.palette]
    for name, action, help_text in COMMANDS:
        key = next(k for k in KEYS if k.palette == name)
        assert help_text.endswith(f"({key.written})"), name
        owner = MembershipApp if action.startswith("app.") else MigrationScreen
        assert has_action(owner, action.removeprefix("app.")), name


def test_the_help_says_the_poll_the_app_uses():
    assert f"within {POLL_INTERVAL:g} s" in NOTES[1]
    default = inspect.signature(MembershipApp.__init__).parameters["poll_interval"].default
    assert default == POLL_INTERVAL == 1.0
