"""Messages that cross screens: small dataclasses (Textual calls __post_init__ for them).

Data flows one way: store -> worker -> message -> widget. A worker never touches a
widget; it posts one of these and the screen's handler sets the widgets' data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from store import InvalidRecord, Member, Room, SealedKey, User


@dataclass
class StoreChanged(Message):
    """The data may have changed (opened, our own write, or someone else's): reload if shown."""


@dataclass
class RoomsLoaded(Message):
    rooms: list[Room]
    member_counts: dict[str, int]
    #: stored rooms that break the rules: shown flagged, never hidden
    invalid: list[InvalidRecord] = field(default_factory=list)


@dataclass
class UsersLoaded(Message):
    users: list[User]
    #: stored users that break the rules: shown flagged, never hidden
    invalid: list[InvalidRecord] = field(default_factory=list)


@dataclass
class RoomLoaded(Message):
    """One room's detail: its members, every sealed key, and the users behind the members."""

    room: Room
    members: list[Member]
    keys: list[SealedKey]
    users: dict[str, User] = field(default_factory=dict)


@dataclass
class UserRoomsLoaded(Message):
    """A user (None when the key is not on the allowlist) and its rooms with their current key."""

    key: str
    user: User | None
    rooms: list[tuple[Room, Member | None, SealedKey | None]]
