"""Identifier validation and key normalization, the same for every backend (SPEC section 1)."""

from __future__ import annotations

import re

from .errors import InvalidInput
from .models import Role, UserRole
from .rules import KEY_RE, MAX_NAME, ROOM_ID_RE

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def room_id(value: object) -> str:
    """Return a valid room id (case is kept) or raise InvalidInput."""
    if not isinstance(value, str) or not ROOM_ID_RE.fullmatch(value):
        raise InvalidInput(f"invalid room id {_show(value)}: expected 1-64 of A-Z a-z 0-9 _ -")
    return value


def key(value: object, what: str = "key") -> str:
    """Return a user key or endpoint normalized to lower case, or raise InvalidInput."""
    if not isinstance(value, str) or not KEY_RE.fullmatch(value):
        raise InvalidInput(f"invalid {what} {_show(value)}: expected 1-128 of A-Z a-z 0-9 _ -")
    return value.lower()


def endpoint(value: object) -> str:
    return key(value, "endpoint")


def name(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput("invalid name: expected text")
    if len(value) > MAX_NAME:
        raise InvalidInput(f"invalid name: {len(value)} characters, at most {MAX_NAME}")
    if _CONTROL.search(value):
        raise InvalidInput("invalid name: control characters are not allowed")
    return value


def user_role(value: object) -> UserRole:
    if not isinstance(value, str) or value not in tuple(UserRole):
        raise InvalidInput(f"invalid user role {_show(value)}: expected admin or user")
    return UserRole(value)


def member_role(value: object) -> Role:
    if not isinstance(value, str) or value not in tuple(Role):
        raise InvalidInput(f"invalid member role {_show(value)}: expected owner or member")
    return Role(value)


def epoch(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"invalid epoch {_show(value)}: expected an integer >= 0")
    return value


def sealed_key(value: object) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) == 0:
        raise InvalidInput("invalid sealed key: expected non-empty bytes")
    return bytes(value)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
