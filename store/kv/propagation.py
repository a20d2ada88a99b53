"""How far a change has spread (SPEC section 12): the users bucket's replicas that have
applied it, as its stream leader sees them.

A KV write is acknowledged once a quorum has it; a replica outside that quorum (slow,
paused, cut off) may still answer direct gets with the value from before. The leader's
stream info lists each follower with `lag` (entries behind the leader's commit) and `active`
(time since the leader last heard from it). A follower has applied sequence `target` when
the leader heard from it just now (store.kv.quorum's STALE_S) and `last_seq - lag >= target`;
the leader itself has everything it committed. Raft entries that are not messages only make
`lag` larger, so the count errs on the side of "behind", never the other.

The target is the stream's last sequence when the change was made (at least the change's
own sequence): a replica that reached it has the change, whatever was written after it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .quorum import STALE_S, heard_within

#: how often wait_replicated asks the leader again
POLL_S = 0.2


@dataclass(frozen=True)
class Replication:
    """Which replicas of the users bucket have applied up to `target`."""

    target: int
    replicas: int
    #: replicas that have it, the leader first
    have: tuple[str, ...]
    #: (replica, why it is behind) of the others
    behind: tuple[tuple[str, str], ...]

    @property
    def complete(self) -> bool:
        return not self.behind and len(self.have) >= self.replicas

    def text(self) -> str:
        """`3/3 replicas`, or `2/3 replicas (n3 behind: lag 1)`."""
        shown = f"{len(self.have)}/{self.replicas} replicas"
        if self.behind:
            shown += " (" + ", ".join(f"{name} behind: {why}" for name, why in self.behind) + ")"
        return shown


def replication_of(info: dict, target: int | None = None) -> Replication:
    """The replicas that reached target (None: the stream's last sequence now), from the
    users stream's info as its leader gives it."""
    last = int((info.get("state") or {}).get("last_seq", 0) or 0)
    if target is None:
        target = last
    replicas = int((info.get("config") or {}).get("num_replicas", 1) or 1)
    cl = info.get("cluster") or {}
    leader = cl.get("leader")
    have: list[str] = []
    behind: list[tuple[str, str]] = []
    if leader or replicas <= 1:
        have.append(leader or "(single server)")
    else:
        behind.append(("(leader)", "no leader"))
    for p in sorted(cl.get("replicas") or [], key=lambda p: p.get("name", "")):
        name = p.get("name", "?")
        lag = int(p.get("lag", 0) or 0)
        if not heard_within(p, STALE_S):
            active = p.get("active")
            why = "offline" if p.get("offline") or active is None else f"not heard from for {active / 1e9:.1f}s"
            behind.append((name, why))
        elif last - lag >= target:
            have.append(name)
        else:
            behind.append((name, f"lag {lag}"))
    return Replication(target, replicas, tuple(have), tuple(behind))


async def wait_replicated(ask: Callable[[int | None], Awaitable[Replication | None]], seconds: float,
                          target: int | None = None) -> Replication | None:
    """Ask until every replica has reached target (fixed by the first answer when None), or
    seconds have passed; the last answer (None: the backend has no replicas)."""
    deadline = time.monotonic() + seconds
    rep = await ask(target)
    while rep is not None and not rep.complete and time.monotonic() < deadline:
        await asyncio.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
        rep = await ask(rep.target)
    return rep
