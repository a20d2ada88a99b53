"""The KV value encoding of SPEC section 4, in one place: models <-> compact UTF-8 JSON.

The export JSON of SPEC section 7 uses the same objects, so both go through here.
Decoders raise ValueError with a reason; readers ignore unknown fields.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from . import ids
from .models import (ACTIVE, REVOKED, ROLE_MEMBER, ROLE_OWNER, USER_ADMIN, USER_USER, Member, Room,
                     SealedKey, User)

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def room_obj(r: Room) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "encrypted": r.encrypted, "owner": r.owner,
            "epoch": r.epoch, "created_at": r.created_at}


def member_obj(m: Member) -> dict[str, Any]:
    return {"room_id": m.room_id, "endpoint": m.endpoint, "role": m.role, "joined_at": m.joined_at}


def reverse_obj(m: Member) -> dict[str, Any]:
    return {"room_id": m.room_id, "endpoint": m.endpoint}


def key_obj(k: SealedKey) -> dict[str, Any]:
    return {"room_id": k.room_id, "epoch": k.epoch, "endpoint": k.endpoint,
            "sealed_key": base64.b64encode(k.sealed_key).decode("ascii"), "created_at": k.created_at}


def user_obj(u: User) -> dict[str, Any]:
    return {"key": u.key, "name": u.name, "role": u.role, "status": u.status,
            "added_at": u.added_at, "revoked_at": u.revoked_at}


# -- the same objects as compact JSON text, one record at a time ----------------
# For bulk exports (a million keys): an f-string per record is several times faster
# than building a dict and encoding it, and gives the very same bytes (json's own
# string escaper; ints and None render as json does). tests/store/test_contract.py
# pins the equality with dumps(*_obj(...)).

_str = json.encoder.c_encode_basestring or json.encoder.py_encode_basestring


def room_json(r: Room) -> str:
    return (f'{{"id":{_str(r.id)},"name":{_str(r.name)},"encrypted":{"true" if r.encrypted else "false"},'
            f'"owner":{_str(r.owner)},"epoch":{r.epoch:d},"created_at":{r.created_at:d}}}')


def member_json(m: Member) -> str:
    return (f'{{"room_id":{_str(m.room_id)},"endpoint":{_str(m.endpoint)},"role":{_str(m.role)},'
            f'"joined_at":{m.joined_at:d}}}')


def key_json(k: SealedKey) -> str:
    return (f'{{"room_id":{_str(k.room_id)},"epoch":{k.epoch:d},"endpoint":{_str(k.endpoint)},'
            f'"sealed_key":"{base64.b64encode(k.sealed_key).decode("ascii")}","created_at":{k.created_at:d}}}')


def user_json(u: User) -> str:
    revoked = "null" if u.revoked_at is None else f"{u.revoked_at:d}"
    return (f'{{"key":{_str(u.key)},"name":{_str(u.name)},"role":{_str(u.role)},"status":{_str(u.status)},'
            f'"added_at":{u.added_at:d},"revoked_at":{revoked}}}')


def dumps(obj: Any) -> str:
    """Compact JSON, non-ASCII kept as UTF-8 (the daemon's encoding)."""
    return _dumps(obj)


def encode_room(r: Room) -> bytes:
    return _dumps(room_obj(r)).encode()


def encode_member(m: Member) -> bytes:
    return _dumps(member_obj(m)).encode()


def encode_reverse(m: Member) -> bytes:
    return _dumps(reverse_obj(m)).encode()


def _plain(s: str) -> bool:
    """True when JSON needs no escaping in s (ASCII, printable, no quote or backslash)."""
    return s.isascii() and s.isprintable() and '"' not in s and "\\" not in s


def encode_key(k: SealedKey) -> bytes:
    # the hot path of a migration (a million keys): plain identifiers are formatted
    # directly, byte-identical to the general encoder below (tests/store/test_migrate.py)
    rid, ep = k.room_id, k.endpoint
    if type(k.epoch) is int and type(k.created_at) is int and _plain(rid) and _plain(ep):
        return (f'{{"room_id":"{rid}","epoch":{k.epoch},"endpoint":"{ep}","sealed_key":"'
                f'{base64.b64encode(k.sealed_key).decode("ascii")}","created_at":{k.created_at}}}'
                ).encode()
    return _dumps(key_obj(k)).encode()


def encode_user(u: User) -> bytes:
    return _dumps(user_obj(u)).encode()


# -- decoding ------------------------------------------------------------------

def _load(data: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"not JSON: {e}") from None
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    return obj


def _is_object(obj: Any) -> None:
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")


# Fast paths for bulk decoding: one predicate accepts a well-formed value (JSON gives
# exact str/int/bool types); anything else falls through to the field-by-field checks,
# which accept or refuse exactly the same values and name the problem.
_ROOM_OK = ids.ROOM_ID_RE.fullmatch
_LOWER_KEY_OK = re.compile(r"[a-z0-9_-]{1,128}").fullmatch  # a valid key, already lower case
_MEMBER_ROLES = (ROLE_OWNER, ROLE_MEMBER)
_USER_ROLES = (USER_ADMIN, USER_USER)
_a2b = binascii.a2b_base64


def load_many(values: list[bytes]) -> list[Any] | None:
    """Parse many JSON values with one json.loads over an array (several times faster
    than a call each); then check each with *_from_obj. None when the values do not
    parse as one array of as many items: decode them one by one to get each reason.
    """
    try:
        objs = json.loads(b"[" + b",".join(values) + b"]")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return objs if len(objs) == len(values) else None


def _field(obj: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in obj:
        raise ValueError(f"missing field {name!r}")
    value = obj[name]
    # bool is an int subclass: keep them apart both ways
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise ValueError(f"field {name!r} has the wrong type")
    return value


def _checked(fn: Any, value: Any) -> Any:
    try:
        checked = fn(value)
    except ids.InvalidInput as e:
        raise ValueError(str(e)) from None
    if checked != value:  # stored keys must already be normalized; don't hide it
        raise ValueError(f"{value!r} is not lower case")
    return checked


def decode_room(data: bytes) -> Room:
    return room_from_obj(_load(data))


def room_from_obj(o: Any) -> Room:
    if type(o) is dict:
        i, n, e, w, p, c = (o.get("id"), o.get("name"), o.get("encrypted"), o.get("owner"),
                            o.get("epoch"), o.get("created_at"))
        if (type(i) is str and type(n) is str and type(e) is bool and type(w) is str
                and type(p) is int and p >= 0 and type(c) is int and _ROOM_OK(i) and _LOWER_KEY_OK(w)):
            return Room(i, n, e, w, p, c)
    _is_object(o)
    return Room(
        id=_checked(ids.room_id, _field(o, "id", str)),
        name=_field(o, "name", str),
        encrypted=_field(o, "encrypted", bool),
        owner=_checked(ids.endpoint, _field(o, "owner", str)),
        epoch=_checked(ids.epoch, _field(o, "epoch", int)),
        created_at=_field(o, "created_at", int),
    )


def decode_member(data: bytes) -> Member:
    return member_from_obj(_load(data))


def member_from_obj(o: Any) -> Member:
    if type(o) is dict:
        r, e, role, j = o.get("room_id"), o.get("endpoint"), o.get("role"), o.get("joined_at")
        if (type(r) is str and type(e) is str and type(role) is str and role in _MEMBER_ROLES
                and type(j) is int and _ROOM_OK(r) and _LOWER_KEY_OK(e)):
            return Member(r, e, role, j)
    _is_object(o)
    return Member(
        room_id=_checked(ids.room_id, _field(o, "room_id", str)),
        endpoint=_checked(ids.endpoint, _field(o, "endpoint", str)),
        role=_checked(ids.member_role, _field(o, "role", str)),
        joined_at=_field(o, "joined_at", int),
    )


def decode_reverse(data: bytes) -> tuple[str, str]:
    """(room_id, endpoint) of a rooms_by_member value."""
    return reverse_from_obj(_load(data))


def reverse_from_obj(o: Any) -> tuple[str, str]:
    if type(o) is dict:
        r, e = o.get("room_id"), o.get("endpoint")
        if type(r) is str and type(e) is str and _ROOM_OK(r) and _LOWER_KEY_OK(e):
            return (r, e)
    _is_object(o)
    return (_checked(ids.room_id, _field(o, "room_id", str)),
            _checked(ids.endpoint, _field(o, "endpoint", str)))


def decode_key(data: bytes) -> SealedKey:
    return key_from_obj(_load(data))


def key_from_obj(o: Any) -> SealedKey:
    if type(o) is dict:
        r, p, e, k, c = (o.get("room_id"), o.get("epoch"), o.get("endpoint"), o.get("sealed_key"),
                         o.get("created_at"))
        if (type(r) is str and type(p) is int and p >= 0 and type(e) is str and type(k) is str
                and type(c) is int and _ROOM_OK(r) and _LOWER_KEY_OK(e)):
            try:
                # strict a2b refuses at least what b64decode(validate=True) refuses, at a
                # fraction of the cost; a value it refuses goes the long way below
                return SealedKey(r, p, e, _a2b(k, strict_mode=True), c)
            except (binascii.Error, ValueError):
                pass  # the checks below give the reason
    _is_object(o)
    raw = _field(o, "sealed_key", str)
    try:
        sealed = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("field 'sealed_key' is not standard base64") from None
    return SealedKey(
        room_id=_checked(ids.room_id, _field(o, "room_id", str)),
        epoch=_checked(ids.epoch, _field(o, "epoch", int)),
        endpoint=_checked(ids.endpoint, _field(o, "endpoint", str)),
        sealed_key=sealed,
        created_at=_field(o, "created_at", int),
    )


def decode_user(data: bytes) -> User:
    return user_from_obj(_load(data))


def user_from_obj(o: Any) -> User:
    if type(o) is dict:
        k, n, role, st, a, rv = (o.get("key"), o.get("name"), o.get("role"), o.get("status"),
                                 o.get("added_at"), o.get("revoked_at"))
        if (type(k) is str and type(n) is str and type(role) is str and role in _USER_ROLES
                and type(st) is str and st in (ACTIVE, REVOKED) and type(a) is int
                and (rv is None or type(rv) is int) and _LOWER_KEY_OK(k)):
            return User(k, n, role, st, a, rv)
    _is_object(o)
    status = _field(o, "status", str)
    if status not in (ACTIVE, REVOKED):
        raise ValueError(f"field 'status' is {status!r}, expected active or revoked")
    revoked_at = o.get("revoked_at", None)
    if revoked_at is not None and (isinstance(revoked_at, bool) or not isinstance(revoked_at, int)):
        raise ValueError("field 'revoked_at' has the wrong type")
    return User(
        key=_checked(ids.key, _field(o, "key", str)),
        name=_field(o, "name", str),
        role=_checked(ids.user_role, _field(o, "role", str)),
        status=status,
        added_at=_field(o, "added_at", int),
        revoked_at=revoked_at,
    )
