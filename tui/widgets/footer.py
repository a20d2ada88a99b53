"""The footer's key hints, as many whole ones as the width holds.

Textual's Footer lays every hint in one scrolling row and docks the palette hint over its
right end, so on a narrow terminal a hint is cut mid-word under it ("r Revoke i Reins").
This one hides the hints that do not fit, from the last, always keeping `?` (help lists
every key); on a resize or a change of keys it chooses again.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: the hint kept whatever the width: it leads to every other key
KEPT_ACTION = "help"


def hint_width(key: FooterKey) -> int:
    """The cells a hint takes in the row: its text, padding, border and margins."""
    styles = key.styles
    return key.render().cell_len + styles.gutter.width + styles.margin.width


class FittedFooter(Footer):
    async def recompose(self) -> None:
        await super().recompose()
        self.fit()

    def on_resize(self, event: events.Resize) -> None:
        self.fit()

    def fit(self) -> None:
        """Show the hints that fit in full beside the palette's; hide the rest."""
        width = self.size.width
        if not width:
            return
        keys = list(self.query(FooterKey))
        hints = [k for k in keys if not k.has_class("-command-palette")]
        room = width - sum(hint_width(k) for k in keys if k.has_class("-command-palette"))
        room -= sum(hint_width(k) for k in hints if k.action == KEPT_ACTION)
        fits = True
        for key in hints:
            if key.action == KEPT_ACTION:
                continue
            fits = fits and hint_width(key) <= room  # once one is hidden, so is every one after
            key.display = fits
            if fits:
                room -= hint_width(key)
