"""Posture (SPEC sections 6 and 12): what is configured in a way that can lose or hide data
while every replica looks current. Pure rules over what the servers report, each finding
naming the bucket, stream or server and the change that fixes it; gather() collects the
inputs from a KV store (and, when given, the servers' HTTP monitoring endpoints).

The rules:
  - replicas: a bucket with fewer than 3 replicas on a cluster of 3 or more servers;
  - audit: the audit stream missing or weaker than SPEC section 10 (deny_delete,
    deny_purge, file storage, no age, count or size limit, replicas at least the users
    bucket's);
  - mirror: an authorization bucket (users, members) that is itself a mirror, or a mirror
    of one that serves direct gets (it keeps answering while cut off from the origin);
  - history: `users` keeping fewer than 2 revisions (a change leaves no before);
  - version: a server older than 2.10.23 (streams lost on a process crash, fixed there);
  - sync: a server that syncs to disk on an interval, not always (acknowledged writes
    lost on a power failure of a quorum: the Jepsen analysis of NATS 2.12.1). Visible only
    through a monitoring endpoint (`/varz`), so only with `health --monitor URL`.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .kv.audit_check import audit_stream_problems

#: the first release without the stream loss on a process crash (2.10.20-2.10.22)
FIXED_VERSION = (2, 10, 23)
#: buckets an authorization decision reads
AUTH_BUCKETS = ("users", "members")
MIN_REPLICAS = 3
MIN_USERS_HISTORY = 2


@dataclass(frozen=True)
class Finding:
    #: which rule: replicas, audit, mirror, history, version, sync
    check: str
    #: the bucket, stream or server it is about
    subject: str
    problem: str
    fix: str

    def text(self) -> str:
        return f"{self.subject}: {self.problem}; fix: {self.fix}"


@dataclass(frozen=True)
class ServerFacts:
    """What one server says of itself: its name, version, and disk sync when visible."""

    name: str
    version: str
    #: seconds between syncs; None: not visible
    sync_interval_s: float | None = None
    sync_always: bool | None = None


def bucket_findings(bucket: str, base: str, info: dict | None, servers: int) -> list[Finding]:
    """A bucket's own configuration (base: its name without prefix; info: its stream info)."""
    if info is None:
        return []
    cfg = info.get("config") or {}
    out: list[Finding] = []
    replicas = int(cfg.get("num_replicas", 1) or 1)
    if servers >= MIN_REPLICAS and replicas < MIN_REPLICAS:
        out.append(Finding("replicas", bucket, f"{replicas} replica(s) on a cluster of {servers} servers: "
                           "one lost disk loses it",
                           f"nats stream edit {stream_of(bucket)} --replicas {MIN_REPLICAS}"))
    if base in AUTH_BUCKETS and cfg.get("mirror"):
        origin = (cfg.get("mirror") or {}).get("name", "?")
        out.append(Finding("mirror", bucket, f"a mirror of {origin}: authorizations read a copy that may "
                           "lag or be cut off", f"point the daemon at {origin}, not at the mirror"))
    history = int(cfg.get("max_msgs_per_subject", 0) or 0)
    if base == "users" and 0 < history < MIN_USERS_HISTORY:
        out.append(Finding("history", bucket, f"keeps {history} revision per user: a change leaves no "
                           "before to compare or restore",
                           f"nats stream edit {stream_of(bucket)} --max-msgs-per-subject 16"))
    return out


def mirror_findings(streams: Sequence[dict], auth_streams: dict[str, str]) -> list[Finding]:
    """Mirrors of an authorization bucket (auth_streams: stream name -> bucket) that serve
    direct gets in its name (mirror_direct): reads may be answered by a copy cut off from
    the origin, which keeps answering with what it last saw."""
    out = []
    for s in streams:
        cfg = s.get("config") or {}
        origin = (cfg.get("mirror") or {}).get("name")
        if origin in auth_streams and cfg.get("mirror_direct"):
            out.append(Finding("mirror", auth_streams[origin],
                               f"mirror {cfg.get('name', '?')} answers its direct gets, also while cut off",
                               f"nats stream edit {cfg.get('name', '?')} --no-mirror-direct (or delete the mirror)"))
    return out


def audit_findings(stream: str, info: dict | None, users_replicas: int | None) -> list[Finding]:
    """The audit stream against SPEC section 10 (the check `audit init` makes too)."""
    if info is None:
        return [Finding("audit", stream, "missing: every change is refused (fail closed)",
                        "membership-admin audit init (with the migrator's rights)")]
    # a stream's storage and its deny flags are fixed at creation: the fix is a stream made as
    # `audit init` makes it, the events copied over, where `nats stream edit` cannot change it
    fix = (f"nats stream edit {stream}, or a new stream as `membership-admin audit init` makes it "
           "(file storage, no limits, deny_delete and deny_purge)")
    return [Finding("audit", stream, problem, fix)
            for problem in audit_stream_problems(info.get("config") or {}, users_replicas)]


_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def version_tuple(text: str) -> tuple[int, int, int] | None:
    m = _VERSION.match(text.strip())
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def server_findings(servers: Sequence[ServerFacts]) -> list[Finding]:
    out = []
    for s in servers:
        v = version_tuple(s.version)
        if v is not None and v < FIXED_VERSION:
            out.append(Finding("version", s.name, f"nats-server {s.version}: streams were lost on a process "
                               "crash before 2.10.23", "upgrade to 2.10.23 or later"))
        if s.sync_always is False and s.sync_interval_s is not None:
            out.append(Finding("sync", s.name, f"syncs to disk every {s.sync_interval_s:g}s, after acknowledging: "
                               "a power failure of a quorum loses acknowledged writes",
                               "jetstream { sync_interval: always } (slower writes)"))
    return out


def stream_of(bucket: str) -> str:
    return f"KV_{bucket}"


# -- gathering ------------------------------------------------------------------------

def varz(url: str, timeout: float) -> ServerFacts:
    """A server's /varz from its HTTP monitoring endpoint (url: http://host:8222)."""
    with urllib.request.urlopen(url.rstrip("/") + "/varz", timeout=timeout) as r:
        v = json.load(r)
    js = (v.get("jetstream") or {}).get("config") or {}
    interval = js.get("sync_interval")
    return ServerFacts(v.get("server_name") or v.get("server_id", url), str(v.get("version", "?")),
                       None if interval is None else interval / 1e9, bool(js.get("sync_always", False)))


async def gather(store: Any, monitor: Sequence[str] = ()) -> tuple[list[Finding], list[str]]:
    """Every finding for a KvStore's deployment, and notes on what could not be seen (a
    monitoring endpoint that did not answer, a stream list refused). Never raises for the
    deployment's own failures: health reports those."""
    from .errors import StoreError

    notes: list[str] = []
    info = store.nc._server_info or {}  # the INFO of the server the connection is on
    servers = max(1, len(info.get("connect_urls") or []))
    infos: dict[str, dict | None] = {}
    for base in ("rooms", "members", "rooms_by_member", "room_keys", "users"):
        try:
            infos[base] = await store.stream_info(base)
        except StoreError:
            infos[base] = None  # health reports the bucket's own state
    # a server that does not advertise its peers: count those the streams name
    names = {n for i in infos.values() if i for n in _peer_names(i)}
    servers = max(servers, len(names))
    findings: list[Finding] = []
    for base, i in infos.items():
        findings += bucket_findings(store.bucket(base), base, i, servers)
    users = infos.get("users")
    users_replicas = int(((users or {}).get("config") or {}).get("num_replicas", 1) or 1) if users else None
    try:
        findings += audit_findings(store.audit.name, await store.audit.info(), users_replicas)
    except StoreError as e:
        notes.append(f"audit stream not checked: {e}")
    try:
        findings += mirror_findings(await _streams(store),
                                    {store.stream(b): store.bucket(b) for b in AUTH_BUCKETS})
    except StoreError as e:
        notes.append(f"mirrors not checked: {e}")
    facts = [ServerFacts(info.get("server_name", "?"), str(info.get("version", "?")))] if info else []
    if monitor:
        got = await asyncio.gather(*(asyncio.to_thread(varz, url, store.op_timeout) for url in monitor),
                                   return_exceptions=True)
        facts = []
        for url, r in zip(monitor, got, strict=True):
            if isinstance(r, BaseException):
                notes.append(f"{url}: not read ({type(r).__name__}: {r})")
            else:
                facts.append(r)
    else:
        notes.append("disk sync not visible: give the servers' monitoring URLs with --monitor")
    findings += server_findings(facts)
    return findings, notes


def _peer_names(info: dict) -> list[str]:
    cl = info.get("cluster") or {}
    return [n for n in [cl.get("leader"), *(p.get("name") for p in cl.get("replicas") or [])] if n]


async def _streams(store: Any) -> list[dict]:
    """Every stream's info, a page at a time (the JetStream API's stream list)."""
    out: list[dict] = []
    offset = 0
    while True:
        page = await store.conn.read("$JS.API.STREAM.LIST", {"offset": offset})
        streams = page.get("streams") or []
        out += streams
        offset += len(streams)
        if not streams or offset >= int(page.get("total", 0) or 0):
            return out
