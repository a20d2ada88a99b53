"""The progress display on a terminal: rich.progress on stderr (see tui.cli.progress)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO

from rich.console import Console, Group, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.text import Text

from store.text import printable

from .display import Display


@dataclass
class _Row:
    """A bucket's row (or their sum's) and its clock: the rate is the row's own average
    since its first record, which a bucket written within one update also has."""

    task: TaskID
    began: float  # the last update that saw it at 0: its work began after
    finished: bool = False


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class Live(Display):
    """The rich display on a terminal (see the docstring of tui.cli.progress)."""

    wants_counts = True

    def __init__(self, stream: IO[str]) -> None:
        self.console = Console(file=stream)
        # stdout is never redirected: an export's document goes there byte for byte
        self.progress = _Progress(
            TextColumn("  {task.description}", markup=False), BarColumn(bar_width=30), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}", style="progress.data.speed", markup=False),
            TextColumn("{task.fields[left]}", style="progress.remaining", markup=False),
            console=self.console, redirect_stdout=False, redirect_stderr=False, transient=False)
        self.latest: dict[str, tuple[int, int]] = {}  # bucket -> (done, total)
        self.rows: dict[str, _Row] = {}  # a row per bucket, then "all"
        self.mark = time.monotonic()  # the last update: a new row's work began after it
        self.started = self.ended = False

    def phase(self, name: str, message: str) -> None:
        if self.ended:
            return
        if self.progress.line:  # the previous line moves up, above the display
            self.progress.console.print(self.progress.line, highlight=False)
        self.progress.line = Text(f"{name}: {printable(message)}")
        self.mark = time.monotonic()
        self._start()
        self.progress.refresh()

    def counts(self, counts: Mapping[str, tuple[int, int]]) -> None:
        if self.ended or not counts:
            return
        now = time.monotonic()
        self.latest.update(counts)
        shown = dict(self.latest)
        if len(shown) > 1:
            shown["all"] = (sum(d for d, _ in shown.values()), sum(t for _, t in shown.values()))
        for name, (done, total) in shown.items():
            row = self.rows.get(name)
            if row is None:
                task = self.progress.add_task(printable(name), total=total, sum=name == "all",
                                              rate="", left="-:--:--")
                row = self.rows[name] = _Row(task, self.mark)
            self._update(row, done, total, now)
        self.mark = now
        self._start()

    def _update(self, row: _Row, done: int, total: int, now: float) -> None:
        if row.finished and done >= total:  # its rate and time taken stay as they were
            return
        if not done:
            row.began = now
            self.progress.update(row.task, completed=0, total=total)
            return
        took = now - row.began
        rate = done / took if took > 0 else 0.0
        row.finished = done >= total
        left = _clock(took) if row.finished else _clock((total - done) / rate) if rate else "-:--:--"
        self.progress.update(row.task, completed=done, total=total, rate=f"{rate:,.0f}/s" if rate else "",
                             left=left)

    def _start(self) -> None:
        if not self.started:
            self.started = True
            self.progress.start()

    def stop(self) -> None:
        if self.started and not self.ended:
            self.progress.stop()
        self.ended = True


class _Progress(Progress):
    """rich's Progress with the current phase line above the bucket rows, their sum last
    (a bucket's row may come after it: an export's scans start one by one)."""

    line: Text | None = None

    def get_renderables(self) -> Iterator[RenderableType]:
        rows = self.make_tasks_table(sorted(self.tasks, key=lambda task: task.fields["sum"]))
        yield Group(self.line, rows) if self.line is not None else rows
