"""KV quorum health (SPEC section 6): per-bucket stream state from the leader's view, and
a live fail-closed probe. Plain dataclasses, no UI.

Every bucket's stream info is requested from its leader (the JetStream API routes it
there). A replica is `offline` when the leader marks it so or has not heard from it for
STALE_S (after a SIGKILL the leader keeps calling it `current` for ~10 s; the rule of
store.kv.quorum), `lagging` when not current or behind, else `current`. A bucket is
`healthy` with a leader and every replica current, `degraded` with a leader and a quorum
of current peers (leader included), else `no-quorum`; a stream info that does not answer
within the op timeout is `no-quorum`. A server that answers but holds none of the buckets
is `absent` (nothing migrated there, or the wrong prefix): authorizations are denied, and
it is never shown as a lost quorum.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from . import posture
from .aio import gather_settled, stop
from .base import UNKNOWN_USER, Store
from .errors import Absent, StoreError, Unavailable
from .kv import KvStore
from .kv.connection import stream_name
from .kv.quorum import STALE_S, heard_within, majority
from .layout import BUCKETS
from .posture import Finding
from .spec import NatsSpec


class State(StrEnum):
    """A bucket's (or the deployment's) health, from best to worst."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    NO_QUORUM = "no-quorum"
    #: the server answers and none of the buckets exists (the deployment's state only)
    ABSENT = "absent"


class ReplicaState(StrEnum):
    CURRENT = "current"
    LAGGING = "lagging"
    OFFLINE = "offline"


HEALTHY, DEGRADED, NO_QUORUM, ABSENT = State.HEALTHY, State.DEGRADED, State.NO_QUORUM, State.ABSENT
#: what the absent state means, for every format that shows it
ABSENT_MEANING = "nothing migrated here, or the wrong prefix"
_RANK = {state: i for i, state in enumerate(State)}

DEFAULT_PROBE_KEY = "health-probe"


@dataclass(frozen=True)
class ReplicaHealth:
    name: str
    state: ReplicaState
    lag: int = 0  # operations behind the leader
    active_s: float | None = None  # seconds since the leader last heard from it


@dataclass(frozen=True)
class BucketHealth:
    bucket: str
    stream: str
    replicas: int | None  # configured; None when unknown (no answer, missing)
    leader: str | None
    peers: tuple[ReplicaHealth, ...]  # the replicas other than the leader
    state: State
    reason: str = ""


@dataclass(frozen=True)
class ProbeResult:
    key: str
    allowed: bool
    reason: str
    seconds: float

    @property
    def answered(self) -> bool:
        """The store answered as a healthy one does: an allow, or the deny of a key on no
        allowlist (read from a state known to be current). Any other deny (no quorum, no
        answer in time, a revoked or invalid record) is one a person must look at."""
        return self.allowed or self.reason == UNKNOWN_USER

    def verdict(self) -> tuple[str, str]:
        """What a probe's line says: its word (allow, answered, deny) and why. The default
        probe key is on no allowlist, so a healthy deployment denies it, and that deny is the
        healthy answer: it is said as one, not as an alarm."""
        if self.allowed:
            return "allow", self.reason
        if self.answered:
            return "answered", "deny: not on the allowlist, as expected of a probe key"
        return "deny", self.reason


@dataclass(frozen=True)
class HealthReport:
    target: str
    overall: State
    buckets: tuple[BucketHealth, ...] = ()
    probe: ProbeResult | None = None
    error: str | None = None  # set when the deployment could not be reached at all
    #: what is configured in a way that can lose or hide data (SPEC 12), beside the state
    posture: tuple[Finding, ...] = ()
    #: what posture could not see (a monitoring URL that did not answer, ...)
    posture_notes: tuple[str, ...] = ()
    detail: str | None = None  # absent: which buckets are missing, with the prefix and URL

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def worst(states: list[State]) -> State:
    return max(states, key=lambda s: _RANK[s]) if states else State.NO_QUORUM


def judge_stream(bucket: str, stream: str, info: dict) -> BucketHealth:
    """One bucket's health from its leader's stream info."""
    cfg = info.get("config") or {}
    replicas = int(cfg.get("num_replicas", 1))
    cl = info.get("cluster") or {}
    leader = cl.get("leader")
    peers = []
    for p in cl.get("replicas") or []:
        active = p.get("active")
        active_s = None if active is None else round(active / 1e9, 3)
        lag = int(p.get("lag", 0) or 0)
        if not heard_within(p, STALE_S):
            seen = ReplicaState.OFFLINE
        elif not p.get("current") or lag > 0:
            seen = ReplicaState.LAGGING
        else:
            seen = ReplicaState.CURRENT
        peers.append(ReplicaHealth(p.get("name", "?"), seen, lag, active_s))
    peers.sort(key=lambda r: r.name)
    if replicas <= 1:
        # one server holds the whole stream: its answer is the quorum
        return BucketHealth(bucket, stream, replicas, leader or "(single server)", tuple(peers),
                            State.HEALTHY)
    if not leader:
        return BucketHealth(bucket, stream, replicas, None, tuple(peers), State.NO_QUORUM, "no leader")
    need = majority(replicas)
    good = 1 + sum(1 for p in peers if p.state == ReplicaState.CURRENT)
    if good < need:
        state, reason = State.NO_QUORUM, f"{good} of {replicas} current, {need} needed"
    elif good < replicas:
        state, reason = State.DEGRADED, f"{good} of {replicas} current"
    else:
        state, reason = State.HEALTHY, ""
    return BucketHealth(bucket, stream, replicas, leader, tuple(peers), state, reason)


async def check_health(target: NatsSpec | Store, probe_key: str = DEFAULT_PROBE_KEY, *,
                       monitor: Sequence[str] = (), posture: bool = True) -> HealthReport:
    """The health of every bucket and a live authorization probe.

    target: a NatsSpec (opened read-only here, never creating buckets, closed after) or
    an open KV store (a store.kv.KvStore: any other Store is a TypeError). Never raises for
    an unreachable deployment: the report then has `error` set and overall no-quorum.
    monitor: the servers' HTTP monitoring URLs, for the posture's disk sync and versions;
    posture False: the state alone (a quorum gate polling it needs nothing more).
    """
    own = False
    if isinstance(target, NatsSpec):
        started = time.monotonic()
        try:
            store = await KvStore.open(dataclasses.replace(target, read_only=True))
        except Absent as e:
            return absent_report(target, e, probe_key, time.monotonic() - started)
        except StoreError as e:
            return HealthReport(target.label, State.NO_QUORUM, error=str(e))
        own = True
    elif isinstance(target, KvStore):
        store = target
    else:
        raise TypeError(f"check_health needs a NatsSpec or a KvStore, not {type(target).__name__}")
    try:
        # settled: a cancelled check (the screen left) ends with every request of its own
        async def buckets_health() -> list[BucketHealth]:
            return await gather_settled(*(_bucket(store, b) for b in BUCKETS))

        probe_t = asyncio.ensure_future(_probe(store, probe_key))
        posture_t = asyncio.ensure_future(_posture(store, monitor) if posture else _no_posture())
        try:
            buckets = await buckets_health()
            probe = await probe_t
            findings, notes = await posture_t
        finally:
            await stop(probe_t)
            await stop(posture_t)
        return HealthReport(store.label, worst([b.state for b in buckets]), tuple(buckets), probe,
                            posture=tuple(findings), posture_notes=tuple(notes))
    finally:
        if own:
            await store.close()


def absent_report(target: NatsSpec, error: Absent, probe_key: str = DEFAULT_PROBE_KEY,
                  seconds: float = 0.0) -> HealthReport:
    """The report on a server that answered without any of the buckets: each named absent,
    and the probe's deny (no users bucket to admit anyone). seconds: how long finding that
    out took."""
    buckets = tuple(BucketHealth(target.bucket_prefix + b, stream_name(target.bucket_prefix + b), None, None, (),
                                 State.ABSENT, "does not exist") for b in BUCKETS)
    probe = ProbeResult(probe_key, False, f"no users bucket ({ABSENT_MEANING}): authorizations are denied",
                        round(seconds, 4))
    return HealthReport(target.label, State.ABSENT, buckets, probe, detail=str(error))


async def _bucket(store: KvStore, base: str) -> BucketHealth:
    name, stream = store.bucket(base), store.stream(base)
    try:
        info = await asyncio.wait_for(store.stream_info(base), store.op_timeout)
    except (TimeoutError, StoreError) as e:
        reason = str(e) if isinstance(e, Unavailable) else "no answer within the op timeout"
        return BucketHealth(name, stream, None, None, (), State.NO_QUORUM, reason)
    if info is None:
        # nothing to replicate; an operator still wants to see it
        return BucketHealth(name, stream, None, None, (), State.DEGRADED, "bucket does not exist")
    return judge_stream(name, stream, info)


async def _no_posture() -> tuple[list[Finding], list[str]]:
    return [], []


async def _posture(store: KvStore, monitor: Sequence[str]) -> tuple[list[Finding], list[str]]:
    """The posture findings; a failure to gather them is a note, never the report's error."""
    try:
        return await asyncio.wait_for(posture.gather(store, monitor), store.op_timeout * 2)
    except (TimeoutError, StoreError) as e:
        return [], [f"posture not checked: {e or 'no answer in time'}"]


async def _probe(store: KvStore, key: str) -> ProbeResult:
    """What is_authorized answers now, with the reason behind it, and how long it took."""
    start = time.monotonic()
    decision = await store.authorization(key)
    u = decision.user
    reason = f"{u.key} is {u.status}, role {u.role}" if decision.allowed and u else decision.reason
    return ProbeResult(key, decision.allowed, reason, round(time.monotonic() - start, 4))
