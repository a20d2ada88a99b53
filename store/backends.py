"""open_store: the one place that knows every backend, so a spec module and the backends
need not know each other."""

from __future__ import annotations

from .base import Store
from .kv import KvStore
from .spec import Clock, SqliteSpec, StoreSpec, system_clock
from .sqlite import SqliteStore


async def open_store(spec: StoreSpec, clock: Clock = system_clock) -> Store:
    """Open the backend named by spec inside the running event loop.

    Raises: InvalidInput (missing or foreign file, wrong schema), Unavailable.
    """
    if isinstance(spec, SqliteSpec):
        return await SqliteStore.open(spec, clock=clock)
    return await KvStore.open(spec, clock=clock)
