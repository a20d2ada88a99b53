"""The migration screen (key 3). A placeholder: the migration engineer replaces this file.

The app passes its migration target (a NatsSpec or None) as `app.migration_target`;
key `m` calls `action_migrate` on this screen.
"""

from __future__ import annotations

from .placeholder import PlaceholderScreen


class MigrationScreen(PlaceholderScreen):
    TITLE_TEXT = "Migration SQLite -> JetStream KV"
    BODY = "not built yet"

    def action_migrate(self) -> None:
        self.notify("the migration screen is not built yet", severity="warning")
