"""The KV value encoding of SPEC section 4, in one place: models <-> compact UTF-8 JSON.

The export JSON of SPEC section 7 uses the same objects, so both go through here.
Decoders raise ValueError with a reason; readers ignore unknown fields.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

from . import rules
from .errors import BadRecord
from .models import Member, Reverse, Role, Room, SealedKey, Status, User, UserRole

T = TypeVar("T")

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def room_obj(r: Room) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "encrypted": r.encrypted, "owner": r.owner,
            "epoch": r.epoch, "created_at": r.created_at}


# str(): a role or status may be an enum member (a str subclass); a JSON object holds plain
# text, as the decoders' exact type checks expect

def member_obj(m: Member) -> dict[str, Any]:
    return {"room_id": m.room_id, "endpoint": m.endpoint, "role": str(m.role), "joined_at": m.joined_at}


def reverse_obj(m: Member | Reverse) -> dict[str, Any]:
    return {"room_id": m.room_id, "endpoint": m.endpoint}


def key_obj(k: SealedKey) -> dict[str, Any]:
    return {"room_id": k.room_id, "epoch": k.epoch, "endpoint": k.endpoint,
            "sealed_key": base64.b64encode(k.sealed_key).decode("ascii"), "created_at": k.created_at}


def user_obj(u: User) -> dict[str, Any]:
    return {"key": u.key, "name": u.name, "role": str(u.role), "status": str(u.status),
            "added_at": u.added_at, "revoked_at": u.revoked_at}


# -- the same objects as compact JSON text, one record at a time ----------------
# For bulk exports (a million keys): an f-string per record is several times faster
# than building a dict and encoding it, and gives the very same bytes (json's own
# string escaper; ints and None render as json does). tests/store/test_contract.py
# pins the equality with dumps(*_obj(...)).

_str = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring


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


def encode_reverse(m: Member | Reverse) -> bytes:
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
#
# Every decoder raises BadRecord (a StoreError, and a ValueError) with the reason, and
# nothing else. The rules are store.rules, shared with the SQLite backend. Each *_from_obj
# first tries a fast path: one predicate that accepts a well-formed value (JSON gives exact
# str/int/bool types); anything else takes the checks of store.rules, which accept or
# refuse exactly the same values and name the problem (tests/store/test_codec.py).

_ROOM_OK = rules.ROOM_ID_RE.fullmatch
_LOWER_KEY_OK = rules.LOWER_KEY_RE.fullmatch
# the plain strings: a hot loop compares each decoded value with them
_MEMBER_ROLES = tuple(r.value for r in Role)
_USER_ROLES = tuple(r.value for r in UserRole)
_STATUSES = tuple(s.value for s in Status)
_LO, _HI = rules.I64_MIN, rules.I64_MAX
_a2b = binascii.a2b_base64


def _load(data: bytes) -> Any:
    try:
        # UTF-8 only (SPEC 4): json.loads of bytes would also take UTF-16 and UTF-32
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRecord("not UTF-8 text") from None
    except ValueError as e:  # not JSON, or an integer beyond Python's digit limit
        raise BadRecord(f"not JSON: {e}") from None
    except RecursionError:
        raise BadRecord("not JSON: nested too deeply") from None


_raw_decode = json.JSONDecoder().raw_decode


def load_many(values: list[bytes]) -> list[Any] | None:
    """Parse many JSON values at about the cost of one json.loads over an array (twice as
    fast as a call each); then check each with *_from_obj. Each value must parse to its own
    end exactly (one array would let crafted fragments shift into their neighbours).
    None when that does not hold: decode them one by one to get each reason.
    """
    joined = b"".join(values)
    if not joined.isascii():  # offsets below are in characters: only ASCII keeps them bytes
        try:
            return [json.loads(v.decode("utf-8")) for v in values]
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            return None
    text = joined.decode("ascii")
    objs = []
    start = 0
    try:
        for v in values:
            end = start + len(v)
            obj, stop = _raw_decode(text, start)
            if stop != end:  # trailing text, or a value that reached into the next one
                return None
            objs.append(obj)
            start = end
    except (ValueError, RecursionError):
        return None
    return objs


_MAX_NAME = rules.MAX_NAME


def _name_ok(n: str) -> bool:
    """Text of at most MAX_NAME characters that encodes as UTF-8 (JSON may carry a lone
    surrogate escape)."""
    if len(n) > _MAX_NAME:
        return False
    if n.isascii():
        return True
    try:
        n.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _by_the_rules(model: Callable[..., T], entity: str, o: Any) -> T:
    """The model of o, an object that keeps every rule of the entity (the fields in SPEC
    order); else BadRecord naming the first broken rule."""
    if type(o) is not dict:
        raise BadRecord("not a JSON object")
    why = rules.problem(entity, o)
    if why is not None:
        raise BadRecord(why)
    return model(*(o[name] for name, _ in rules.FIELDS[entity]))


def room_from_obj(o: Any) -> Room:
    if type(o) is dict:
        i, n, e, w, p, c = (o.get("id"), o.get("name"), o.get("encrypted"), o.get("owner"),
                            o.get("epoch"), o.get("created_at"))
        if (type(i) is str and type(n) is str and type(e) is bool and type(w) is str
                and type(p) is int and 0 <= p <= _HI and type(c) is int and _LO <= c <= _HI
                and _ROOM_OK(i) and _LOWER_KEY_OK(w) and _name_ok(n)):
            return Room(i, n, e, w, p, c)
    return _by_the_rules(Room, "rooms", o)


def member_from_obj(o: Any) -> Member:
    if type(o) is dict:
        r, e, role, j = o.get("room_id"), o.get("endpoint"), o.get("role"), o.get("joined_at")
        if (type(r) is str and type(e) is str and type(role) is str and role in _MEMBER_ROLES
                and type(j) is int and _LO <= j <= _HI and _ROOM_OK(r) and _LOWER_KEY_OK(e)):
            return Member(r, e, role, j)  # type: ignore[arg-type]  # role checked against Role above
    return _by_the_rules(Member, "members", o)


def reverse_from_obj(o: Any) -> Reverse:
    if type(o) is dict:
        r, e = o.get("room_id"), o.get("endpoint")
        if type(r) is str and type(e) is str and _ROOM_OK(r) and _LOWER_KEY_OK(e):
            return Reverse(r, e)
    return _by_the_rules(Reverse, "rooms_by_member", o)


def key_from_obj(o: Any) -> SealedKey:
    if type(o) is dict:
        r, p, e, k, c = (o.get("room_id"), o.get("epoch"), o.get("endpoint"), o.get("sealed_key"),
                         o.get("created_at"))
        if (type(r) is str and type(p) is int and 0 <= p <= _HI and type(e) is str and type(k) is str
                and type(c) is int and _LO <= c <= _HI and _ROOM_OK(r) and _LOWER_KEY_OK(e)):
            try:
                # strict a2b refuses at least what b64decode(validate=True) refuses, at a
                # fraction of the cost; a value it refuses goes the long way below
                return SealedKey(r, p, e, _a2b(k, strict_mode=True), c)
            except (binascii.Error, ValueError):
                pass  # the checks below give the reason
    if type(o) is not dict:
        raise BadRecord("not a JSON object")
    raw = o.get("sealed_key")
    if "sealed_key" in o:
        if type(raw) is not str:
            raise BadRecord(f"sealed_key {raw!r:.40}: expected base64 text")
        try:
            o = {**o, "sealed_key": base64.b64decode(raw, validate=True)}
        except (binascii.Error, ValueError):
            raise BadRecord("sealed_key is not standard base64") from None
    return _by_the_rules(SealedKey, "room_keys", o)


def user_from_obj(o: Any) -> User:
    if type(o) is dict:
        k, n, role, st, a, rv = (o.get("key"), o.get("name"), o.get("role"), o.get("status"),
                                 o.get("added_at"), o.get("revoked_at"))
        if (type(k) is str and type(n) is str and type(role) is str and role in _USER_ROLES
                and type(st) is str and st in _STATUSES and type(a) is int and _LO <= a <= _HI
                and (rv is None or (type(rv) is int and _LO <= rv <= _HI)) and _LOWER_KEY_OK(k)
                and _name_ok(n)):
            return User(k, n, role, st, a, rv)  # type: ignore[arg-type]  # role, status checked above
    if type(o) is dict and "revoked_at" not in o:
        o = {**o, "revoked_at": None}  # a value may leave it out: null
    return _by_the_rules(User, "users", o)


def _decoder(from_obj: Callable[[Any], T]) -> Callable[[bytes], T]:
    def decode(data: bytes) -> T:
        return from_obj(_load(data))

    return decode


#: one stored value (bytes) -> its model; BadRecord with the reason
decode_room = _decoder(room_from_obj)
decode_member = _decoder(member_from_obj)
decode_reverse = _decoder(reverse_from_obj)
decode_key = _decoder(key_from_obj)
decode_user = _decoder(user_from_obj)


# -- rewriting a stored value --------------------------------------------------

def rewrite(data: bytes, changes: dict[str, Any]) -> bytes:
    """The stored value with some fields changed and every other field kept as it was, in
    its place: a field written by a newer daemon survives this tool's revoke (SPEC 4).
    Raises BadRecord when the value is not a JSON object."""
    obj = _load(data)
    if type(obj) is not dict:
        raise BadRecord("not a JSON object")
    obj.update(changes)
    text = _dumps(obj)
    try:
        return text.encode()
    except UnicodeEncodeError:  # an unknown field holds a lone surrogate escape: keep it escaped
        return json.dumps(obj, separators=(",", ":")).encode()
