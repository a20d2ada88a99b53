"""The command palette provider (ctrl+p): the same actions as the keys."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

COMMANDS = [
    ("Rooms", "show('rooms')", "show the rooms (1)"),
    ("Users", "show('users')", "show the allowlist (2)"),
    ("Migration", "show('migration')", "SQLite -> JetStream KV (3)"),
    ("Health", "show('health')", "KV quorum health (4)"),
    ("Filter", "filter", "filter the current table (/)"),
    ("Back", "back", "go back (escape)"),
    ("Revoke selected user", "revoke", "revoke, after a confirmation (r)"),
    ("Reinstate selected user", "reinstate", "reinstate, after a confirmation (i)"),
    ("Add user", "add_user", "a form that validates as you type (a)"),
    ("Start migration", "migrate", "on the migration screen (m)"),
    ("Help", "help", "every key (?)"),
    ("Quit", "quit", "leave (q)"),
]


class AdminCommands(Provider):
    async def discover(self) -> Hits:
        for name, action, help_text in COMMANDS:
            yield DiscoveryHit(name, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in COMMANDS:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(self.app.run_action, action),
                          help=help_text)
