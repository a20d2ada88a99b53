"""Property tests of the KV value codec (store/codec.py, SPEC section 4), with hypothesis.

A KV value is whatever a daemon, an older or newer tool, or a damaged stream left in a
bucket, so the decoders must be total: for *any* bytes they return a model or raise
store.errors.BadRecord, never another exception (anything else escapes the store and
ends as a traceback). Hand-picked cases cover the values we thought of; generated ones
(arbitrary bytes, arbitrary JSON, valid objects with one field broken or missing) cover
the ones we did not, and hypothesis shrinks a failure to its smallest value.

Also pinned here: valid models survive encode/decode unchanged; the fast f-string
encoders give the very bytes of the general encoder; the bulk path (load_many and the
*_from_obj fast paths) gives what one-at-a-time decoding gives; and a rewrite (revoke,
reinstate, rekey) keeps the fields a newer daemon wrote.

The tests at the end are the smallest reproductions of bugs these properties found
(fixed): an integer beyond Python's digit limit, a lone surrogate escape in an unknown
field, and crafted fragments that shifted into their neighbours in the bulk parse.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import codec, rules
from store.errors import BadRecord
from store.models import ACTIVE, REVOKED, ROLE_MEMBER, ROLE_OWNER, USER_ADMIN, USER_USER, Member, Room, SealedKey, User

# No example database: these tests must not leave a .hypothesis/ folder in the repository,
# and derandomize makes every run (and CI) try the same examples.
PROPS = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow])

# -- strategies ----------------------------------------------------------------------

room_ids = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
keys = st.from_regex(r"[a-z0-9_-]{1,128}", fullmatch=True)
# any Unicode text but lone surrogates (those cannot be UTF-8); control characters are
# allowed in a stored name (store.rules: shown escaped, not refused)
names = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
int64 = st.integers(rules.I64_MIN, rules.I64_MAX)
epochs = st.integers(0, rules.I64_MAX)
# both ends matter: the empty sealed key, and lengths that need one or two '=' of padding
sealed = st.binary(min_size=0, max_size=70)

rooms = st.builds(Room, room_ids, names, st.booleans(), keys, epochs, int64)
members = st.builds(Member, room_ids, keys, st.sampled_from([ROLE_OWNER, ROLE_MEMBER]), int64)
sealed_keys = st.builds(SealedKey, room_ids, epochs, keys, sealed, int64)
users = st.builds(User, keys, names, st.sampled_from([USER_ADMIN, USER_USER]),
                  st.sampled_from([ACTIVE, REVOKED]), int64, st.none() | int64)

#: any JSON value (NaN and the infinities too: Python's json reads them)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
#: the same without NaN, so a value can be compared with itself after a round trip
json_comparable = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)


@dataclasses.dataclass(frozen=True)
class Entity:
    """One KV value type: its models, and the codec functions that handle it."""

    name: str  # the store.rules entity (the SQLite table; rooms_by_member for the reverse index)
    models: st.SearchStrategy
    obj: Callable[[Any], dict]
    decode: Callable[[bytes], Any]
    from_obj: Callable[[Any], Any]
    fast_json: Callable[[Any], str] | None
    #: the decoded form of a model (decode_reverse gives a tuple, not the Member)
    expect: Callable[[Any], Any] = lambda m: m

    def __str__(self) -> str:  # readable pytest ids
        return self.name


ENTITIES = [
    Entity("rooms", rooms, codec.room_obj, codec.decode_room, codec.room_from_obj, codec.room_json),
    Entity("members", members, codec.member_obj, codec.decode_member, codec.member_from_obj,
           codec.member_json),
    Entity("rooms_by_member", members, codec.reverse_obj, codec.decode_reverse, codec.reverse_from_obj,
           None, lambda m: (m.room_id, m.endpoint)),
    Entity("room_keys", sealed_keys, codec.key_obj, codec.decode_key, codec.key_from_obj, codec.key_json),
    Entity("users", users, codec.user_obj, codec.decode_user, codec.user_from_obj, codec.user_json),
]
ENCODERS = {"rooms": codec.encode_room, "members": codec.encode_member,
            "rooms_by_member": codec.encode_reverse, "room_keys": codec.encode_key,
            "users": codec.encode_user}
by_entity = pytest.mark.parametrize("entity", ENTITIES, ids=str)


@st.composite
def near_valid(draw: st.DrawFn, entity: Entity) -> dict:
    """A valid value's object with one field replaced by any JSON value, or removed: the
    values closest to valid, where the fast path and the rules could part ways."""
    obj = entity.obj(draw(entity.models))
    field = draw(st.sampled_from(sorted(obj)))
    if draw(st.booleans()):
        del obj[field]
    else:
        obj[field] = draw(json_values | _plausible(field))
    return obj


def _plausible(field: str) -> st.SearchStrategy:
    """Wrong values of the right JSON type (an arbitrary JSON value rarely is one): text
    near an identifier or a role, integers at and past the int64 bounds, bad base64."""
    ints = st.sampled_from([-1, 0, rules.I64_MAX, rules.I64_MAX + 1, rules.I64_MIN, rules.I64_MIN - 1,
                            2 ** 64, True, False, 1.0])
    texts = (st.text(st.sampled_from("aZ09_-.*> é\x00\ud800="), min_size=0, max_size=6)
             | st.text(st.sampled_from("az"), min_size=63, max_size=130)
             | st.sampled_from(["owner", "member", "admin", "user", "active", "revoked", "Owner",
                                "", "QQ==", "QQ=", "QQ", "Q===", "QR==", "QQ==QQ==", " QQ==", "Q Q==",
                                "QUJD", "QUJD\n", "-_-_", "++//"]))
    return ints if field in ("epoch", "created_at", "joined_at", "added_at", "revoked_at",
                             "encrypted") else texts


def outcome(fn: Callable[[Any], Any], arg: Any) -> tuple:
    """("ok", model) or ("refused",). Any exception but BadRecord propagates and fails the
    test: that is the property."""
    try:
        return ("ok", fn(arg))
    except BadRecord as e:
        reason = str(e)
        assert reason and "\n" not in reason, f"BadRecord without a one-line reason: {reason!r}"
        return ("refused",)


def fields_of(entity: Entity, decoded: Any) -> dict:
    """A decoded value as the rules see it: field -> value, a sealed key as bytes."""
    if entity.name == "rooms_by_member":
        return {"room_id": decoded[0], "endpoint": decoded[1]}
    fields = entity.obj(decoded)
    if entity.name == "room_keys":
        fields["sealed_key"] = decoded.sealed_key
    return fields


def check_accepted(entity: Entity, decoded: Any) -> None:
    """What a decoder accepted keeps every rule, and its encoding decodes to itself."""
    assert rules.problem(entity.name, fields_of(entity, decoded)) is None, decoded
    if entity.name == "rooms_by_member":
        decoded = Member(decoded[0], decoded[1], ROLE_MEMBER, 0)
    assert entity.decode(ENCODERS[entity.name](decoded)) == entity.expect(decoded)


# -- decoders are total ----------------------------------------------------------------

@by_entity
@PROPS
@given(data=st.binary(max_size=200))
def test_decode_arbitrary_bytes(entity, data):
    got = outcome(entity.decode, data)
    if got[0] == "ok":
        check_accepted(entity, got[1])


@by_entity
@PROPS
@given(value=json_values)
def test_decode_arbitrary_json(entity, value):
    got = outcome(entity.decode, json.dumps(value).encode())
    if got[0] == "ok":
        check_accepted(entity, got[1])
    # the same value reached as an object (the bulk path) gets the same verdict
    assert outcome(entity.from_obj, value) == got


@by_entity
@PROPS
@given(data=st.data())
def test_decode_near_valid_objects(entity, data):
    obj = data.draw(near_valid(entity))
    # ensure_ascii: a lone surrogate among the wrong values travels as a JSON escape
    value = json.dumps(obj).encode()
    got = outcome(entity.decode, value)
    assert outcome(entity.from_obj, obj) == got  # fast path and rules: one verdict
    if got[0] == "ok":
        check_accepted(entity, got[1])
        # accepted: the model holds exactly the object's values (only revoked_at may be
        # left out, and reads as null)
        fields = fields_of(entity, got[1])
        if entity.name == "room_keys":
            obj = {**obj, "sealed_key": base64.b64decode(obj["sealed_key"], validate=True)}
        assert all(fields[k] == v and type(fields[k]) is type(v) for k, v in obj.items()), (obj, got)


@by_entity
@PROPS
@given(data=st.data())
def test_decode_one_field_wrong_is_refused_by_rule(entity, data):
    """An object refused by the rules of store.rules is refused by the decoder too, with
    the rule's reason; one the rules accept decodes (the fast path adds no rule)."""
    obj = data.draw(near_valid(entity))
    checked = dict(obj)
    if entity.name == "users":
        checked.setdefault("revoked_at", None)  # a reader may leave it out: null
    if entity.name == "room_keys" and type(obj.get("sealed_key")) is str:
        try:
            checked["sealed_key"] = base64.b64decode(obj["sealed_key"], validate=True)
        except (binascii.Error, ValueError):
            checked["sealed_key"] = None  # not standard base64: refused below
    why = rules.problem(entity.name, checked)
    got = outcome(entity.from_obj, obj)
    assert (got[0] == "ok") == (why is None), (obj, why, got)


# -- the bulk path agrees with one value at a time ---------------------------------------

def _values(entity: Entity) -> st.SearchStrategy:
    valid = entity.models.map(lambda m: ENCODERS[entity.name](m))
    near = near_valid(entity).map(lambda o: json.dumps(o).encode())
    any_json = json_values.map(lambda v: json.dumps(v).encode())
    return st.one_of(valid, valid, near, any_json, st.binary(max_size=40))


@by_entity
@PROPS
@given(data=st.data())
def test_load_many_agrees_with_one_at_a_time(entity, data):
    values = data.draw(st.lists(_values(entity), max_size=8))
    objs = codec.load_many(values)
    singles = [outcome(entity.decode, v) for v in values]
    if objs is None:
        # None only when a value does not parse alone: a bucket of good values is never
        # sent the slow way
        def parses(v: bytes) -> bool:
            try:
                json.loads(v.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                return False
            return True

        assert not all(parses(v) for v in values)
        return
    assert len(objs) == len(values)
    assert [outcome(entity.from_obj, o) for o in objs] == singles


# -- round trip of valid models ----------------------------------------------------------

@by_entity
@PROPS
@given(data=st.data())
def test_round_trip(entity, data):
    model = data.draw(entity.models)
    encoded = ENCODERS[entity.name](model)
    assert entity.decode(encoded) == entity.expect(model)
    # the stored bytes are the compact UTF-8 JSON of the SPEC's object, in its field order
    assert encoded == codec.dumps(entity.obj(model)).encode()
    assert list(json.loads(encoded)) == list(entity.obj(model))
    if entity.fast_json is not None:
        assert entity.fast_json(model) == codec.dumps(entity.obj(model))
    assert entity.from_obj(json.loads(encoded)) == entity.expect(model)


@PROPS
@given(k=sealed_keys)
def test_sealed_key_is_standard_padded_base64(k):
    text = json.loads(codec.encode_key(k))["sealed_key"]
    assert len(text) % 4 == 0 and set(text) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
    assert codec.decode_key(codec.encode_key(k)).sealed_key == k.sealed_key


# -- unknown fields survive a rewrite ----------------------------------------------------

USER_FIELDS = {f for f, _ in rules.FIELDS["users"]}
ROOM_FIELDS = {f for f, _ in rules.FIELDS["rooms"]}


def _extras(schema: set[str]) -> st.SearchStrategy[dict]:
    return st.dictionaries(st.text(max_size=12).filter(lambda k: k not in schema), json_comparable,
                           min_size=1, max_size=5)


@st.composite
def stored_with_extras(draw: st.DrawFn, models: st.SearchStrategy, obj: Callable, schema: set[str]):
    """(model, extras, value): a valid value with fields a newer daemon wrote, anywhere
    among the known ones."""
    model = draw(models)
    extras = draw(_extras(schema))
    items = draw(st.permutations(list(obj(model).items()) + list(extras.items())))
    return model, extras, codec.dumps(dict(items)).encode()


@PROPS
@given(stored=stored_with_extras(users, codec.user_obj, USER_FIELDS),
       status=st.sampled_from([ACTIVE, REVOKED]), revoked_at=st.none() | int64)
def test_rewrite_keeps_unknown_user_fields(stored, status, revoked_at):
    user, extras, value = stored
    assert codec.decode_user(value) == user  # readers ignore unknown fields
    out = codec.rewrite(value, {"status": status, "revoked_at": revoked_at})
    before, after = json.loads(value), json.loads(out)
    assert list(after) == list(before)  # every field kept, in its place
    for name, extra in extras.items():
        assert after[name] == extra
    assert {k: v for k, v in after.items() if k not in ("status", "revoked_at")} == \
        {k: v for k, v in before.items() if k not in ("status", "revoked_at")}
    assert (after["status"], after["revoked_at"]) == (status, revoked_at)
    assert codec.decode_user(out) == dataclasses.replace(user, status=status, revoked_at=revoked_at)
    assert out.decode("utf-8")  # still UTF-8 JSON


@PROPS
@given(stored=stored_with_extras(rooms, codec.room_obj, ROOM_FIELDS), epoch=epochs)
def test_rewrite_keeps_unknown_room_fields(stored, epoch):
    """A rekey rewrites a room's epoch (store/kv.py) the same way."""
    room, extras, value = stored
    assert codec.decode_room(value) == room
    out = codec.rewrite(value, {"epoch": epoch})
    before, after = json.loads(value), json.loads(out)
    assert list(after) == list(before)
    assert {k: v for k, v in after.items() if k != "epoch"} == {k: v for k, v in before.items()
                                                                  if k != "epoch"}
    assert all(after[name] == extra for name, extra in extras.items())
    assert codec.decode_room(out) == dataclasses.replace(room, epoch=epoch)


@PROPS
@given(value=json_values | st.binary(max_size=60))
def test_rewrite_of_a_non_object_is_bad_record(value):
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    try:
        out = codec.rewrite(data, {"status": REVOKED})
    except BadRecord:
        return
    assert type(json.loads(data)) is dict and json.loads(out)["status"] == REVOKED


# -- bugs found by the properties: smallest reproductions --------------------------------

GOOD_USER = b'{"key":"a","name":"","role":"user","status":"active","added_at":1,"revoked_at":null}'


@pytest.mark.parametrize("entity", ENTITIES, ids=str)
def test_an_integer_beyond_the_digit_limit_is_a_bad_record(entity):
    value = b'{"epoch":' + b"1" * 5000 + b"}"
    with pytest.raises(BadRecord):
        entity.decode(value)


def test_load_many_gives_up_on_an_integer_beyond_the_digit_limit():
    assert codec.load_many([GOOD_USER, b"1" * 5000]) is None


def test_rewrite_keeps_an_escaped_lone_surrogate():
    value = GOOD_USER[:-1] + b',"x":"\\ud800"}'
    assert codec.decode_user(value).key == "a"  # the value itself is accepted
    try:
        out = codec.rewrite(value, {"status": REVOKED, "revoked_at": 5})
    except BadRecord:
        return  # refusing it is acceptable; another exception type is not
    assert json.loads(out)["x"] == "\ud800"


def test_load_many_refuses_fragments_that_shift_into_their_neighbours():
    def user(k: str) -> bytes:
        return codec.user_json(User(k, "", USER_USER, ACTIVE, 1, None)).encode()

    values = [user("a"), user("b") + b"," + user("c")[:-1], b'"more":2}']
    singles = [outcome(codec.decode_user, v) for v in values]
    assert singles[1:] == [("refused",), ("refused",)]
    objs = codec.load_many(values)
    assert objs is None or [outcome(codec.user_from_obj, o) for o in objs] == singles
