"""SIGTERM handled like Ctrl-C during a long command (SPEC 7): a service manager's stop or a
`kill` makes the command clean up as an interrupt does (the migration records its end,
removes a half-written backup, deletes its consumers), then exit 143 with one line.

The SIGTERM handler calls whatever handles SIGINT at that moment: asyncio.run's (which
cancels the command's task, so every `finally` runs) or Python's default (which raises
KeyboardInterrupt). The command's error boundary (tui.cli.main) then tells the two apart
with terminated().
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: exit status of a command stopped by SIGTERM (128 + 15, as a shell reports it)
EXIT_TERMINATED = 143

_terminated = False


def terminated() -> bool:
    """Whether the interrupt being handled came from SIGTERM."""
    return _terminated


def _on_term(signum: int, frame: FrameType | None) -> None:
    global _terminated
    _terminated = True
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:  # SIGINT ignored or left to the system: stop as an interrupt would
        raise KeyboardInterrupt


def ignore_after_the_end() -> None:
    """Once the program's result is decided, an interrupt changes nothing: ignored. Else a
    Ctrl-C in the last moments (the interpreter's shutdown restores the default handler)
    killed the process with -2 after it had reported success; an ignored signal stays
    ignored through the shutdown."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


@contextmanager
def terminated_as_interrupted() -> Iterator[None]:
    """Within the block, SIGTERM is an interrupt (see the module doc)."""
    global _terminated
    _terminated = False
    previous = signal.signal(signal.SIGTERM, _on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
