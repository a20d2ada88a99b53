"""What a long command shows of its progress: the base every form of it keeps to (quiet,
lines in a pipe, a live display on a terminal), apart from the forms so that the live one,
which loads rich, is imported only where it is used."""

from __future__ import annotations

from collections.abc import Mapping


class Display:
    """Quiet: shows nothing. The base of the other two forms."""

    #: whether counts are shown: a caller only polls for them when they are
    wants_counts = False

    def phase(self, name: str, message: str) -> None:
        """A line about the work: what it starts, or what it has done."""

    def counts(self, counts: Mapping[str, tuple[int, int]]) -> None:
        """How far each bucket has come: bucket -> (done, total)."""

    def stop(self) -> None:
        """End the display: what is shown after is not; stopping again does nothing."""
