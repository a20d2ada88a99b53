"""The Store interface: the only way from the UI, the CLI and the migration to the data.

Both backends (store.sqlite.SqliteStore, store.kv.KvStore) implement every method with
the same semantics and the same errors (store.errors). Keys and endpoints are
normalized to lower case at every entry point; room ids keep their case.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping

from .models import Member, Room, SealedKey, Snapshot, User


class Store(abc.ABC):
    """Async access to rooms, members, sealed keys and the user allowlist.

    Every method may raise Unavailable (backend unreachable, no quorum, timeout)
    and ReadOnly (a change on a store opened read-only); the others are listed
    per method.
    """

    #: one line naming the open backend, for headers and messages
    label: str = ""
    read_only: bool = False

    # -- rooms -----------------------------------------------------------------
    @abc.abstractmethod
    async def create_room(
        self,
        room_id: str,
        name: str,
        owner: str,
        *,
        encrypted: bool = False,
        sealed_key: bytes | None = None,
    ) -> Room:
        """Create a room with its owner as member (role owner).

        An encrypted room starts at epoch 1 and needs the owner's sealed key;
        an unencrypted one is at epoch 0 and takes no key.
        Raises: InvalidInput, AlreadyExists.
        """

    @abc.abstractmethod
    async def get_room(self, room_id: str) -> Room:
        """Raises: InvalidInput, NotFound."""

    @abc.abstractmethod
    async def list_rooms(self) -> list[Room]:
        """All rooms, sorted by id."""

    @abc.abstractmethod
    async def delete_room(self, room_id: str) -> None:
        """Delete a room with its members and every sealed key. Raises: InvalidInput, NotFound."""

    # -- members ---------------------------------------------------------------
    @abc.abstractmethod
    async def add_member(
        self, room_id: str, endpoint: str, *, role: str = "member", sealed_key: bytes | None = None
    ) -> Member:
        """Add a member; an encrypted room needs its sealed key at the current epoch.

        Raises: InvalidInput, NotFound (room), AlreadyExists.
        """

    @abc.abstractmethod
    async def remove_member(self, room_id: str, endpoint: str) -> None:
        """Remove a member (not the owner). Keys of past epochs are kept.

        Raises: InvalidInput (the owner), NotFound.
        """

    @abc.abstractmethod
    async def list_members(self, room_id: str) -> list[Member]:
        """The room's members sorted by endpoint. Raises: InvalidInput, NotFound (room)."""

    @abc.abstractmethod
    async def rooms_of_member(self, endpoint: str) -> list[str]:
        """Ids of the rooms the endpoint is a member of, sorted (the reverse index)."""

    @abc.abstractmethod
    async def member_counts(self) -> dict[str, int]:
        """Number of members of every room that has any, by room id."""

    # -- keys ------------------------------------------------------------------
    @abc.abstractmethod
    async def put_key(self, room_id: str, epoch: int, endpoint: str, sealed_key: bytes) -> SealedKey:
        """Store (or overwrite) one sealed key of an existing epoch (1..room.epoch).

        Raises: InvalidInput, NotFound (room).
        """

    @abc.abstractmethod
    async def get_key(self, room_id: str, endpoint: str, epoch: int | None = None) -> SealedKey:
        """The member's key at that epoch, or at the room's current epoch when None.

        Raises: InvalidInput, NotFound.
        """

    @abc.abstractmethod
    async def list_keys(self, room_id: str) -> list[SealedKey]:
        """Every sealed key of the room, all epochs, sorted by (epoch, endpoint).

        Raises: InvalidInput, NotFound (room).
        """

    @abc.abstractmethod
    async def rekey(self, room_id: str, sealed_keys: Mapping[str, bytes]) -> Room:
        """Move an encrypted room to epoch+1 with a key for every current member.

        Raises: InvalidInput (unencrypted room, a member missing, a non-member), NotFound,
        Conflict (the room changed meanwhile).
        """

    # -- users -----------------------------------------------------------------
    @abc.abstractmethod
    async def add_user(self, key: str, name: str = "", role: str = "user") -> User:
        """Add an active user. Raises: InvalidInput, AlreadyExists (also when only case differs)."""

    @abc.abstractmethod
    async def get_user(self, key: str) -> User:
        """Raises: InvalidInput, NotFound."""

    @abc.abstractmethod
    async def list_users(self) -> list[User]:
        """All users sorted by key."""

    @abc.abstractmethod
    async def revoke_user(self, key: str) -> User:
        """Set status revoked and revoked_at; memberships stay. Revoking a revoked user
        changes nothing (safe to repeat). Raises: InvalidInput, NotFound, Conflict.
        """

    @abc.abstractmethod
    async def reinstate_user(self, key: str) -> User:
        """Set status active and clear revoked_at; idempotent. Raises: InvalidInput, NotFound, Conflict."""

    @abc.abstractmethod
    async def is_authorized(self, key: str) -> bool:
        """True only for an active user read from a state known to be current.

        Never raises: any error, timeout or lost quorum answers False (fail closed).
        """

    @abc.abstractmethod
    async def is_admin(self, key: str) -> bool:
        """Like is_authorized, and the user's role is admin. Never raises."""

    # -- whole state -----------------------------------------------------------
    @abc.abstractmethod
    async def export_snapshot(self) -> Snapshot:
        """The whole state in deterministic order (see store.models.Snapshot)."""

    @abc.abstractmethod
    async def change_marker(self) -> object:
        """A cheap value that differs whenever the state may have changed since the last call
        (also by another process: the daemon, another admin). The UI polls it to refresh live.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections. Safe to call twice."""

    async def __aenter__(self) -> "Store":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
