"""Per-bucket progress of a migration: one ProgressBar per bucket, counts and write rate."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar

from store.migrate import BucketProgress

#: shortest writing time (seconds) a bucket's rate is shown for
MIN_SPAN = 0.5


def format_rate(records_per_second: float | None) -> str:
    return "" if records_per_second is None else f"{records_per_second:,.0f} rec/s"


class MigrationProgress(Vertical):
    """Rows of bucket name, bar, "done/total" and rate. The screen feeds it events' progress.

    format_rate is injectable: snapshot tests pass one that hides rates (they vary run to run).
    """

    DEFAULT_CSS = """
    MigrationProgress { height: auto; }
    MigrationProgress .bucket-row { height: 1; }
    MigrationProgress .bucket-name { width: 16; }
    MigrationProgress ProgressBar { width: 26; }
    MigrationProgress Bar { width: 20; }
    MigrationProgress .bucket-count { width: 1fr; }
    """

    def __init__(self, buckets: Sequence[str], *,
                 format_rate: Callable[[float | None], str] = format_rate, **kw) -> None:
        super().__init__(**kw)
        self.buckets = tuple(buckets)
        self.format_rate = format_rate
        # per bucket: elapsed seconds when it started being written, and when it finished
        self._started: dict[str, float] = {}
        self._finished: dict[str, float] = {}
        self._sample_at: float | None = None

    def compose(self) -> ComposeResult:
        for b in self.buckets:
            with Horizontal(classes="bucket-row"):
                yield Label(b, classes="bucket-name")
                yield ProgressBar(total=1, show_eta=False, id=f"bar-{b}")
                yield Label("", id=f"count-{b}", classes="bucket-count")

    def reset(self) -> None:
        self._started.clear()
        self._finished.clear()
        self._sample_at = None
        for b in self.buckets:
            self.query_one(f"#bar-{b}", ProgressBar).update(total=1, progress=0)
            self.query_one(f"#count-{b}", Label).update("")

    def show(self, progress: Iterable[BucketProgress], elapsed: float) -> None:
        """Set the bars to these counts; elapsed (seconds since the run began) gives the rates."""
        before = self._sample_at
        for p in progress:
            if p.bucket not in self.buckets:
                continue
            if p.bucket not in self._started and (p.done > 0 or p.total == 0):
                # it started after the previous sample at the earliest
                self._started[p.bucket] = before if before is not None else elapsed
            if p.done >= p.total and p.bucket in self._started:
                self._finished.setdefault(p.bucket, elapsed)
            self.query_one(f"#bar-{p.bucket}", ProgressBar).update(total=p.total, progress=p.done)
            rate = None
            if p.bucket in self._started and p.done:
                span = self._finished.get(p.bucket, elapsed) - self._started[p.bucket]
                # samples come every ~0.2 s: a shorter span gives a rate that means nothing
                rate = p.done / span if span >= MIN_SPAN else None
            text = f"{p.done:,}/{p.total:,}"
            shown = self.format_rate(rate)
            if shown:
                text += f"  {shown}"
            self.query_one(f"#count-{p.bucket}", Label).update(text)
        self._sample_at = elapsed
