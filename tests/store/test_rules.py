"""store.rules: the Python and the SQL rendering of each record rule give the same verdicts,
and the SQLite reader turns every row that breaks one into an InvalidRecord.

The daemon's file may hold rows written with CHECK constraints off (or by an older
schema): an unknown role, a negative epoch, text in a timestamp, text that is not UTF-8.
The SQLite backend judges rows in SQL (store.rules.sql_is_bad, run by SQLite itself) and
the KV backend judges decoded JSON in Python (store.rules.problem); SPEC 5.5 needs both to
call the same records invalid, or a migration would carry over what the other side
refuses. So, for generated rows (each column a valid value or any SQLite value), stored
in a real file made by store.sqlite.create_database:

(a) the SQL verdict on the stored row equals the Python verdict on the same values as
    the JSON of a KV value would carry them, and the SQL reason names the same column;
(b) open_store(...).export_snapshot() exports exactly the valid rows and reports every
    other one as an InvalidRecord of its table, and never raises.

How a stored SQLite value is seen by the Python rules (the JSON-level value):
  NULL                -> None (JSON null)
  INTEGER             -> int; in `encrypted` (a JSON boolean) 0 -> False and 1 -> True,
                         any other integer stays an int, which no boolean rule accepts
  REAL                -> float
  TEXT                -> str, decoded with surrogateescape: bytes that are not UTF-8 become
                         lone surrogates, exactly what a JSON "\\udcff" escape gives, and
                         the rules call such text "not UTF-8"
  BLOB                -> bytes: the sealed key's type; in any other column a value JSON
                         cannot carry, so no other rule accepts it
The values are read back from the file (typeof and value) rather than taken from what
was inserted: column affinity converts on insert ('12' into an INTEGER column is stored
as 12, 1.0 as 1, NaN as NULL), and the rules judge what is stored.

Rows hold NULLs: the test database has its NOT NULL constraints taken out of the schema
text (writable_schema), as a daemon with an older or damaged schema could have; CHECKs
are switched off by PRAGMA ignore_check_constraints on the writing connection.

"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import tempfile
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import SqliteSpec, open_store, rules
from store.models import Member, Room, SealedKey, Snapshot, User
from store.sqlite_file import create_database
from store.text import printable

TABLES = ("rooms", "members", "room_keys", "users")
KINDS = {t: dict(rules.FIELDS[t]) for t in TABLES}
COLUMNS = {t: [f for f, _ in rules.FIELDS[t]] for t in TABLES}
#: a row's identity, written as its KV key (as store/sqlite.py names an invalid row)
IDENTITY = {"rooms": ("id",), "members": ("room_id", "endpoint"),
            "room_keys": ("room_id", "epoch", "endpoint"), "users": ("key",)}

PROPS = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow])


class AsText(bytes):
    """Bytes to store as TEXT (inserted as CAST(? AS TEXT)): text that may not be UTF-8."""


# -- the test database -------------------------------------------------------------

def relax_not_null(path: str) -> None:
    """Take NOT NULL out of every table's schema text, so rows can hold NULL anywhere.

    The stored record format does not change, only the declared constraint; the file
    stays a schema-v1 database the store opens (it checks tables and columns)."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        (version,), = con.execute("PRAGMA schema_version")
        con.execute("PRAGMA writable_schema = ON")
        con.execute("UPDATE sqlite_master SET sql = replace(sql, ' NOT NULL', '') WHERE type = 'table'")
        con.execute(f"PRAGMA schema_version = {version + 1}")  # other connections re-read it
        con.execute("PRAGMA writable_schema = OFF")
    finally:
        con.close()
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        for table in TABLES:
            assert [r[3] for r in con.execute(f"PRAGMA table_info({table})")] == [0] * len(COLUMNS[table])
    finally:
        con.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("rules") / "template.sqlite")
    create_database(path)
    relax_not_null(path)
    return path


class Database:
    """A fresh copy of the template in a folder of its own (one per generated example)."""

    def __init__(self, template: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="rules-")
        self.path = os.path.join(self.dir, "m.sqlite")
        shutil.copyfile(template, self.path)

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert rows as they are: CHECKs off, foreign keys off (the default), a row whose
        primary key is taken already is left out (the read-back sees what was stored)."""
        con = sqlite3.connect(self.path, isolation_level=None)
        try:
            con.execute("PRAGMA ignore_check_constraints = ON")
            con.execute("PRAGMA synchronous = OFF")  # a scratch copy: no fsync per example
            con.execute("BEGIN")
            for row in rows:
                cols = list(row)
                marks = ", ".join("CAST(? AS TEXT)" if isinstance(row[c], AsText) else "?" for c in cols)
                params = [bytes(v) if isinstance(v, AsText) else v for v in row.values()]
                con.execute(f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) VALUES ({marks})", params)
            con.execute("COMMIT")
        finally:
            con.close()

    def stored(self, table: str) -> list[tuple[int, dict[str, Any], tuple]]:
        """(rowid, JSON-level values, raw (typeof, value) pairs) of every stored row."""
        con = sqlite3.connect(self.path)
        con.text_factory = bytes
        try:
            select = ", ".join(f"typeof({c}), {c}" for c in COLUMNS[table])
            out = []
            for rowid, *flat in con.execute(f"SELECT rowid, {select} FROM {table}"):
                raw = tuple(zip([t.decode() for t in flat[0::2]], flat[1::2], strict=False))
                values = {c: json_level(KINDS[table][c], t, v) for c, (t, v) in zip(COLUMNS[table], raw, strict=False)}
                out.append((rowid, values, raw))
            return out
        finally:
            con.close()

    def sql_verdicts(self, table: str) -> dict[int, tuple[Any, Any]]:
        """rowid -> (sql_is_bad, sql_problem) as SQLite computes them."""
        con = sqlite3.connect(self.path)
        con.text_factory = bytes
        register_rule_functions(con)
        try:
            return {rowid: (bad, why) for rowid, bad, why in con.execute(
                f"SELECT rowid, ({rules.sql_is_bad(table)}), {rules.sql_problem(table)} FROM {table}")}
        finally:
            con.close()

    def export(self) -> Snapshot:
        async def run() -> Snapshot:
            store = await open_store(SqliteSpec(self.path, read_only=True))
            try:
                return await store.export_snapshot()
            finally:
                await store.close()

        return asyncio.run(run())


def register_rule_functions(con: sqlite3.Connection) -> None:
    """The SQL functions the rules' SQL calls, registered as the store registers them on
    its connection (membership_is_utf8 = rules.is_utf8, and any others store.rules names)."""
    functions = getattr(rules, "SQL_FUNCTIONS", {rules.UTF8_SQL_FUNCTION: rules.is_utf8})
    assert functions[rules.UTF8_SQL_FUNCTION] is rules.is_utf8
    for name, fn in functions.items():
        con.create_function(name, 1, fn, deterministic=True)


def json_level(kind: rules.Kind, storage: str, value: Any) -> Any:
    """A stored value as the Python rules see it (see the module docstring)."""
    if storage == "null":
        return None
    if storage == "integer":
        if kind is rules.BOOL and value in (0, 1):
            return bool(value)
        return value
    if storage == "real":
        return value
    if storage == "text":
        return value.decode("utf-8", "surrogateescape")
    assert storage == "blob"
    return bytes(value)


def model(table: str, v: dict[str, Any]) -> Any:
    """The model the store exports for a valid row."""
    if table == "rooms":
        return Room(v["id"], v["name"], bool(v["encrypted"]), v["owner"], v["epoch"], v["created_at"])
    if table == "members":
        return Member(v["room_id"], v["endpoint"], v["role"], v["joined_at"])
    if table == "room_keys":
        return SealedKey(v["room_id"], v["epoch"], v["endpoint"], v["sealed_key"], v["created_at"])
    return User(v["key"], v["name"], v["role"], v["status"], v["added_at"], v["revoked_at"])


def snapshot_part(snap: Snapshot, table: str) -> tuple:
    return {"rooms": snap.rooms, "members": snap.members, "room_keys": snap.sealed_keys,
            "users": snap.users}[table]


def identity(table: str, raw: tuple, columns: list[str]) -> str | None:
    """The InvalidRecord key SQLite's `a || '.' || b` gives for a row, or None where this
    test does not predict it (a REAL part: SQLite formats floats its own way)."""
    parts = []
    for c in IDENTITY[table]:
        storage, value = raw[columns.index(c)]
        if storage == "null":
            return "(null)"
        if storage == "real":
            return None
        parts.append(str(value).encode() if storage == "integer" else bytes(value))
    return b".".join(parts).decode("utf-8", "backslashreplace")


# -- strategies ----------------------------------------------------------------------

def valid_values(kind: rules.Kind) -> st.SearchStrategy:
    return {
        rules.ROOM_ID: st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
        rules.KEY: st.from_regex(r"[a-z0-9_-]{1,128}", fullmatch=True),
        rules.TEXT: st.text(max_size=30),  # control characters and NUL included: allowed
        rules.NAME: st.text(max_size=30) | st.text(min_size=195, max_size=200),  # up to MAX_NAME characters
        rules.BOOL: st.sampled_from([0, 1]),
        rules.EPOCH: st.integers(0, rules.I64_MAX),
        rules.TIME: st.integers(rules.I64_MIN, rules.I64_MAX),
        rules.OPT_TIME: st.none() | st.integers(rules.I64_MIN, rules.I64_MAX),
        rules.BLOB: st.binary(max_size=40),
        rules.MEMBER_ROLE: st.sampled_from(["owner", "member"]),
        rules.USER_ROLE: st.sampled_from(["admin", "user"]),
        rules.STATUS: st.sampled_from(["active", "revoked"]),
    }[kind]


#: text near the rules' edges: other roles, case, separators, lengths 64/65 and 128/129
NEAR_TEXT = st.one_of(
    st.sampled_from(["owner", "member", "admin", "user", "active", "revoked", "Owner", "ADMIN",
                     "root", "paused", "owner ", " user", "user\x00", "a.b", "a*", "a>b", "Bob", "a b",
                     "é", "", "0", "1", "-1", "true", "NULL", "a\nb", "\x1b[2J"]),
    st.text(st.sampled_from("aZ09_-"), min_size=63, max_size=66),
    st.text(st.sampled_from("az09_-"), min_size=127, max_size=130),
)
#: names near MAX_NAME characters: one-byte and two-byte characters, a NUL inside (SQL's
#: length() stops at a NUL), 198 to 202 characters long
NEAR_LONG_NAME = st.text(st.sampled_from("ab\x00é"), min_size=rules.MAX_NAME - 2, max_size=rules.MAX_NAME + 2)
#: text near an identifier: valid characters mixed with a few that are not, a NUL among
#: them (SQL's length() and GLOB stop at a NUL, a regex does not: see
#: test_nul_inside_an_identifier_is_invalid)
NEAR_IDENTIFIER = st.text(st.sampled_from("az09_-" "Z.*> \x00é\x7f"), min_size=0, max_size=6)
#: bytes that are not UTF-8, or only just are: stray continuation and lead bytes, an
#: encoded surrogate (ED A0 80), an overlong NUL (C0 80), U+FFFF; and a NUL
NEAR_BYTES = st.lists(st.sampled_from([b"a", b"Z", b"-", b"\x00", b"\x80", b"\xc3", b"\xc3\xa9",
                                       b"\xed\xa0\x80", b"\xc0\x80", b"\xef\xbf\xbf", b"\xff",
                                       b"\xf4\x90\x80\x80"]),
                      max_size=6).map(b"".join)


def pick(*strategies: st.SearchStrategy) -> st.SearchStrategy:
    """One of the strategies, each as likely (st.one_of and | flatten nested choices, so
    a strategy that is itself a choice of ten would be drawn ten times as often)."""
    return st.sampled_from(strategies).flatmap(lambda s: s)


def any_value(kind: rules.Kind) -> st.SearchStrategy:
    """Any value SQLite can store; half the time one near this kind's rule."""
    anything = st.one_of(
        st.none(),
        st.integers(rules.I64_MIN, rules.I64_MAX),
        st.floats(),  # NaN is stored as NULL, an integral float as an INTEGER
        st.text(max_size=20),  # control characters, non-ASCII, empty
        st.binary(max_size=20),
        st.binary(max_size=20).map(AsText),
    )
    if kind in (rules.ROOM_ID, rules.KEY):
        near = pick(NEAR_IDENTIFIER, NEAR_BYTES.map(AsText), NEAR_TEXT)
    elif kind is rules.NAME:
        near = pick(NEAR_BYTES.map(AsText), NEAR_TEXT, NEAR_LONG_NAME)
    elif kind in (rules.TEXT, rules.BLOB):
        near = pick(NEAR_BYTES.map(AsText), NEAR_BYTES, NEAR_TEXT)
    elif kind in (rules.MEMBER_ROLE, rules.USER_ROLE, rules.STATUS):
        near = pick(NEAR_TEXT, NEAR_BYTES.map(AsText))
    else:  # integers: the bounds, and what affinity turns into one (or not)
        near = st.sampled_from([rules.I64_MIN, -1, 0, 1, 2, rules.I64_MAX, 1.0, 1.5, -0.0, "1", "01",
                                " 1", "1e3", "0x1", "", b"\x01", float("inf"), float("nan")])
    return pick(anything, near)


@st.composite
def row(draw: st.DrawFn, table: str) -> dict[str, Any]:
    """A row whose columns are valid but for a few (0 to 3) that get any value."""
    broken = draw(st.sets(st.sampled_from(COLUMNS[table]), max_size=3))
    return {c: draw(any_value(KINDS[table][c]) if c in broken else valid_values(KINDS[table][c]))
            for c in COLUMNS[table]}


def rows(table: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(row(table), max_size=8)


# -- (a) and (b): generated rows -------------------------------------------------------

def first_word(reason: str) -> str:
    return reason.split(" ", 1)[0]


@pytest.mark.parametrize("table", TABLES)
@PROPS
@given(data=st.data())
def test_sql_and_python_rules_agree_and_export_reports_every_bad_row(template, table, data):
    generated = data.draw(rows(table))
    with Database(template) as db:
        db.insert(table, generated)
        stored = db.stored(table)
        verdicts = db.sql_verdicts(table)
        assert sorted(verdicts) == sorted(rowid for rowid, _, _ in stored)

        valid, bad_reasons, bad_ids = [], Counter(), Counter()
        for rowid, values, raw in stored:
            why = rules.problem(table, values)
            bad, sql_why = verdicts[rowid]
            # (a) one verdict; never NULL (a NULL verdict would drop the row from both the
            # valid rows and the invalid ones: silently)
            assert bad in (0, 1), (raw, bad)
            assert bool(bad) == (why is not None), (table, raw, values, why)
            assert (sql_why is None) == (not bad), (raw, sql_why)
            if why is None:
                valid.append(model(table, values))
                continue
            # both name the same (first broken) column, in SPEC order
            assert first_word(sql_why.decode("utf-8", "backslashreplace")) == first_word(why), (raw, why)
            bad_reasons[first_word(why)] += 1
            ident = identity(table, raw, COLUMNS[table])
            if ident is not None:
                bad_ids[ident] += 1

        # (b) the store's export: exactly the valid rows; every bad one reported
        snap = db.export()
    assert Counter(snapshot_part(snap, table)) == Counter(valid)
    assert sum(len(snapshot_part(snap, t)) for t in TABLES) == len(valid)
    assert {i.bucket for i in snap.invalid} <= {table}
    assert Counter(first_word(i.reason) for i in snap.invalid) == bad_reasons
    assert not bad_ids - Counter(i.key for i in snap.invalid), (bad_ids, snap.invalid)
    for record in snap.invalid:
        assert record.reason.split(" ", 1)[0] in COLUMNS[table] and len(record.reason) < 200


@pytest.mark.parametrize("table", TABLES)
@PROPS
@given(data=st.data())
def test_python_rule_agrees_with_sql_on_values_alone(table, data):
    """The same agreement without a file: SQLite evaluates the rule on bound values (fast,
    so many more combinations), with the values' storage as bound (no column affinity)."""
    row_ = data.draw(row(table))
    con = sqlite3.connect(":memory:")
    con.text_factory = bytes
    register_rule_functions(con)
    try:
        cols = COLUMNS[table]
        marks = ", ".join(f"CAST(? AS TEXT) AS {c}" if isinstance(row_[c], AsText) else f"? AS {c}"
                          for c in cols)
        params = [bytes(row_[c]) if isinstance(row_[c], AsText) else row_[c] for c in cols]
        select = ", ".join(f"typeof({c}), {c}" for c in cols)
        got = con.execute(f"SELECT ({rules.sql_is_bad(table)}), {select} FROM (SELECT {marks})",
                          params).fetchone()
    finally:
        con.close()
    bad, flat = got[0], got[1:]
    values = {c: json_level(KINDS[table][c], t.decode(), v)
              for c, t, v in zip(cols, flat[0::2], flat[1::2], strict=True)}
    assert bad in (0, 1)
    assert bool(bad) == (rules.problem(table, values) is not None), (row_, values)


# -- each CHECK of SPEC section 3 broken on purpose ------------------------------------

#: valid rows of every table: what must still export around the one bad row
BASE = {
    "rooms": [{"id": "r1", "name": "One", "encrypted": 1, "owner": "alice", "epoch": 1, "created_at": 10},
              {"id": "r2", "name": "Two", "encrypted": 0, "owner": "carol", "epoch": 0, "created_at": 11}],
    "members": [{"room_id": "r1", "endpoint": "alice", "role": "owner", "joined_at": 10},
                {"room_id": "r1", "endpoint": "bob", "role": "member", "joined_at": 12},
                {"room_id": "r2", "endpoint": "carol", "role": "owner", "joined_at": 11}],
    "room_keys": [{"room_id": "r1", "epoch": 1, "endpoint": "alice", "sealed_key": b"ka", "created_at": 10},
                  {"room_id": "r1", "epoch": 1, "endpoint": "bob", "sealed_key": b"kb", "created_at": 12}],
    "users": [{"key": "alice", "name": "Alice", "role": "admin", "status": "active", "added_at": 1,
               "revoked_at": None},
              {"key": "bob", "name": "Bob", "role": "user", "status": "revoked", "added_at": 2,
               "revoked_at": 3},
              {"key": "carol", "name": "", "role": "user", "status": "active", "added_at": 4,
               "revoked_at": None}],
}
#: a valid row of a new identity in each table, to break one column of
FRESH = {
    "rooms": {"id": "r3", "name": "Three", "encrypted": 0, "owner": "dave", "epoch": 0, "created_at": 20},
    "members": {"room_id": "r2", "endpoint": "dave", "role": "member", "joined_at": 20},
    "room_keys": {"room_id": "r1", "epoch": 1, "endpoint": "dave", "sealed_key": b"kd", "created_at": 20},
    "users": {"key": "dave", "name": "Dave", "role": "user", "status": "active", "added_at": 20,
              "revoked_at": None},
}

CASES = [  # (table, column, stored value, the reason the store gives)
    ("users", "role", "root", "role 'root': expected admin or user"),
    ("users", "status", "paused", "status 'paused': expected active or revoked"),
    ("rooms", "encrypted", 2, "encrypted 2: expected 0 or 1"),
    ("rooms", "epoch", -1, "epoch -1: negative epoch"),
    ("room_keys", "epoch", -1, "epoch -1: negative epoch"),
    ("members", "role", "admin", "role 'admin': expected owner or member"),
    ("rooms", "name", None, "name is null, expected text"),
    ("users", "name", None, "name is null, expected text"),
    ("users", "added_at", "yesterday", "added_at is text, expected integer"),
    ("members", "joined_at", "2026-01-01", "joined_at is text, expected integer"),
    ("rooms", "created_at", 1.5, "created_at is real, expected integer"),
    ("users", "revoked_at", "never", "revoked_at is text, expected integer or null"),
    ("rooms", "id", "a.b", "id 'a.b': not a valid room id (1-64 of A-Z a-z 0-9 _ -)"),
    ("users", "key", "a*", "key 'a*': not a valid lower-case key (1-128 of a-z 0-9 _ -)"),
    ("members", "endpoint", "a>b", "endpoint 'a>b': not a valid lower-case key"),
    ("users", "key", "Bob", "key 'Bob': not a valid lower-case key"),
    ("rooms", "owner", "Dave", "owner 'Dave': not a valid lower-case key"),
    ("room_keys", "endpoint", "x" * 129, "endpoint 'xxxxxxxxx"),
    ("users", "name", AsText(b"caf\xe9"), "name 'caf\\xe9': text is not UTF-8"),
    ("rooms", "name", AsText(b"\xed\xa0\x80"), "text is not UTF-8"),
    ("users", "name", "x" * 201, "name 'xxxxxxxxx"),
    ("users", "name", "x" * 5000, "longer than 200 characters"),
    ("rooms", "name", "é" * 201, "name 'ééé"),
    ("users", "name", "a\x00" + "b" * 200, "longer than 200 characters"),
    ("room_keys", "sealed_key", "a2V5", "sealed_key is text, expected blob"),
    ("room_keys", "sealed_key", None, "sealed_key is null, expected blob"),
]


def expected_models() -> dict[str, Counter]:
    return {t: Counter(model(t, r) for r in BASE[t]) for t in TABLES}


@pytest.mark.parametrize("table, column, value, reason", CASES,
                         ids=[f"{t}.{c}={v!r}"[:40] for t, c, v, _ in CASES])
def test_broken_check_is_one_invalid_record(template, table, column, value, reason):
    bad_row = {**FRESH[table], column: value}
    with Database(template) as db:
        for t in TABLES:
            db.insert(t, BASE[t])
        db.insert(table, [bad_row])
        (_, values, _), = [s for s in db.stored(table) if s[0] > len(BASE[table])]
        python_why = rules.problem(table, values)
        snap = db.export()
    assert python_why is not None and python_why.startswith(column + " ")  # the KV side agrees
    assert len(snap.invalid) == 1, snap.invalid
    record = snap.invalid[0]
    assert record.bucket == table
    assert reason in record.reason and record.reason.startswith(column + " "), record.reason
    assert printable(record.reason) == record.reason  # one readable line
    key = ".".join(str(bad_row[c]) for c in IDENTITY[table])
    assert record.key == key
    # every other row is still exported, as it is
    expected = expected_models()
    for t in TABLES:
        assert Counter(snapshot_part(snap, t)) == expected[t], t


def test_a_name_of_200_characters_is_valid_however_many_bytes(template):
    """The limit counts characters, not bytes (200 two-byte characters are 400 bytes), and
    a NUL inside counts as one (SQL's length() would stop at it)."""
    names = ["é" * 200, "a\x00" + "b" * 198, "x" * 200]
    with Database(template) as db:
        db.insert("users", [{**FRESH["users"], "key": f"u{i}", "name": n} for i, n in enumerate(names)])
        snap = db.export()
        assert all(v == (0, None) for v in db.sql_verdicts("users").values())
    assert snap.invalid == () and sorted(u.name for u in snap.users) == sorted(names)
    assert all(rules.problem("users", {**FRESH["users"], "name": n}) is None for n in names)


def test_valid_rows_alone_export_without_invalid_records(template):
    """The baseline of the cases above: the BASE rows keep every rule."""
    with Database(template) as db:
        for t in TABLES:
            db.insert(t, BASE[t])
        snap = db.export()
        for t in TABLES:
            assert all(v == (0, None) for v in db.sql_verdicts(t).values())
    assert snap.invalid == ()
    assert {t: Counter(snapshot_part(snap, t)) for t in TABLES} == expected_models()


def test_rules_cover_every_column_of_the_schema(template):
    """A column the rules forget would never be checked by either backend."""
    con = sqlite3.connect(template)
    try:
        for t in TABLES:
            assert [r[1] for r in con.execute(f"PRAGMA table_info({t})")] == COLUMNS[t]
    finally:
        con.close()


# -- regression: found while writing this file -------------------------------------------

def test_nul_inside_an_identifier_is_invalid(template):
    """A key or room id with a NUL character inside is refused by the Python rule; the SQL
    rule once used length() and GLOB, which stop at the first NUL, so SQLite called
    'ab' NUL '*' a valid key and the store exported it as a record."""
    with Database(template) as db:
        db.insert("users", [{**FRESH["users"], "key": "ab\x00*"}])
        db.insert("rooms", [{**FRESH["rooms"], "id": "r\x00.x"}])
        verdicts = [bad for t in ("users", "rooms") for bad, _ in db.sql_verdicts(t).values()]
        snap = db.export()
    assert rules.problem("users", {**FRESH["users"], "key": "ab\x00*"}) is not None
    assert rules.problem("rooms", {**FRESH["rooms"], "id": "r\x00.x"}) is not None
    assert verdicts == [1, 1]
    assert snap.users == () and snap.rooms == ()
    assert sorted(i.bucket for i in snap.invalid) == ["rooms", "users"]


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(
    st.from_regex(r"[a-z0-9_-]{1,130}", fullmatch=True), st.from_regex(r"[A-Za-z0-9_-]{1,70}", fullmatch=True),
    st.text(max_size=20), st.integers(), st.none(), st.just(""), st.just("a\nb"), st.just("x\ud800")),
    max_size=8))
def test_bulk_identifier_tests_agree_with_the_checks_one_by_one(values):
    # the bulk test of a page of identifiers (SQLite reads) says yes exactly when every value
    # keeps the rule, for each kind that has one
    for kind in (rules.KEY, rules.ROOM_ID):
        assert kind.all_ok is not None
        assert kind.all_ok(values) == all(kind.check(v) is None for v in values), (kind.name, values)
