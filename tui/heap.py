"""Keeping the garbage collector's full collections short while big tables are shown.

CPython's full collection walks every object the collector tracks; Textual's own widgets,
styles and caches are some 80,000 of them, and walking them stalls the UI for 15-50 ms each
time the churn of a table's reloads sets off a full collection (several a second while a
daemon writes). Once a big table is loaded, the objects alive then (the app's, which live as
long as it does) are moved out of the collector's generations with gc.freeze(). unfreeze and
collect first, so the garbage of the previous settle is collected, not kept: nothing leaks
for longer than until the next settle.
"""

from __future__ import annotations

import gc

#: a load of this many rows settles the heap; smaller tables do not need it
BIG = 10_000


def settle(rows: int) -> None:
    """After a load of `rows` rows: one full collection now (during the load, which the user
    waits for anyway), then none of today's objects walked by later ones."""
    if rows < BIG:
        return
    gc.unfreeze()
    gc.collect()
    gc.freeze()
