"""The command palette provider (ctrl+p): the same actions as the keys (tui/keys.py), run on
the screen the palette was opened from (every full screen has them; see screens/base.py)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .keys import commands

#: the palette's commands: (name, action, help), an action without a namespace the screen's
COMMANDS = [(c.name, c.action, c.help) for c in commands()]


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
