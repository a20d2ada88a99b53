"""What the screens and the app ask of the store, and the KV health probes: plain async code.

No widgets here. Loaders return frozen records that a screen shows; a UserChange says what
its confirmation asks and makes the write; health_loop hands a KV target's health reports
to a callback, and watch_health runs it in a screen's worker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from textual.screen import Screen
from textual.worker import Worker

from store import (
    Absent,
    InvalidRecord,
    Member,
    NatsSpec,
    NotFound,
    Room,
    SealedKey,
    Store,
    StoreError,
    User,
    open_store,
)
from store.audit import AuditEvent, AuditQuery, newest_last
from store.health import DEFAULT_PROBE_KEY, NO_QUORUM, HealthReport, absent_report, check_health
from store.models import REVOKED, USER_ADMIN, MemberRoom, Revision, Status
from store.text import printable

# -- loaders -----------------------------------------------------------------------------


async def user_or_none(store: Store, key: str) -> User | None:
    try:
        return await store.get_user(key)
    except NotFound:
        return None


@dataclass(frozen=True)
class UserList:
    users: list[User]
    #: stored users that break the rules: shown flagged, never hidden
    invalid: list[InvalidRecord]


async def load_users(store: Store) -> UserList:
    invalid: list[InvalidRecord] = []
    users = await store.list_users(invalid=invalid)
    return UserList(users, invalid)


@dataclass(frozen=True)
class RoomDetail:
    """One room: its members, every sealed key, and the users behind members and key holders."""

    room: Room
    members: list[Member]
    keys: list[SealedKey]
    users: dict[str, User]


async def load_room(store: Store, room_id: str) -> RoomDetail:
    room = await store.get_room(room_id)
    members, keys = await asyncio.gather(store.list_members(room_id), store.list_keys(room_id))
    endpoints = sorted({m.endpoint for m in members} | {k.endpoint for k in keys})
    found = await asyncio.gather(*(user_or_none(store, e) for e in endpoints))
    users = {e: u for e, u in zip(endpoints, found, strict=True) if u is not None}
    return RoomDetail(room, members, keys, users)


@dataclass(frozen=True)
class UserRooms:
    """A user (None when the key is not on the allowlist) and its rooms with their current key."""

    key: str
    user: User | None
    rooms: list[MemberRoom]


async def load_user_rooms(store: Store, key: str) -> UserRooms:
    user = await user_or_none(store, key)
    return UserRooms(key, user, await store.member_rooms(key))


# -- changes to a user -------------------------------------------------------------------

#: rooms named in a confirmation; the rest are an ellipsis
MAX_ROOMS_NAMED = 20


@dataclass(frozen=True)
class AuditList:
    events: list[AuditEvent]  # newest first
    invalid: list[InvalidRecord]


async def load_audit(store: Store) -> AuditList:
    invalid: list[InvalidRecord] = []
    events = await store.audit_events(invalid=invalid)
    return AuditList(newest_last(events)[::-1], invalid)


@dataclass(frozen=True)
class UserHistory:
    key: str
    revisions: list[Revision]  # oldest first
    events: list[AuditEvent]  # oldest first


async def load_history(store: Store, key: str) -> UserHistory:
    revisions, events = await asyncio.gather(store.user_history(key),
                                             store.audit_events(AuditQuery(target=key.lower())))
    return UserHistory(key, revisions, newest_last(events))


class UserChange(StrEnum):
    """Revoke or reinstate a user: what its confirmation asks, and the write."""

    REVOKE = "revoke"
    REINSTATE = "reinstate"

    @property
    def done(self) -> str:
        return "revoked" if self is UserChange.REVOKE else "reinstated"

    def needed(self, user: User) -> bool:
        """False when the user is already where this change would take it."""
        return (self is UserChange.REVOKE) != (user.status == REVOKED)

    def question(self, found: UserRooms) -> tuple[str, str]:
        """The confirmation's title and body: the user, and the rooms where it still holds a
        current-epoch key (what a revoke leaves readable until those rooms rekey)."""
        user = found.user
        assert user is not None
        holding = [r.room.id for r in found.rooms if r.room.encrypted and r.key is not None]
        name = f" ({user.name})" if user.name else ""
        title = printable(f"{self.capitalize()} {user.key}{name}?")
        body = f"role {user.role}, status {user.status}\n"
        if holding:
            body += (f"holds a current-epoch key in {len(holding)} room(s): "
                     + ", ".join(holding[:MAX_ROOMS_NAMED])
                     + (" …" if len(holding) > MAX_ROOMS_NAMED else ""))
        else:
            body += "holds no current-epoch key in any room"
        if self is UserChange.REVOKE:
            body += "\n\nRevoking stops its authorization; it stays a member until rooms rekey."
        return title, body

    async def apply(self, store: Store, key: str, reason: str | None = None) -> bool:
        """Make the change; False when the user had that status already (another admin's
        change came first): what the compare-and-set did, not what the confirmation read."""
        status = Status.REVOKED if self is UserChange.REVOKE else Status.ACTIVE
        return (await store.set_user_status(key, status, reason=reason)).changed


async def weak_trail(store: Store) -> str | None:
    """One sentence when the audit trail a change was just written to is weaker than SPEC 10
    (the change is made; a failure to ask names nothing)."""
    try:
        problems = await store.audit_problems()
    except StoreError:
        return None
    return ("audit trail is weak: " + "; ".join(problems)) if problems else None


# -- KV quorum health --------------------------------------------------------------------

#: how long picking the probe key may take, and how often it is tried again after a failure
PICK_TIMEOUT = 1.0
PICK_RETRY = 10.0


async def choose_probe_key(*stores: Store | None) -> str | None:
    """An active user to probe (an admin first), so "allow" means the quorum answers; from
    the first store that lists its users within PICK_TIMEOUT; None when none can now."""
    for store in stores:
        if store is None:
            continue
        try:
            users = await asyncio.wait_for(store.list_users(), PICK_TIMEOUT)
        except (TimeoutError, StoreError):
            continue
        break
    else:
        return None
    active = [u for u in users if u.active]
    admins = [u for u in active if u.role == USER_ADMIN]
    picks = admins or active
    return picks[0].key if picks else DEFAULT_PROBE_KEY


async def health_loop(deliver: Callable[[HealthReport], None], target: NatsSpec, interval: float,
                      shown: Callable[[], bool] = lambda: True,
                      probe_source: Callable[[], Store | None] = lambda: None,
                      pick_probe: bool = True, posture: bool = True) -> None:
    """Deliver a fresh report at least every `interval` seconds while shown().

    The loop keeps a read-only store of its own on target (never creating buckets; also
    when the app has the same backend open, so it does not depend on the app's opening),
    closed when the loop ends. A target that cannot be reached is a no-quorum report; one
    that answers without any of the buckets an absent one (tried again each round).
    probe_source: another store to pick the probe's user from first (the app's open
    database: the migration target holds a copy of it, and it answers without a quorum).
    pick_probe False: probe DEFAULT_PROBE_KEY, never listing users (the app's quorum gate
    needs only the state); posture False: no posture findings (the gate again).
    """
    store: Store | None = None
    probe_key: str | None = None
    next_pick = 0.0
    try:
        while True:
            started = time.monotonic()
            if shown():
                if store is None:
                    try:
                        store = await open_store(replace(target, read_only=True))
                    except Absent as e:  # answered, without the buckets: not a lost quorum
                        deliver(absent_report(target, e, probe_key or DEFAULT_PROBE_KEY,
                                              time.monotonic() - started))
                    except StoreError as e:
                        deliver(HealthReport(target.label, NO_QUORUM, error=str(e)))
                if store is not None:
                    if pick_probe and probe_key is None and started >= next_pick:
                        probe_key = await choose_probe_key(probe_source(), store)
                        next_pick = started + PICK_RETRY
                    deliver(await check_health(store, probe_key or DEFAULT_PROBE_KEY, posture=posture))
            await asyncio.sleep(max(0.05, interval - (time.monotonic() - started)))
    finally:
        if store is not None:
            await store.close()


def watch_health(screen: Screen, deliver: Callable[[HealthReport], None], target: NatsSpec,
                 interval: float, probe_source: Callable[[], Store | None]) -> Worker:
    """Start (or restart) the screen's health worker for target; it checks only while the
    screen is the one shown."""
    return screen.run_worker(
        health_loop(deliver, target, interval, lambda: screen.is_active, probe_source),
        group="health", exclusive=True, exit_on_error=False, name="health")
