"""Frozen value types shared by every backend, the UI and the migration.

Roles and statuses are StrEnums: a member is its own string, so it compares, hashes,
prints and serializes as the text the daemon stores. A record read back holds that
stored text (equal to a member): the decoders and the SQLite reads do not convert a
million values one by one for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from .text import fingerprint


class Role(StrEnum):
    """A member's role in a room."""

    OWNER = "owner"
    MEMBER = "member"


class UserRole(StrEnum):
    """A user's role in the allowlist."""

    ADMIN = "admin"
    USER = "user"


class Status(StrEnum):
    """Whether a user is admitted."""

    ACTIVE = "active"
    REVOKED = "revoked"


# the names the CLI and the tests use
ROLE_OWNER, ROLE_MEMBER = Role.OWNER, Role.MEMBER
USER_ADMIN, USER_USER = UserRole.ADMIN, UserRole.USER
ACTIVE, REVOKED = Status.ACTIVE, Status.REVOKED


@dataclass(frozen=True, slots=True)
class Room:
    id: str
    name: str
    encrypted: bool
    owner: str
    epoch: int
    created_at: int


@dataclass(frozen=True, slots=True)
class Member:
    room_id: str
    endpoint: str
    role: Role
    joined_at: int


class Reverse(NamedTuple):
    """A rooms_by_member value (KV only): one row of the reverse index of members."""

    room_id: str
    endpoint: str


@dataclass(frozen=True, slots=True)
class SealedKey:
    room_id: str
    epoch: int
    endpoint: str
    sealed_key: bytes
    created_at: int

    @property
    def fingerprint(self) -> str:
        """A short, stable fingerprint to show instead of the sealed bytes."""
        return fingerprint(self.sealed_key)


@dataclass(frozen=True, slots=True)
class User:
    key: str
    name: str
    role: UserRole
    status: Status
    added_at: int
    revoked_at: int | None

    @property
    def active(self) -> bool:
        return self.status == Status.ACTIVE

    @property
    def row(self) -> UserRow:
        return (self.key, self.name, PLAIN[self.role], PLAIN[self.status], self.added_at, self.revoked_at)


#: A user as a plain tuple, (key, name, role, status, added_at, revoked_at), role and status
#: their plain str values: what a view of a million users keeps. A User is an object the
#: garbage collector tracks (a million of them make each full collection, and so a UI,
#: stall for a second); a tuple of str and int it stops tracking, and it is smaller.
UserRow = tuple[str, str, str, str, int, "int | None"]

@dataclass(frozen=True, slots=True)
class UserChanges:
    """A batch of users written since the last (Store.watch_users): the new rows, the keys
    deleted, and the records written that break the rules."""

    rows: list[UserRow]
    deleted: list[str]
    invalid: list[InvalidRecord]


#: the one plain str of each role and status (a str made per row would cost memory, and a
#: tuple holding an enum member, a tracked object, stays tracked)
PLAIN: dict[str, str] = {m: m.value for m in (*UserRole, *Status)}


@dataclass(frozen=True, slots=True)
class InvalidRecord:
    """A stored record that does not decode or breaks a rule of store.rules: reported (where:
    the bucket or table; its identity, written as its KV key; why), never skipped silently."""

    bucket: str
    key: str
    reason: str


class MemberRoom(NamedTuple):
    """A room an endpoint is a member of, with that membership and the endpoint's sealed key
    at the room's current epoch (None: unencrypted, or the key is missing)."""

    room: Room
    member: Member | None
    key: SealedKey | None


@dataclass(frozen=True, slots=True)
class Revision:
    """One stored revision of a record: the user (None: deleted), the KV revision (the
    stream sequence; 0 where the backend keeps no history) and when it was written (Unix
    seconds; None when unknown)."""

    user: User | None
    revision: int
    at: int | None


@dataclass(frozen=True, slots=True)
class Decision:
    """What is_authorized (or is_admin) answers, and why: for a person, the CLI and the probe."""

    allowed: bool
    reason: str
    #: the user record the decision was made on, when one was read
    user: User | None = None


@dataclass(frozen=True, slots=True)
class StatusChange:
    """What a revoke or reinstate did, as its compare-and-set found it: `user` as stored
    after it, `changed` False when the user had that status already (nothing written, no
    audit event; e.g. another admin's revoke won the race)."""

    user: User
    changed: bool


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The whole state, each tuple sorted by identity (code-point order, epochs numerically).

    Two snapshots compare equal exactly when the states are equal.
    """

    rooms: tuple[Room, ...] = ()
    members: tuple[Member, ...] = ()
    sealed_keys: tuple[SealedKey, ...] = ()
    users: tuple[User, ...] = ()
    invalid: tuple[InvalidRecord, ...] = field(default=())

    @property
    def record_count(self) -> int:
        return len(self.rooms) + len(self.members) + len(self.sealed_keys) + len(self.users)
