"""The rules every stored record keeps (SPEC sections 1, 3, 4 and 5.5), written once.

Each entity's fields have a Kind. A kind checks a decoded value in Python (KV values,
which arrive as JSON) and renders the same check as SQL (a SQLite file, read in bulk
by SQLite itself), so both backends call the same records invalid for the same reason:
a role outside its set, an identifier that is not valid (or not lower case), a negative
epoch, text that is not UTF-8, a missing value, a timestamp that is not an integer.
tests/store/test_rules.py holds the two renderings to the same verdicts.

A name longer than MAX_NAME characters is invalid (SPEC 7), as `users add` refuses one.
A name with control characters is *not* invalid here: the daemon may store one, and it
is shown escaped (store.text.printable) rather than hidden.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .models import Role, Status, UserRole

I64_MIN, I64_MAX = -(2 ** 63), 2 ** 63 - 1
#: the longest name (SPEC 1), in characters
MAX_NAME = 200
ROOM_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")
LOWER_KEY_RE = re.compile(r"[a-z0-9_-]{1,128}")

#: the SQL function (registered on every connection of the SQLite backend) that tells
#: whether a value's bytes are UTF-8: SQLite itself does not check
UTF8_SQL_FUNCTION = "membership_is_utf8"
CHARS_SQL_FUNCTION = "membership_characters"


def is_utf8(value: bytes | str | None) -> int:
    """1 when the bytes decode as UTF-8 (and for NULL); the SQL function of that name."""
    if value is None or isinstance(value, str):
        return 1
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return 0
    return 1


def characters(value: Any) -> int:
    """How many characters the bytes hold as text (a byte that is not UTF-8 counts as one,
    as the rules see such text); the SQL function of that name."""
    if type(value) is not bytes:
        return len(str(value))
    return len(value.decode("utf-8", "surrogateescape"))


def _matches(pattern: re.Pattern[str]) -> Callable[[Any], int]:
    """A SQL function: 1 when a column's bytes (CAST AS BLOB: text that is not UTF-8 must not
    fail the query) fully match the pattern. The same patterns as the Python checks below;
    measured on 1M sealed keys, a Python regex is twice as fast as SQLite's GLOB '*[^...]*'."""
    fullmatch = re.compile(pattern.pattern.encode()).fullmatch

    def check(value: Any) -> int:
        return 1 if type(value) is bytes and fullmatch(value) else 0

    return check


#: name -> function, for sqlite3's create_function on every connection that reads records
SQL_FUNCTIONS: dict[str, Callable[[Any], int]] = {
    UTF8_SQL_FUNCTION: is_utf8,
    CHARS_SQL_FUNCTION: characters,
    "membership_is_room_id": _matches(ROOM_ID_RE),
    "membership_is_key": _matches(LOWER_KEY_RE),
}


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True, slots=True)
class Kind:
    """What a field may hold.

    check: why a decoded value breaks the rule (None when it keeps it).
    sql_types: the SQLite storage classes (typeof) the column may have.
    bad_value_sql: for a column of the right type ({c}), a SQL condition true when the
    value still breaks the rule ("" when any value of those types is fine); why_sql: the
    expectation it states.
    """

    name: str
    check: Callable[[Any], str | None]
    sql_types: tuple[str, ...]
    bad_value_sql: str = ""
    why_sql: str = ""
    #: the value test calls back into Python (a registered SQL function): slow per row, so
    #: a bulk read may instead check the distinct fetched values with `check` (checked_after)
    calls_python: bool = False
    #: True when every one of many values keeps the rule, tested in bulk at C speed (False
    #: says only that one of them may not: `check` them one by one to know)
    all_ok: Callable[[list[Any]], bool] | None = None
    #: a further test in plain SQL (always run, bulk reads too), after bad_value_sql, and
    #: the expectation it states
    limit_sql: str = ""
    limit_why: str = ""

    def bad_sql(self, c: str, in_sql: bool = True) -> str:
        """True when column c breaks the rule; in_sql False leaves a test that calls Python
        out (the caller checks those values after reading them)."""
        types = ", ".join(f"'{t}'" for t in self.sql_types)
        bad = f"typeof({c}) NOT IN ({types})"
        if self.bad_value_sql and not (self.calls_python and not in_sql):
            bad += f" OR ({self.bad_value_sql.format(c=c)})"
        if self.limit_sql:
            bad += f" OR ({self.limit_sql.format(c=c)})"
        return bad

    def problem_sql(self, c: str) -> str:
        """WHEN clauses of a CASE naming the first broken rule of column c."""
        types = ", ".join(f"'{t}'" for t in self.sql_types)
        words = " or ".join(self.sql_types)
        out = f"WHEN typeof({c}) NOT IN ({types}) THEN '{c} is ' || typeof({c}) || ', expected {words}'"
        if self.bad_value_sql:
            out += (f" WHEN {self.bad_value_sql.format(c=c)} THEN "
                    f"'{c} ' || substr(quote({c}), 1, 40) || ': {self.why_sql}'")
        if self.limit_sql:
            out += (f" WHEN {self.limit_sql.format(c=c)} THEN "
                    f"'{c} ' || substr(quote({c}), 1, 40) || ': {self.limit_why}'")
        return out


def _is_int(v: Any) -> bool:
    return type(v) is int and I64_MIN <= v <= I64_MAX


def _room_id(v: Any) -> str | None:
    if type(v) is not str:
        return "expected text"
    return None if ROOM_ID_RE.fullmatch(v) else "not a valid room id (1-64 of A-Z a-z 0-9 _ -)"


def _key(v: Any) -> str | None:
    if type(v) is not str:
        return "expected text"
    if LOWER_KEY_RE.fullmatch(v):
        return None
    if KEY_RE.fullmatch(v):
        return "not lower case"
    return "not a valid key (1-128 of a-z 0-9 _ -)"


def _text(v: Any) -> str | None:
    if type(v) is not str:
        return "expected text"
    if not v.isascii():
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            return "text is not UTF-8"
    return None


def _name(v: Any) -> str | None:
    why = _text(v)
    if why is None and len(v) > MAX_NAME:
        return _TOO_LONG
    return why


_TOO_LONG = f"longer than {MAX_NAME} characters"


def _bool(v: Any) -> str | None:
    return None if type(v) is bool else "expected a boolean"


def _epoch(v: Any) -> str | None:
    if not _is_int(v):
        return "expected an integer"
    return None if v >= 0 else "negative epoch"


def _time(v: Any) -> str | None:
    return None if _is_int(v) else "expected integer Unix seconds"


def _opt_time(v: Any) -> str | None:
    return None if v is None else _time(v)


def _blob(v: Any) -> str | None:
    return None if type(v) is bytes else "expected bytes"


def _one_of(*allowed: str) -> Callable[[Any], str | None]:
    text = " or ".join(allowed)

    def check(v: Any) -> str | None:
        return None if type(v) is str and v in allowed else f"expected {text}"

    return check


def _all_of_class(not_allowed: re.Pattern[str], longest: int) -> Callable[[list[Any]], bool]:
    """A bulk test of identifiers: all text of 1..longest characters, none outside the class
    (one search over the values joined by newlines, which the class does not hold either)."""
    def ok(values: list[Any]) -> bool:
        if not values:
            return True
        if set(map(type, values)) != {str} or min(map(len, values)) < 1 or max(map(len, values)) > longest:
            return False
        joined = "\n".join(values)
        return joined.count("\n") == len(values) - 1 and not_allowed.search(joined) is None
    return ok


def _in_sql(*allowed: str) -> str:
    return "{c} NOT IN (" + ", ".join(f"'{a}'" for a in allowed) + ")"


ROOM_ID = Kind("room id", _room_id, ("text",), "NOT membership_is_room_id(CAST({c} AS BLOB))",
               "not a valid room id (1-64 of A-Z a-z 0-9 _ -)", calls_python=True,
               all_ok=_all_of_class(re.compile(r"[^A-Za-z0-9_\n-]"), 64))
KEY = Kind("key", _key, ("text",), "NOT membership_is_key(CAST({c} AS BLOB))",
           "not a valid lower-case key (1-128 of a-z 0-9 _ -)", calls_python=True,
           all_ok=_all_of_class(re.compile(r"[^a-z0-9_\n-]"), 128))
# Python's sqlite3 refuses to read text that is not UTF-8 at all: a read that succeeds
# has checked it
TEXT = Kind("text", _text, ("text",), f"NOT {UTF8_SQL_FUNCTION}(CAST({{c}} AS BLOB))", "text is not UTF-8",
            calls_python=True)
# SQL's length() counts characters only up to the first NUL (a name may hold one), and no
# SQL function replaces a NUL: the characters are counted in Python, only for the text of
# more than MAX_NAME bytes (none that fits in that many bytes can be longer)
NAME = Kind("name", _name, ("text",), TEXT.bad_value_sql, TEXT.why_sql, calls_python=True,
            limit_sql=f"length(CAST({{c}} AS BLOB)) > {MAX_NAME} "
                      f"AND {CHARS_SQL_FUNCTION}(CAST({{c}} AS BLOB)) > {MAX_NAME}",
            limit_why=_TOO_LONG)
BOOL = Kind("boolean", _bool, ("integer",), "{c} NOT IN (0, 1)", "expected 0 or 1")
EPOCH = Kind("epoch", _epoch, ("integer",), "{c} < 0", "negative epoch")
TIME = Kind("time", _time, ("integer",))
OPT_TIME = Kind("optional time", _opt_time, ("integer", "null"))
BLOB = Kind("bytes", _blob, ("blob",))
MEMBER_ROLE = Kind("member role", _one_of(*Role), ("text",), _in_sql(*Role), "expected owner or member")
USER_ROLE = Kind("user role", _one_of(*UserRole), ("text",), _in_sql(*UserRole), "expected admin or user")
STATUS = Kind("status", _one_of(*Status), ("text",), _in_sql(*Status), "expected active or revoked")

#: entity (the SQLite table) -> its fields in SPEC order, each with its kind
FIELDS: dict[str, tuple[tuple[str, Kind], ...]] = {
    "rooms": (("id", ROOM_ID), ("name", NAME), ("encrypted", BOOL), ("owner", KEY),
              ("epoch", EPOCH), ("created_at", TIME)),
    "members": (("room_id", ROOM_ID), ("endpoint", KEY), ("role", MEMBER_ROLE), ("joined_at", TIME)),
    "room_keys": (("room_id", ROOM_ID), ("epoch", EPOCH), ("endpoint", KEY), ("sealed_key", BLOB),
                  ("created_at", TIME)),
    "users": (("key", KEY), ("name", NAME), ("role", USER_ROLE), ("status", STATUS),
              ("added_at", TIME), ("revoked_at", OPT_TIME)),
    # KV only: the reverse index of members
    "rooms_by_member": (("room_id", ROOM_ID), ("endpoint", KEY)),
}


def problem(entity: str, values: dict[str, Any]) -> str | None:
    """Why a decoded record (field -> value, as JSON gives them; bytes for a sealed key)
    breaks the rules, or None. A missing field is a problem; unknown fields are not."""
    for field, kind in FIELDS[entity]:
        if field not in values:
            return f"missing field {field!r}"
        why = kind.check(values[field])
        if why is not None:
            return f"{field} {_show(values[field])}: {why}"
    return None


def sql_is_bad(entity: str, in_sql: bool = True) -> str:
    """A SQL condition true for the rows of that table that break a rule. in_sql False:
    without the tests that call Python; see checked_after for the rest."""
    return " OR ".join(f"({kind.bad_sql(field, in_sql)})" for field, kind in FIELDS[entity])


def checked_after(entity: str) -> tuple[tuple[int, Kind], ...]:
    """(column index, kind) of the identifier columns whose values sql_is_bad(in_sql=False)
    does not check: a bulk read checks their distinct values with kind.check. (Text columns
    need nothing more: Python's sqlite3 does not read text that is not UTF-8.)"""
    return tuple((i, kind) for i, (_, kind) in enumerate(FIELDS[entity])
                 if kind.calls_python and kind not in (TEXT, NAME))


def sql_problem(entity: str) -> str:
    """A SQL expression giving the first broken rule of a row as text (NULL when none)."""
    return "CASE " + " ".join(kind.problem_sql(field) for field, kind in FIELDS[entity]) + " END"
