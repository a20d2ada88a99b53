"""What every data screen shares: reload when the data changed, and readable worker errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen
from textual.worker import Worker, WorkerState

from store.text import iso_time

from ..messages import StoreChanged

if TYPE_CHECKING:
    from ..app import MembershipApp


def iso_date(ts: int | None) -> str:
    """Unix seconds as a UTC ISO date and time; empty for None."""
    return iso_time(ts)


class DataScreen(Screen):
    """A screen that shows store data: load() starts a worker that posts a *Loaded message.

    The app bumps `generation` whenever the data may have changed; a screen reloads when
    it is shown and its data is older than that.
    """

    AUTO_FOCUS = "RecordGrid"  # the table, not the hidden filter box
    loaded_generation = -1

    @property
    def admin(self) -> "MembershipApp":
        return self.app  # type: ignore[return-value]

    def on_mount(self) -> None:
        self.reload_if_stale()
        # a safety net for a change announced while this screen was being pushed: the
        # check is cheap (no I/O unless the data is stale)
        self.set_interval(1.0, self._check_stale)

    def on_screen_resume(self) -> None:
        self.reload_if_stale()

    def on_store_changed(self, message: StoreChanged) -> None:
        self.reload_if_stale()

    def _check_stale(self) -> None:
        if self.is_current:
            self.reload_if_stale()

    def reload_if_stale(self) -> None:
        if self.admin.store is None or self.loaded_generation == self.admin.generation:
            return
        self.loaded_generation = self.admin.generation
        self.load()

    def load(self) -> None:
        """Start the worker that reads this screen's data."""

    def selected_user_key(self) -> str | None:
        """The user that r / i act on here, if any."""
        return None

    def open_filter(self) -> None:
        self.notify("nothing to filter here", severity="warning")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # One place turns a failed store call into a message; the screen stays usable.
        if event.state == WorkerState.ERROR:
            self.loaded_generation = -1  # retry on the next change or visit
            from ..widgets.record_table import RecordTable

            for table in self.query(RecordTable):
                table.set_failed()
            self.admin.report_error(event.worker.error)
