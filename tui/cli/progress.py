"""The progress of long CLI work (migrate-to-kv, export-to-sqlite, export), on stderr.

    with progress_display(quiet=args.json) as show:
        show.phase("import", "importing 1200 records")
        show.counts({"users": (300, 400), ...})   # bucket -> (done, total)

Three forms, chosen by where stderr goes:
- a terminal: a rich.progress display, redrawn in place (tui.cli.progress_live, loaded
  only then): the current phase and its line, then a row per bucket (bar, done/total,
  records per second, time left) and their sum. Each phase's line moves up above the
  display when the next one comes, so the run's history stays on the screen;
- not a terminal (a pipe, a log file): one plain line per phase line, `phase: message`;
  bucket counts are not shown;
- quiet (--json, or `export` when stderr is not a terminal): nothing.

The display is stopped however the block ends (an error, Ctrl-C), which shows the
cursor again: the terminal is left as it was found. It never touches stdout.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, TypeVar

from store.text import printable

from .display import Display

T = TypeVar("T")

#: how often the bucket counts of a store's bulk read are polled (see watch)
POLL_SECONDS = 0.1


class Lines(Display):
    """One plain line per phase line, for a pipe or a log file."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def phase(self, name: str, message: str) -> None:
        print(f"{name}: {printable(message)}", file=self.stream, flush=True)


def choose(quiet: bool = False, *, stream: IO[str] | None = None, lines: bool = True) -> Display:
    """The display for stream (stderr by default): Live on a terminal, else Lines (or
    nothing when not lines); nothing at all when quiet."""
    stream = stream or sys.stderr
    if quiet:
        return Display()
    if stream.isatty():
        from .progress_live import Live  # rich loads only here: the other commands start no slower

        return Live(stream)
    return Lines(stream) if lines else Display()


@contextmanager
def progress_display(quiet: bool = False, *, lines: bool = True) -> Iterator[Display]:
    """choose(quiet, lines=lines), stopped however the block ends."""
    display = choose(quiet, lines=lines)
    try:
        yield display
    finally:
        display.stop()


async def watch(work: Awaitable[T], counts: Callable[[], Mapping[str, tuple[int, int]]],
                display: Display) -> T:
    """await work, showing counts() on the display every POLL_SECONDS meanwhile (a
    store's read_progress during its export). Cancelled, it cancels the work and waits
    for it to end (its own clean-up: a scan deletes its consumer)."""
    if not display.wants_counts:
        return await work
    task = asyncio.ensure_future(work)
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=POLL_SECONDS)
            display.counts(counts())
        return task.result()
    finally:
        if not task.done():
            task.cancel()
            try:
                await task
            except BaseException:
                pass
