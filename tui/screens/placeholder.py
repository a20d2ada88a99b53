"""A screen that says what will be here: the migration and health screens plug in later."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer, Header, Static

from .base import DataScreen


class PlaceholderScreen(DataScreen):
    TITLE_TEXT = ""
    BODY = "not built yet"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"{self.TITLE_TEXT}\n\n{self.BODY}", classes="placeholder")
        yield Footer(compact=True)
