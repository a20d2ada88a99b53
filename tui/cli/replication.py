"""How far a change has spread (SPEC section 12), as the change commands say it:
`revoked bob: 3/3 replicas`, and `--wait-replicated SECONDS` to wait for every replica.

Only a backend with replicas answers (KV); on SQLite nothing is printed.
"""

from __future__ import annotations

import argparse

from store import StoreError
from store.base import Store
from store.kv.propagation import Replication, wait_replicated
from store.text import printable

from .common import number_arg, say


def add_wait_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait-replicated", metavar="SECONDS", type=number_arg("seconds", float, 0.0, 3600.0),
                   default=None,
                   help="on JetStream KV, wait until every replica of the users bucket has the change; "
                        "exit 1 naming the replicas still behind when SECONDS pass, e.g. --wait-replicated 10")


async def spread(store: Store, wait: float | None) -> Replication | StoreError | None:
    """How far the changes made so far have spread, once (or, with wait, once every replica
    has them or wait seconds pass); None without replicas; the error when it cannot be
    known (the change is made all the same)."""
    try:
        return await wait_replicated(store.replication, wait or 0.0)
    except StoreError as e:
        return e


def print_spread(what: str, rep: Replication | StoreError | None, wait: float | None) -> bool:
    """Print `what: N/M replicas`. False when waiting ended with a replica behind (or its
    spread unknown): the command then exits 1."""
    if rep is None:
        return True
    if isinstance(rep, StoreError):
        say(f"{printable(what)}: replicas not known ({printable(str(rep))})")
        return wait is None
    print(f"{printable(what)}: {rep.text()}", flush=True)
    if wait is not None and not rep.complete:
        say(f"not on every replica after {wait:g}s: " + ", ".join(f"{n} ({why})" for n, why in rep.behind))
        return False
    return True


async def report_replication(store: Store, what: str, wait: float | None) -> bool:
    """spread, then print_spread."""
    return print_spread(what, await spread(store, wait), wait)
