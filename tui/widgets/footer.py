"""The footer's key hints, as many whole ones as the width holds, the current view's marked.

Textual's Footer lays every hint in one scrolling row and docks the palette hint over its
right end, so on a narrow terminal a hint is cut mid-word under it ("r Revoke i Reins").
This one hides the hints that do not fit, from the last, always keeping `?` (help lists
every key) and the migration screen's own keys; on a resize or a change of keys it chooses
again. The hint of the view on screen (`2 Users` on the users view) is marked, as a tab bar
marks its tab.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Footer

from ..keys import KEPT_ACTIONS
from ..textual_private import FooterKey


def hint_width(key: FooterKey) -> int:
    """The cells a hint takes in the row: its text, padding, border and margins."""
    styles = key.styles
    return key.render().cell_len + styles.gutter.width + styles.margin.width


class FittedFooter(Footer):
    async def recompose(self) -> None:
        await super().recompose()
        self.mark_current()
        self.fit()

    def on_resize(self, event: events.Resize) -> None:
        self.fit()

    def mark_current(self) -> None:
        """Mark the hint of the view this footer's screen belongs to (its mode's key)."""
        current = f"show('{self.app.current_mode}')"
        for key in self.query(FooterKey):
            key.set_class(key.action == current, "-current")

    def fit(self) -> None:
        """Show the hints that fit in full beside the palette's; hide the rest."""
        width = self.size.width
        if not width:
            return
        keys = list(self.query(FooterKey))
        hints = [k for k in keys if not k.has_class("-command-palette")]
        room = width - sum(hint_width(k) for k in keys if k.has_class("-command-palette"))
        room -= sum(hint_width(k) for k in hints if k.action in KEPT_ACTIONS)
        fits = True
        for key in hints:
            if key.action in KEPT_ACTIONS:
                continue
            fits = fits and hint_width(key) <= room  # once one is hidden, so is every one after
            key.display = fits
            if fits:
                room -= hint_width(key)
