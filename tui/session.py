"""The session: what a screen needs of the app, typed and small, instead of the app class.

The app makes one Session, keeps it current (the store once open, the quorum gate) and hands
it to every screen it makes. Screens read it, subscribe to its change signal, refuse changes
and report errors through it; none of them imports the app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.signal import Signal

from store import NatsSpec, Store, StoreError, StoreSpec
from store.spec import Clock

#: seconds between two reads of the open backend's change marker (what others changed shows
#: within it; the help says so)
POLL_INTERVAL = 1.0


@dataclass(eq=False)
class Session:
    #: the backend the app browses (its store is opened inside the app's event loop)
    spec: StoreSpec
    clock: Clock
    #: published by the app when the data may have changed: the store opened, its change
    #: marker moved, or a change of ours was written
    changed: Signal[None]
    #: the app's notify: what the operator is told (and what tests read back)
    notify: Callable[..., None]
    #: the migration screen's target (--nats-url with --db), if any
    migration_target: NatsSpec | None = None
    #: text cursors blink; off for snapshots and screenshots, so pictures are stable
    blink: bool = True
    #: why there is no migration target, said on the migration screen (the demo without a
    #: local cluster: the message printed before the TUI started is hidden by it)
    migration_note: str = ""
    #: the open store; None until it opens (or when it could not)
    store: Store | None = None
    #: why the store could not be opened (a missing bucket, an unreachable server), shown
    #: in the data views in place of their rows
    open_error: str | None = None
    #: the open KV backend has lost its quorum: changes are refused (the UI fails closed)
    quorum_lost: bool = False

    @property
    def read_only(self) -> bool:
        return self.spec.read_only

    @property
    def on_kv(self) -> bool:
        """The app browses JetStream KV (its quorum gates changes), not SQLite."""
        return isinstance(self.spec, NatsSpec)

    def refuse_change(self, what: str) -> bool:
        """True, and says so, when changes are off: --read-only, or no KV quorum (fail closed)."""
        if self.read_only:
            self.notify(f"read-only: {what} refused, nothing was written",
                        title="Read-only", severity="warning")
        elif self.quorum_lost:
            self.notify(f"no quorum: {what} refused, nothing was written",
                        title="Unavailable", severity="error")
        return self.read_only or self.quorum_lost

    def report_error(self, error: BaseException | None) -> None:
        """A readable one-line message for a failure; never a traceback."""
        if isinstance(error, StoreError):
            self.notify(str(error), title=type(error).__name__, severity="error", timeout=8)
        elif error is not None:
            self.notify(f"{type(error).__name__}: {error}", title="Error", severity="error",
                        timeout=8)
