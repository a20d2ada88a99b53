"""Every key of the TUI (SPEC section 8), declared once: the bindings of the screens, the
tables and the app, the footer's hints, the help screen's lines and the command palette's
commands are all made from this table, so they cannot drift apart.

The order is the help screen's. The footer shows a scope's keys in this order too (Textual
lists a screen's keys before the app's), which is why the keys of a full screen are kept
together here rather than by theme.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from textual.binding import Binding, BindingType


class Scope(StrEnum):
    """Who owns a key's binding: every full screen (screens/base.py AdminScreen), a table
    (widgets/record_table.py RecordGrid), the migration screen, or the app."""

    SCREEN = "screen"
    TABLE = "table"
    MIGRATION = "migration"
    APP = "app"


@dataclass(frozen=True, slots=True)
class Key:
    """One key. key: Textual's names, comma-separated (`g,home`); action: what it runs in its
    scope; label: the footer's word. help: the help screen's line ("" folds the key into the
    line before, as 2 to 5 are in 1's); shown: how the help writes the key(s). footer: shown
    in the footer (the footer is full at 120 columns: the rest are in the help). palette: the
    command palette's name for it ("" : not there), with palette_help; the palette runs the
    action on the screen it was opened from (an `app.` action on the app)."""

    scope: Scope
    key: str
    action: str
    label: str
    help: str = ""
    shown: str = ""
    footer: bool = True
    display: str | None = None
    palette: str = ""
    palette_help: str = ""

    @property
    def written(self) -> str:
        """The key as the footer and the palette write it."""
        return self.display or self.key.split(",")[0]

    def binding(self) -> Binding:
        return Binding(self.key, self.action, self.label, show=self.footer, key_display=self.display)


S, T, A = Scope.SCREEN, Scope.TABLE, Scope.APP

#: the migration screen's keys, as every screen has them (hidden: the footer is full, and they
#: act on the migration screen alone) and as that screen shows them (its Scope.MIGRATION keys
#: keep these places in its footer, before `?`)
MIGRATE = Key(S, "m", "migrate", "Start", "on the migration screen: start (or re-run) the migration",
              footer=False, palette="Start migration", palette_help="on the migration screen")
OPEN_TARGET = Key(S, "o", "open_target", "Target",
                  "on the migration screen after a migration: open its target (as : does)", footer=False)

KEYS: tuple[Key, ...] = (
    Key(S, "1", "show('rooms')", "Rooms", "rooms, users, migration, health, audit trail", shown="1 2 3 4 5",
        palette="Rooms", palette_help="show the rooms"),
    Key(S, "2", "show('users')", "Users", palette="Users", palette_help="show the allowlist"),
    Key(S, "3", "show('migration')", "Migrate", palette="Migration", palette_help="SQLite -> JetStream KV"),
    Key(S, "4", "show('health')", "Health", palette="Health", palette_help="KV quorum health"),
    Key(S, "5", "show('audit')", "Audit", palette="Audit trail", palette_help="who changed what, when and why"),
    Key(S, "slash", "filter", "Filter", "filter the table: typing narrows it; enter: to the table; escape: clears",
        display="/", palette="Filter", palette_help="filter the current table"),
    Key(T, "enter", "select_cursor", "Open",
        "open what the selected row names: a room's detail; a user's rooms; an audit event's user; "
        "a history row whole", footer=False),
    Key(S, "escape", "back", "Back", "back (a table with a filter: clears the filter first)", footer=False,
        palette="Back", palette_help="go back"),
    # a table's escape clears its filter first; with none, it lets the screen's back run
    Key(T, "escape", "clear_filter", "Clear filter", footer=False),
    Key(T, "g,home", "first", "First row", "first, last row (also home, end; pgup pgdn: a page): every row "
        "is reachable", shown="g G", footer=False),
    Key(T, "G,end", "last", "Last row", footer=False),
    Key(T, "j", "cursor_down", "Down", "down, up (as the arrows)", shown="j k", footer=False),
    Key(T, "k", "cursor_up", "Up", footer=False),
    Key(T, "s", "sort", "Sort", "sort by the next column (again: reversed); the header shows the order",
        footer=False, palette="Sort", palette_help="sort the current table by the next column"),
    Key(T, "y", "copy", "Copy key", "copy the selected row's key, whole (OSC 52: works over ssh)", footer=False),
    Key(T, "space", "mark", "Mark", "mark the selected row; r and i on marked users act on all of them",
        footer=False),
    Key(S, "r", "revoke", "Revoke", "revoke the selected user (confirm with y; tab: a reason; n or escape "
        "cancels)", palette="Revoke selected user", palette_help="revoke, after a confirmation"),
    Key(S, "i", "reinstate", "Reinstate", "reinstate the selected user (same confirmation)",
        palette="Reinstate selected user", palette_help="reinstate, after a confirmation"),
    Key(S, "a", "add_user", "Add", "add a user (a form that validates as you type)",
        palette="Add user", palette_help="a form that validates as you type"),
    Key(S, "h", "history", "History", "the selected user's history: its revisions and the audit events naming it",
        palette="History of selected user", palette_help="its revisions and audit events"),
    Key(S, "e", "export", "Save table", "save the current table (filtered, sorted) as .csv or .json",
        footer=False, palette="Save table", palette_help="the current table as .csv or .json"),
    MIGRATE,
    OPEN_TARGET,
    Key(Scope.MIGRATION, MIGRATE.key, MIGRATE.action, MIGRATE.label),
    Key(Scope.MIGRATION, OPEN_TARGET.key, OPEN_TARGET.action, OPEN_TARGET.label),
    Key(S, "colon", "app.open_backend", "Open", "open another backend without leaving: a natscli context, "
        "one opened recently, the migration's target", display=":", footer=False,
        palette="Open another backend", palette_help="a natscli context, a recent one, the migration's target"),
    Key(S, "question_mark", "help", "Help", "this help", display="?", palette="Help", palette_help="every key"),
    Key(A, "ctrl+p", "command_palette", "Palette", "command palette", footer=False),  # the footer shows it
    Key(A, "q", "quit", "Quit", "quit", palette="Quit", palette_help="leave"),
)


def bindings(scope: Scope) -> list[BindingType]:
    """The bindings of one scope, in the table's order."""
    return [k.binding() for k in KEYS if k.scope == scope]


def help_lines() -> list[tuple[str, str]]:
    """(key, what it does) for the help screen, in the table's order."""
    return [(k.shown or k.written, k.help) for k in KEYS if k.help]


@dataclass(frozen=True, slots=True)
class Command:
    """A command of the palette: its name, the action it runs and what it says of itself."""

    name: str
    action: str
    help: str


def commands() -> list[Command]:
    """The command palette's commands, each saying its key."""
    found = []
    for k in KEYS:
        if k.palette:
            action = k.action if k.scope != A else f"app.{k.action}"
            found.append(Command(k.palette, action, f"{k.palette_help} ({k.written})"))
    return found


#: the footer keeps these hints whatever the width: help leads to every other key, and the
#: migration screen's own keys are why one opens it
KEPT_ACTIONS = frozenset({"help", MIGRATE.action, OPEN_TARGET.action})
