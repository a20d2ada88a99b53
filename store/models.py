"""Frozen value types shared by every backend, the UI and the migration."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLE_OWNER = "owner"
ROLE_MEMBER = "member"
USER_ADMIN = "admin"
USER_USER = "user"
ACTIVE = "active"
REVOKED = "revoked"


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
    role: str
    joined_at: int


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
        from .ids import fingerprint

        return fingerprint(self.sealed_key)


@dataclass(frozen=True, slots=True)
class User:
    key: str
    name: str
    role: str
    status: str
    added_at: int
    revoked_at: int | None

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


@dataclass(frozen=True, slots=True)
class InvalidRecord:
    """A stored record that does not decode or breaks a rule of store.rules: reported (where:
    the bucket or table; its identity, written as its KV key; why), never skipped silently."""

    bucket: str
    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    """What is_authorized (or is_admin) answers, and why: for a person, the CLI and the probe."""

    allowed: bool
    reason: str
    #: the user record the decision was made on, when one was read
    user: User | None = None


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
