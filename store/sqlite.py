"""The SQLite backend (aiosqlite), schema version 1 of SPEC section 3.

The daemon may write the same file while this tool runs, so: WAL (set when this
tool creates a database; an existing file's journal mode is left as it is), a busy
timeout, BEGIN IMMEDIATE for every read-modify-write, and one read transaction for
a snapshot. Every sqlite3/aiosqlite error is mapped to store.errors here. The file
itself (schema, creation, header checks) is store.sqlite_file's; the domain rules of
a change are store.domain's.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any, TypeVar, cast

import aiosqlite

from . import domain, ids, layout, rules, sqlite_audit
from .aio import settle
from .audit import AuditEvent, AuditPhase, Note, record
from .base import Store
from .errors import AlreadyExists, BadRecord, InvalidInput, NotFound, ReadOnly, Refused, StoreError, Unavailable
from .layout import MEMBERS, ROOM_KEYS, ROOMS, USERS, Bucket
from .models import (
    InvalidRecord,
    Member,
    MemberRoom,
    Revision,
    Role,
    Room,
    SealedKey,
    Snapshot,
    Status,
    StatusChange,
    User,
    UserRole,
    UserRow,
)
from .plan import changed_since, row_fingerprint
from .snapshot import make_snapshot, paused_gc
from .spec import Clock, SqliteSpec, system_clock
from .sqlite_file import SCHEMA_VERSION, check_header, file_uri, insert_sql

BUSY_TIMEOUT_MS = 5000
T = TypeVar("T")
TABLES = layout.TABLE_NAMES


# -- error mapping -------------------------------------------------------------

#: words of an OperationalError that says the file itself is damaged
_DAMAGED = ("malformed", "unsupported file format", "not a database", "Could not decode to UTF-8")


def _map_error(e: BaseException) -> StoreError:
    if isinstance(e, sqlite3.IntegrityError):
        text = str(e)
        if "UNIQUE" in text or "PRIMARY KEY" in text:
            return AlreadyExists(f"already exists ({text})")
        return InvalidInput(f"rejected by the database: {text}")
    if isinstance(e, sqlite3.OperationalError) and "readonly" in str(e):
        # the file (or its folder) is not writable for this user: the backend says no
        return Refused(f"cannot write the database ({e}): the file or its folder is read-only for this user")
    if isinstance(e, sqlite3.OperationalError) and ("locked" in str(e) or "busy" in str(e)):
        return Unavailable(f"database is busy: another writer held it longer than "
                           f"{BUSY_TIMEOUT_MS / 1000:g} s")
    if type(e) is sqlite3.DatabaseError or (
            isinstance(e, sqlite3.OperationalError) and any(w in str(e) for w in _DAMAGED)):
        return InvalidInput(f"damaged database: {e}")  # the file is bad, not the backend
    if isinstance(e, UnicodeDecodeError):  # sqlite3 decoding a damaged schema or index text
        return InvalidInput(f"damaged database: text that is not UTF-8 where SQLite keeps names ({e.reason})")
    if isinstance(e, sqlite3.Error):
        return Unavailable(f"sqlite: {e}")
    return Unavailable(f"sqlite connection: {e}")  # aiosqlite's ValueError on a closed connection


@contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except StoreError:
        raise
    except (sqlite3.Error, ValueError) as e:
        raise _map_error(e) from None


# What the store reads is checked against store.rules (the KV decoder's rules too), in
# SQL, by SQLite: a row a daemon wrote with CHECK constraints off, text in a timestamp or
# a name that is not UTF-8 is reported as an invalid record (table, identity, reason),
# never a crash and never silently a record.
_COLUMNS = {b.table: ", ".join(b.field_names) for b in layout.TABLES if b.table}
#: the identity of a row, written as its KV key (SPEC section 4)
_IDENTITY = {b.table: " || '.' || ".join(b.key_fields) for b in layout.TABLES if b.table}
#: a whole table in identity order (`+col`: see export_snapshot)
_EXPORT_ORDER = {b.table: " ORDER BY " + ", ".join(f"+{f}" for f in b.key_fields) for b in layout.TABLES}
_BAD = {t: rules.sql_is_bad(t) for t in TABLES}
#: the same rules without the tests that call back into Python, for bulk reads (see _select)
_BAD_IN_SQL = {t: rules.sql_is_bad(t, in_sql=False) for t in TABLES}
_CHECKED_AFTER = {t: rules.checked_after(t) for t in TABLES}
_BAD_ROWS = {t: f"SELECT CAST({_IDENTITY[t]} AS BLOB), CAST({rules.sql_problem(t)} AS BLOB) "
                f"FROM {t} WHERE ({{where}}) AND ({_BAD[t]})" for t in TABLES}


def _shown(value: bytes | None) -> str:
    """Identity or reason text of a bad row: bytes (it may not be UTF-8) made text."""
    return "(null)" if value is None else value.decode("utf-8", "backslashreplace")


async def _rows(db: aiosqlite.Connection, sql: str, params: tuple = ()) -> list[tuple]:
    """fetchall's list itself (no row factory is set: the rows are plain tuples)."""
    return cast(list[tuple], await db.execute_fetchall(sql, params))


def _identifiers_ok(rows: list[tuple], columns: tuple[tuple[int, rules.Kind], ...]) -> bool:
    """Every distinct value of those columns keeps its kind's rule (ids repeat: 1M sealed
    keys hold 10k room ids and 100k endpoints)."""
    for i, kind in columns:
        values = [r[i] for r in rows]
        if kind.all_ok is not None and kind.all_ok(values):
            continue  # the bulk test (a million keys: 0.05 s instead of 0.5 s one by one)
        check = kind.check
        if any(check(v) is not None for v in set(values)):
            return False
    return True


#: rows past which Python work on them leaves the event loop for a thread
OFF_LOOP_ROWS = 5000


async def _off_loop(fn: Callable[..., T], *args: Any, n: int) -> T:
    """fn(*args) in a thread when there are many rows (n), so the event loop, a TUI's,
    keeps answering meanwhile (the thread yields the GIL every few ms); inline when few
    (a decision reads one row: no thread hop)."""
    return await asyncio.to_thread(fn, *args) if n > OFF_LOOP_ROWS else fn(*args)


def _users(rows: list[tuple]) -> list[User]:
    """Users of rows; a role and a status are a few words said a million times: one string
    object each (sys.intern) instead of two new ones per user (110 MB at 1M users)."""
    intern = sys.intern
    # the rules were checked in SQL: r and s are a role and a status (plain text, as every
    # row's values; the enums are str subclasses that compare equal)
    return [User(k, n, cast(UserRole, intern(r)), cast(Status, intern(s)), a, v) for k, n, r, s, a, v in rows]


def _user_rows(rows: list[tuple]) -> list[UserRow]:
    """UserRows of rows (SQLite gives tuples already): a role and a status one str each."""
    intern = sys.intern
    return [(k, n, intern(r), intern(s), a, v) for k, n, r, s, a, v in rows]


def _room(row: tuple) -> Room:
    return Room(row[0], row[1], bool(row[2]), row[3], row[4], row[5])


# -- the store -----------------------------------------------------------------

class SqliteStore(Store):
    """One aiosqlite connection; our own transactions are serialized by an asyncio lock."""

    def __init__(self, db: aiosqlite.Connection, spec: SqliteSpec, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._lock = asyncio.Lock()
        self._writes = 0  # PRAGMA data_version does not move on our own commits
        self._closed = False
        self.label = spec.label
        self.read_only = spec.read_only
        self._path = spec.path

    @classmethod
    async def open(cls, spec: SqliteSpec, clock: Clock = system_clock) -> SqliteStore:
        """Open an existing schema-v1 database. Raises: InvalidInput, Unavailable."""
        path = spec.path
        if not os.path.exists(path):
            raise InvalidInput(f"no such database: {path}")
        check_header(path)
        try:
            # settled: a connection opened for a cancelled caller is closed below, not leaked
            db = await settle(aiosqlite.connect(file_uri(path), uri=True,
                                                isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000))
        except sqlite3.Error as e:
            raise InvalidInput(f"cannot open {path}: {e}") from None
        try:
            await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await db.execute("PRAGMA foreign_keys = ON")
            (version,), = await db.execute_fetchall("PRAGMA user_version")
            if version != SCHEMA_VERSION:
                raise InvalidInput(f"unsupported schema version {version} in {path}: "
                                   f"expected {SCHEMA_VERSION}")
            rows = await db.execute_fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
            missing = sorted(set(TABLES) - {r[0] for r in rows})
            if missing:
                raise InvalidInput(f"not a membership database (no table {', '.join(missing)}): {path}")
            for table in TABLES:
                have = {r[1] for r in await db.execute_fetchall(f"PRAGMA table_info({table})")}
                lacking = [f for f, _ in rules.FIELDS[table] if f not in have]
                if lacking:
                    raise InvalidInput(f"not a schema-v1 membership database (table {table} has no "
                                       f"column {', '.join(lacking)}): {path}")
            for name, fn in rules.SQL_FUNCTIONS.items():
                await db.create_function(name, 1, fn, deterministic=True)
        except BaseException as e:
            await settle(db.close())
            if isinstance(e, sqlite3.DatabaseError) and not isinstance(e, sqlite3.OperationalError):
                raise InvalidInput(f"not a SQLite database: {path} ({e})") from None
            if isinstance(e, (sqlite3.Error, ValueError)):
                raise _map_error(e) from None
            raise
        return cls(db, spec, clock)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._db.close()
        except (sqlite3.Error, ValueError):
            pass  # closing is best effort; nothing is pending

    # -- transactions ----------------------------------------------------------
    # Every statement runs in aiosqlite's thread and runs to its end even when the task
    # awaiting it is cancelled. So BEGIN, COMMIT and ROLLBACK are settled (awaited to their
    # end, then the cancellation goes on), and any way out of a transaction but its COMMIT
    # rolls it back: a cancelled load or change never leaves a transaction open (a read one
    # blocks the daemon's WAL checkpoints, a write one every write of the daemon).

    @asynccontextmanager
    async def _transaction(self, begin: str) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            committed = False
            try:
                with _mapped():
                    await settle(self._db.execute(begin))
                    yield self._db
                    await settle(self._db.execute("COMMIT"))
                committed = True
            finally:
                if not committed:
                    if begin == "BEGIN":
                        # a read may be deep in a long select: stop it rather than wait
                        await self._db.interrupt()
                    await settle(self._end("ROLLBACK"))

    def _read(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        """One read transaction: every select inside sees the same committed state."""
        return self._transaction("BEGIN")

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE: take the write lock first (waiting up to the busy timeout), so a
        read-modify-write never fails half-way on a snapshot that went stale."""
        if self.read_only:
            raise ReadOnly(f"{self.label}: changes are disabled")
        try:
            async with self._transaction("BEGIN IMMEDIATE") as db:
                yield db
        finally:
            # also when it failed or was cancelled: a COMMIT cancelled in flight may have
            # happened, and a marker that moves without a change only costs a reload
            self._writes += 1

    async def _end(self, sql: str) -> None:
        try:
            await self._db.execute(sql)
        except (sqlite3.Error, ValueError):
            pass  # the transaction is already gone (never begun, or rolled back by SQLite)

    async def _fetch(self, sql: str, params: tuple = ()) -> list[tuple]:
        """A single statement outside an explicit transaction (it is atomic on its own)."""
        async with self._lock:
            with _mapped():
                return await _rows(self._db, sql, params)

    @staticmethod
    async def _select(db: aiosqlite.Connection, table: str, where: str = "1", params: tuple = (),
                      order: str = "") -> tuple[list[tuple], list[InvalidRecord]]:
        """The rows of table matching where (columns in SPEC order) that keep every rule,
        and the InvalidRecords of those that do not. Call inside a transaction.

        The common case is one pass: SQLite checks types, sets and ranges while it reads;
        the identifiers' distinct values are then checked in Python (a SQL function per
        row would cost 0.85 s on 1M sealed keys; the distinct values, 0.1 s); a count, read
        from the b-tree alone, tells whether any row was left out. Only when something is
        wrong is every rule checked in SQL, to name the rows and their reasons."""
        try:
            rows = await _rows(
                db, f"SELECT {_COLUMNS[table]} FROM {table} WHERE ({where}) AND NOT ({_BAD_IN_SQL[table]}){order}",
                params)
            (total,), = await _rows(db, f"SELECT count(*) FROM {table} WHERE ({where})", params)
            if total == len(rows) and await _off_loop(_identifiers_ok, rows, _CHECKED_AFTER[table], n=len(rows)):
                return rows, []
        except (sqlite3.OperationalError, UnicodeDecodeError) as e:
            if "UTF-8" not in str(e) and not isinstance(e, UnicodeDecodeError):
                raise  # not the text that is not UTF-8 that the full check names
        rows = await _rows(
            db, f"SELECT {_COLUMNS[table]} FROM {table} WHERE ({where}) AND NOT ({_BAD[table]}){order}", params)
        bad = await _rows(db, _BAD_ROWS[table].format(where=where), params)
        return rows, [InvalidRecord(table, _shown(i), _shown(why)) for i, why in bad]

    async def _one(self, db: aiosqlite.Connection, table: str, where: str, params: tuple,
                   what: str) -> tuple | None:
        """The one row matching where, None when there is none. Raises: BadRecord (naming
        `what`) when it breaks a rule."""
        rows, bad = await self._select(db, table, where, params)
        if bad:
            raise BadRecord(f"stored {what} is invalid: {bad[0].reason}")
        return rows[0] if rows else None

    async def _room_in(self, db: aiosqlite.Connection, rid: str) -> Room:
        row = await self._one(db, "rooms", "id = ?", (rid,), f"room {rid}")
        if row is None:
            raise domain.no_room(rid)
        return _room(row)

    async def _user_in(self, db: aiosqlite.Connection, key: str) -> User:
        row = await self._one(db, "users", "key = ?", (key,), f"user {key}")
        if row is None:
            raise domain.no_user(key)
        return User(*row)

    @staticmethod
    async def _insert(db: aiosqlite.Connection, bucket: Bucket, *records: object, replace: bool = False) -> None:
        # sqlite3 stores a bool (a room's encrypted) as 0 or 1
        await db.executemany(insert_sql(bucket, replace), map(bucket.values, records))

    # -- rooms -----------------------------------------------------------------

    async def create_room(self, room_id: str, name: str, owner: str, *, encrypted: bool = False,
                          sealed_key: bytes | None = None) -> Room:
        new = domain.new_room(room_id, name, owner, encrypted, sealed_key, self._clock())
        rid = new.room.id
        async with self._write() as db:
            if await db.execute_fetchall("SELECT 1 FROM rooms WHERE id = ?", (rid,)):
                raise domain.room_exists(rid)
            await self._insert(db, ROOMS, new.room)
            await self._insert(db, MEMBERS, new.owner)
            if new.key is not None:
                await self._insert(db, ROOM_KEYS, new.key)
        return new.room

    async def get_room(self, room_id: str) -> Room:
        rid = ids.room_id(room_id)
        async with self._read() as db:
            return await self._room_in(db, rid)

    async def list_rooms(self, *, invalid: list[InvalidRecord] | None = None) -> list[Room]:
        async with self._read() as db:
            rows, bad = await self._select(db, "rooms", order=" ORDER BY id")
        if invalid is not None:
            invalid += bad
        return [_room(r) for r in rows]

    async def delete_room(self, room_id: str) -> None:
        rid = ids.room_id(room_id)
        async with self._write() as db:
            await self._room_in(db, rid)
            # explicit, not left to ON DELETE CASCADE: a connection may have foreign_keys off
            await db.execute("DELETE FROM room_keys WHERE room_id = ?", (rid,))
            await db.execute("DELETE FROM members WHERE room_id = ?", (rid,))
            await db.execute("DELETE FROM rooms WHERE id = ?", (rid,))

    # -- members ---------------------------------------------------------------

    async def add_member(self, room_id: str, endpoint: str, *, role: str = Role.MEMBER,
                         sealed_key: bytes | None = None) -> Member:
        args = domain.member_args(room_id, endpoint, role, sealed_key)
        now = self._clock()
        async with self._write() as db:
            room = await self._room_in(db, args.room_id)
            member, key = domain.new_member(args, room, now)
            if await db.execute_fetchall("SELECT 1 FROM members WHERE room_id = ? AND endpoint = ?",
                                         (args.room_id, args.endpoint)):
                raise domain.member_exists(args.room_id, args.endpoint)
            await self._insert(db, MEMBERS, member)
            if key is not None:
                await self._insert(db, ROOM_KEYS, key, replace=True)
        return member

    async def remove_member(self, room_id: str, endpoint: str) -> None:
        rid, ep = ids.room_id(room_id), ids.endpoint(endpoint)
        async with self._write() as db:
            domain.check_removable(await self._room_in(db, rid), ep)
            cur = await db.execute("DELETE FROM members WHERE room_id = ? AND endpoint = ?", (rid, ep))
            if cur.rowcount == 0:
                raise domain.not_a_member(rid, ep)

    async def list_members(self, room_id: str) -> list[Member]:
        rid = ids.room_id(room_id)
        async with self._read() as db:
            await self._room_in(db, rid)
            rows, _ = await self._select(db, "members", "room_id = ?", (rid,), " ORDER BY endpoint")
        return list(itertools.starmap(Member, rows))

    async def rooms_of_member(self, endpoint: str) -> list[str]:
        ep = ids.endpoint(endpoint)
        rows = await self._fetch(f"SELECT room_id FROM members WHERE endpoint = ? AND NOT ({_BAD['members']}) "
                                 "ORDER BY room_id", (ep,))
        return [r[0] for r in rows]

    async def member_rooms(self, endpoint: str) -> list[MemberRoom]:
        # one read transaction and three selects, not three reads per room (a user in
        # 10,000 rooms: 5.95 s before, 0.09 s so)
        ep = ids.endpoint(endpoint)
        mine = "room_id IN (SELECT room_id FROM members WHERE endpoint = ?)"
        async with self._read() as db:
            members, _ = await self._select(db, "members", "endpoint = ?", (ep,), " ORDER BY room_id")
            rooms, bad_rooms = await self._select(db, "rooms", mine.replace("room_id IN", "id IN", 1), (ep,),
                                                  " ORDER BY id")
            keys, bad_keys = await self._select(db, "room_keys", f"endpoint = ? AND {mine}", (ep, ep))
        for bad in (*bad_rooms, *bad_keys):
            raise BadRecord(f"{bad.bucket} {bad.key}: {bad.reason}")
        member_of = {m[0]: Member(*m) for m in members}
        current = {(k[0], k[1]): SealedKey(*k) for k in keys}
        out = []
        for row in rooms:
            room = _room(row)
            key = current.get((room.id, room.epoch)) if room.encrypted else None
            out.append(MemberRoom(room, member_of.get(room.id), key))
        return out

    async def member_counts(self) -> dict[str, int]:
        rows = await self._fetch(f"SELECT room_id, count(*) FROM members WHERE NOT ({_BAD['members']}) "
                                 "GROUP BY room_id")
        return dict(rows)

    # -- keys ------------------------------------------------------------------

    async def put_key(self, room_id: str, epoch: int, endpoint: str, sealed_key: bytes) -> SealedKey:
        rid, e, ep = ids.room_id(room_id), ids.epoch(epoch), ids.endpoint(endpoint)
        key = SealedKey(rid, e, ep, ids.sealed_key(sealed_key), self._clock())
        async with self._write() as db:
            domain.check_key_epoch(await self._room_in(db, rid), e)
            await self._insert(db, ROOM_KEYS, key, replace=True)
        return key

    async def get_key(self, room_id: str, endpoint: str, epoch: int | None = None) -> SealedKey:
        rid, ep = ids.room_id(room_id), ids.endpoint(endpoint)
        e = None if epoch is None else ids.epoch(epoch)
        async with self._read() as db:
            room = await self._room_in(db, rid)
            e = room.epoch if e is None else e
            row = await self._one(db, "room_keys", "room_id = ? AND epoch = ? AND endpoint = ?",
                                  (rid, e, ep), f"sealed key of {ep} in room {rid} at epoch {e}")
        if row is None:
            raise domain.no_key(rid, ep, e)
        return SealedKey(*row)

    async def list_keys(self, room_id: str) -> list[SealedKey]:
        rid = ids.room_id(room_id)
        async with self._read() as db:
            await self._room_in(db, rid)
            rows, _ = await self._select(db, "room_keys", "room_id = ?", (rid,), " ORDER BY epoch, endpoint")
        return list(itertools.starmap(SealedKey, rows))

    async def rekey(self, room_id: str, sealed_keys: Mapping[str, bytes]) -> Room:
        rid = ids.room_id(room_id)
        keys = domain.rekey_keys(rid, sealed_keys)
        now = self._clock()
        async with self._write() as db:
            room = await self._room_in(db, rid)
            rows, _ = await self._select(db, "members", "room_id = ?", (rid,))
            new = domain.rekeyed(room, {r[1] for r in rows}, keys)
            cur = await db.execute("UPDATE rooms SET epoch = ? WHERE id = ? AND epoch = ?",
                                   (new.epoch, rid, room.epoch))
            if cur.rowcount != 1:
                raise domain.rekey_conflict(rid)
            await self._insert(db, ROOM_KEYS, *(SealedKey(rid, new.epoch, ep, sk, now)
                                                for ep, sk in sorted(keys.items())), replace=True)
        return new

    # -- users -----------------------------------------------------------------

    def _now(self) -> int:
        return self._clock()

    async def _add_user(self, user: User, note: Note) -> User:
        async with self._write() as db:
            if await db.execute_fetchall("SELECT 1 FROM users WHERE key = ?", (user.key,)):
                raise domain.user_exists(user.key)
            await self._insert(db, USERS, user)
            await sqlite_audit.write(db, [note.event(AuditPhase.DONE, None, record(user))])
        return user

    async def get_user(self, key: str) -> User:
        k = ids.key(key)
        async with self._read() as db:
            return await self._user_in(db, k)

    async def list_users(self, *, invalid: list[InvalidRecord] | None = None) -> list[User]:
        async with self._read() as db:
            rows, bad = await self._select(db, "users", order=" ORDER BY key")
        if invalid is not None:
            invalid += bad
        return await _off_loop(_users, rows, n=len(rows))

    counts_users_cheaply = True

    async def count_users(self) -> int:
        (n,), = await self._fetch("SELECT count(*) FROM users")  # the key index's count
        return int(n)

    async def user_rows(self, keys: Sequence[str]) -> tuple[list[UserRow], list[InvalidRecord]]:
        wanted = sorted(set(keys))
        rows: list[tuple] = []
        invalid: list[InvalidRecord] = []
        async with self._read() as db:
            for i in range(0, len(wanted), 500):  # well under SQLite's bound on parameters
                part = wanted[i:i + 500]
                got, bad = await self._select(db, "users", f"key IN ({', '.join('?' * len(part))})",
                                              tuple(part), order=" ORDER BY key")
                rows += got
                invalid += bad
        return _user_rows(rows), invalid

    async def iter_user_rows(self, first: int = 2000, page: int = 10_000
                             ) -> AsyncIterator[tuple[list[UserRow], list[InvalidRecord]]]:
        """Pages in key order (the primary key's index): `first` rows, then `page` at a time;
        each its own short read transaction (a million users are never one long read holding
        back the daemon's checkpoints); the caller groups pages as it likes."""
        lo, size = None, first
        while True:
            rows, bad, hi = await self._user_page(lo, size)
            # SQLite's rows are UserRows already; not interned: a page is packed by its
            # reader (a view packs roles and statuses to a byte), and interning each row
            # cost 0.28 s of a million users' read for nothing
            yield cast(list[UserRow], rows), bad
            if hi is None:
                return
            lo, size = hi, page

    async def _user_page(self, lo: str | None, size: int) -> tuple[list[tuple], list[InvalidRecord], str | None]:
        """The users after key lo (from the first when None), size of them, and the last
        key read (None: this was the last page). A page is a key range, so the rules' count
        check holds for it; NULL keys, which sort first, come with the first page."""
        async with self._read() as db:
            bound = "" if lo is None else "key > ?"
            found = list(await db.execute_fetchall(
                f"SELECT key FROM users WHERE {bound or 'key IS NOT NULL'} ORDER BY key LIMIT 1 OFFSET ?",
                (*(() if lo is None else (lo,)), size - 1)))
            hi = found[0][0] if found else None
            parts = [bound] if bound else []
            if hi is not None:
                parts.append("key <= ?")
            where = " AND ".join(parts) or "1"
            if lo is None and hi is not None:
                where = f"({where}) OR key IS NULL"
            params = tuple(v for v in (lo, hi) if v is not None)
            rows, bad = await self._select(db, "users", where, params, order=" ORDER BY key")
        return rows, bad, hi

    async def _set_status(self, key: str, status: Status, note: Note, expect: str | None = None) -> StatusChange:
        now = self._clock()
        async with self._write() as db:
            user = await self._user_in(db, key)
            if expect is not None and row_fingerprint(user) != expect:  # compare-and-set (SPEC 11)
                raise changed_since(key)
            new = domain.with_status(user, status, now)
            if new is user:  # read in the writing transaction: no other change falls between
                return StatusChange(user, False)
            await db.execute("UPDATE users SET status = ?, revoked_at = ? WHERE key = ?",
                             (new.status, new.revoked_at, key))
            # one transaction: the change and its event commit together or not at all
            await sqlite_audit.write(db, [note.event(AuditPhase.DONE, record(user), record(new))])
        return StatusChange(new, True)

    # -- the audit trail -------------------------------------------------------
    async def audit_after(self, cursor: int, *, invalid: list[InvalidRecord] | None = None
                          ) -> tuple[list[AuditEvent], int]:
        async with self._read() as db:
            return await sqlite_audit.read_after(db, cursor, invalid)

    async def write_audit(self, events: Sequence[AuditEvent]) -> int:
        if not events:
            return 0
        async with self._write() as db:
            return await sqlite_audit.write(db, events)

    async def user_history(self, key: str) -> list[Revision]:
        try:
            user = await self.get_user(key)
        except NotFound:
            return []
        return [Revision(user, 0, None)]  # SQLite keeps no revisions: the audit has the changes

    async def user_revision(self, key: str) -> tuple[User, str]:
        user = await self.get_user(key)
        return user, row_fingerprint(user)

    async def backend_identity(self) -> str:
        return f"sqlite:{os.path.realpath(self._path)}"  # however the path was written

    async def _decision_user(self, key: str) -> User:
        return await self.get_user(key)  # one read transaction: the committed state

    # -- whole state -----------------------------------------------------------

    async def export_snapshot(self) -> Snapshot:
        # millions of rows and models: the GC would only rescan them (it merely delays
        # cycle collection for other tasks meanwhile)
        with paused_gc():
            async with self._read() as db:  # one read transaction: one consistent state
                # Rows arrive in identity order, sorted by SQLite's sorter (`+col` keeps it off
                # the PK index, whose row-by-row lookups cost more): make_snapshot's sort is then
                # one linear pass, and the models sit in memory in the order they are encoded.
                # A file in the daemon's insertion order exports ~2.5x faster this way.
                rooms, bad_rooms = await self._select(db, "rooms", order=_EXPORT_ORDER["rooms"])
                members, bad_members = await self._select(db, "members", order=_EXPORT_ORDER["members"])
                keys, bad_keys = await self._select(db, "room_keys", order=_EXPORT_ORDER["room_keys"])
                users, bad_users = await self._select(db, "users", order=_EXPORT_ORDER["users"])
            return make_snapshot(
                map(_room, rooms),
                itertools.starmap(Member, members),
                itertools.starmap(SealedKey, keys),
                itertools.starmap(User, users),
                bad_rooms + bad_members + bad_keys + bad_users,
            )

    async def change_marker(self) -> object:
        rows = await self._fetch("PRAGMA data_version")  # moves on other connections' commits
        return (rows[0][0], self._writes)
