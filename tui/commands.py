"""The command palette provider (ctrl+p): the same actions as the keys, run on the screen the
palette was opened from (every full screen has them; see screens/base.py)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

#: (name, action, help); an action without a namespace is the screen's
COMMANDS = [
    ("Rooms", "show('rooms')", "show the rooms (1)"),
    ("Users", "show('users')", "show the allowlist (2)"),
    ("Migration", "show('migration')", "SQLite -> JetStream KV (3)"),
    ("Health", "show('health')", "KV quorum health (4)"),
    ("Audit trail", "show('audit')", "who changed what, when and why (5)"),
    ("Filter", "filter", "filter the current table (/)"),
    ("Sort", "sort", "sort the current table by the next column (s)"),
    ("Save table", "export", "the current table as .csv or .json (e)"),
    ("Back", "back", "go back (escape)"),
    ("Revoke selected user", "revoke", "revoke, after a confirmation (r)"),
    ("Reinstate selected user", "reinstate", "reinstate, after a confirmation (i)"),
    ("Add user", "add_user", "a form that validates as you type (a)"),
    ("History of selected user", "history", "its revisions and audit events (h)"),
    ("Start migration", "migrate", "on the migration screen (m)"),
    ("Help", "help", "every key (?)"),
    ("Quit", "app.quit", "leave (q)"),
]


class AdminCommands(Provider):
    async def discover(self) -> Hits:
        for name, action, help_text in COMMANDS:
            yield DiscoveryHit(name, partial(self.screen.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in COMMANDS:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(self.screen.run_action, action),
                          help=help_text)
