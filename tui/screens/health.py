"""The KV health screen (key 4). A placeholder: the health engineer replaces this file."""

from __future__ import annotations

from .placeholder import PlaceholderScreen


class HealthScreen(PlaceholderScreen):
    TITLE_TEXT = "JetStream KV quorum health"
    BODY = "not built yet"
