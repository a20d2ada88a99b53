"""The domain rules of a change, once for both backends (SPEC sections 1 and 2).

A backend checks the arguments here, reads what a rule needs (the room, its members),
asks here whether the change keeps the rules, and writes the records built here. So
SQLite and KV refuse the same requests with the same errors and the same words; only
how a backend reads and writes stays its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from . import ids
from .errors import AlreadyExists, Conflict, InvalidInput, NotFound
from .models import Member, Role, Room, SealedKey, Status, User


class NewRoom(NamedTuple):
    """The records of a new room: the room, its owner as member, the owner's first key."""

    room: Room
    owner: Member
    key: SealedKey | None


class NewMember(NamedTuple):
    """add_member's arguments, checked; the sealed key still to be checked against the room."""

    room_id: str
    endpoint: str
    role: Role
    sealed_key: bytes | None


# -- rooms -------------------------------------------------------------------------

def new_room(room_id: str, name: str, owner: str, encrypted: bool, sealed_key: bytes | None,
             now: int) -> NewRoom:
    """An encrypted room starts at epoch 1 with the owner's key; an unencrypted one at
    epoch 0 without. Raises: InvalidInput."""
    rid, nm, own = ids.room_id(room_id), ids.name(name), ids.endpoint(owner)
    if encrypted:
        if sealed_key is None:
            raise InvalidInput(f"encrypted room {rid} needs the owner's sealed key")
        key: SealedKey | None = SealedKey(rid, 1, own, ids.sealed_key(sealed_key), now)
    elif sealed_key is not None:
        raise InvalidInput(f"unencrypted room {rid} takes no sealed key")
    else:
        key = None
    room = Room(rid, nm, bool(encrypted), own, 1 if encrypted else 0, now)
    return NewRoom(room, Member(rid, own, Role.OWNER, now), key)


def room_exists(room_id: str) -> AlreadyExists:
    return AlreadyExists(f"room {room_id} already exists")


def no_room(room_id: str) -> NotFound:
    return NotFound(f"no such room: {room_id}")


# -- members -----------------------------------------------------------------------

def member_args(room_id: str, endpoint: str, role: str, sealed_key: bytes | None) -> NewMember:
    """Raises: InvalidInput (the owner is set when the room is created)."""
    rid, ep, r = ids.room_id(room_id), ids.endpoint(endpoint), ids.member_role(role)
    if r == Role.OWNER:
        raise InvalidInput(f"room {rid} has one owner, set when it is created; add {ep} as member")
    return NewMember(rid, ep, r, None if sealed_key is None else ids.sealed_key(sealed_key))


def new_member(args: NewMember, room: Room, now: int) -> tuple[Member, SealedKey | None]:
    """The member and its key at the room's current epoch. Raises: InvalidInput (an
    encrypted room needs the key, an unencrypted one takes none)."""
    if room.encrypted and args.sealed_key is None:
        raise InvalidInput(f"encrypted room {room.id} needs {args.endpoint}'s sealed key at epoch {room.epoch}")
    if not room.encrypted and args.sealed_key is not None:
        raise InvalidInput(f"unencrypted room {room.id} takes no sealed key")
    member = Member(args.room_id, args.endpoint, args.role, now)
    if args.sealed_key is None:
        return member, None
    return member, SealedKey(args.room_id, room.epoch, args.endpoint, args.sealed_key, now)


def member_exists(room_id: str, endpoint: str) -> AlreadyExists:
    return AlreadyExists(f"{endpoint} is already a member of room {room_id}")


def not_a_member(room_id: str, endpoint: str) -> NotFound:
    return NotFound(f"{endpoint} is not a member of room {room_id}")


def check_removable(room: Room, endpoint: str) -> None:
    """Raises: InvalidInput for the owner."""
    if endpoint == room.owner:
        raise InvalidInput(f"{endpoint} owns room {room.id} and cannot be removed from it")


# -- keys --------------------------------------------------------------------------

def check_key_epoch(room: Room, epoch: int) -> None:
    """put_key writes only an existing epoch of an encrypted room. Raises: InvalidInput."""
    if not room.encrypted:
        raise InvalidInput(f"unencrypted room {room.id} has no sealed keys")
    if not 1 <= epoch <= room.epoch:
        raise InvalidInput(f"room {room.id} has no epoch {epoch}: expected 1 to {room.epoch}")


def no_key(room_id: str, endpoint: str, epoch: int) -> NotFound:
    return NotFound(f"no sealed key of {endpoint} at epoch {epoch} of room {room_id}")


def rekey_keys(room_id: str, sealed_keys: Mapping[str, bytes]) -> dict[str, bytes]:
    """The new epoch's keys by normalized endpoint. Raises: InvalidInput."""
    keys: dict[str, bytes] = {}
    for ep, sk in sealed_keys.items():
        norm = ids.endpoint(ep)
        if norm in keys:
            raise InvalidInput(f"rekey of room {room_id} names {norm} twice (keys are case-insensitive)")
        keys[norm] = ids.sealed_key(sk)
    return keys


def rekeyed(room: Room, members: set[str], keys: Mapping[str, bytes]) -> Room:
    """The room at its next epoch, when the keys are for exactly its members.
    Raises: InvalidInput (unencrypted room, a member missing, a non-member)."""
    if not room.encrypted:
        raise InvalidInput(f"unencrypted room {room.id} cannot be rekeyed")
    missing = sorted(members - keys.keys())
    if missing:
        raise InvalidInput(f"rekey of room {room.id} misses a sealed key for member(s): {', '.join(missing)}")
    strangers = sorted(keys.keys() - members)
    if strangers:
        raise InvalidInput(f"rekey of room {room.id} has keys for non-member(s): {', '.join(strangers)}")
    return Room(room.id, room.name, room.encrypted, room.owner, room.epoch + 1, room.created_at)


def rekey_conflict(room_id: str) -> Conflict:
    return Conflict(f"room {room_id} was rekeyed meanwhile; re-read and retry")


# -- users -------------------------------------------------------------------------

def new_user(key: str, name: str, role: str, now: int) -> User:
    """Raises: InvalidInput."""
    return User(ids.key(key), ids.name(name), ids.user_role(role), Status.ACTIVE, now, None)


def user_exists(key: str) -> AlreadyExists:
    return AlreadyExists(f"user {key} already exists")


def no_user(key: str) -> NotFound:
    return NotFound(f"no such user: {key}")


def with_status(user: User, status: Status, now: int) -> User:
    """The user revoked (at now) or reinstated; a revoked user keeps its first revoked_at."""
    if user.status == status:
        return user  # safe to repeat
    return User(user.key, user.name, user.role, status, user.added_at,
                now if status == Status.REVOKED else None)
