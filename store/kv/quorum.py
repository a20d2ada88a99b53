"""Whether a stream's replicas form a working quorum, as its leader sees them.

One rule of liveness for the two readers of a stream info: an authorization
(KvStore._decision_user) admits only on a quorum of peers heard from just now, and the
health report (store.health.judge_stream) calls a peer offline when the leader has not
heard from it for a while. A quorum is a majority of leader and replicas.
"""

from __future__ import annotations

import asyncio

from ..aio import stop
from ..errors import NotFound, Unavailable
from .connection import Connection

#: Peer liveness as the stream leader sees it (`active`: time since it last heard the
#: peer). Measured on idle local clusters: healthy peers are heard every 1-2 s (up to
#: ~1.98 s), while after a SIGKILL `current` stays true and `offline` unset for ~10 s.
#: An authorization admits only on a quorum heard within FRESH_S; a quorum heard
#: within STALE_S (a heartbeat may still come) is re-read until fresh or timed out.
FRESH_S = 1.5
STALE_S = 3.0
POLL_S = 0.1


def majority(replicas: int) -> int:
    """How many of the replicas (the leader among them) make a quorum."""
    return replicas // 2 + 1


def heard_within(peer: dict, seconds: float) -> bool:
    """The leader heard from this peer (one of the stream info's cluster replicas) within
    seconds, and does not call it offline."""
    return not peer.get("offline") and (peer.get("active") or 0) / 1e9 < seconds


def quorum_problem(info: dict) -> tuple[str | None, bool]:
    """Why the leader's stream info does not show a working quorum: (None, False) when it
    does, else (reason, wait) where wait means a heartbeat may still confirm it.

    A replica counts when `current` and heard from within FRESH_S.
    """
    cl = info.get("cluster") or {}
    replicas = int((info.get("config") or {}).get("num_replicas", 1))
    if replicas <= 1:
        return None, False  # R1: the one server is the whole quorum
    if not cl.get("leader"):
        return "no leader", False
    peers = [p for p in cl.get("replicas") or [] if p.get("current")]
    need = majority(replicas)
    fresh = 1 + sum(1 for p in peers if heard_within(p, FRESH_S))
    if fresh >= need:
        return None, False
    maybe = 1 + sum(1 for p in peers if heard_within(p, STALE_S))
    return f"no quorum: {fresh} of {replicas} peers current (need {need})", maybe >= need


async def confirmed_read(conn: Connection, stream: str, subject: str) -> dict | None:
    """The last message on subject (None: there is none), read from the stream leader once
    the leader's own info shows a working quorum: what an authorization may decide on.

    Both requests go to the leader (an API message get, never a direct get that any replica
    answers) and run together to save a round trip. Raises Unavailable (quorum not
    confirmed); the caller's op_timeout ends the wait for a heartbeat.
    """
    info_t = asyncio.ensure_future(conn.read(f"$JS.API.STREAM.INFO.{stream}"))
    get_t = asyncio.ensure_future(conn.read(f"$JS.API.STREAM.MSG.GET.{stream}", {"last_by_subj": subject}))
    try:
        info = await info_t
        try:
            got = await get_t
        except NotFound:  # no message for this subject (10037) or no stream
            got = None
    finally:
        for t in (info_t, get_t):
            await stop(t)  # ended before this returns, however it returns
            if not t.cancelled():
                t.exception()  # consumed: no "exception never retrieved" noise
    while True:
        problem, wait = quorum_problem(info)
        if problem is None:
            return got
        if not wait:
            raise Unavailable(f"users stream: {problem}")
        await asyncio.sleep(POLL_S)
        info = await conn.read(f"$JS.API.STREAM.INFO.{stream}")
