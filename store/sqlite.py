"""The SQLite backend (aiosqlite), schema version 1 of SPEC section 3.

The daemon may write the same file while this tool runs, so: WAL (set when this
tool creates a database; an existing file's journal mode is left as it is), a busy
timeout, BEGIN IMMEDIATE for every read-modify-write, and one read transaction for
a snapshot. Every sqlite3/aiosqlite error is mapped to store.errors here.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
import tempfile
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager

import aiosqlite

from . import ids
from .base import Store
from .errors import AlreadyExists, Conflict, InvalidInput, NotFound, ReadOnly, StoreError, Unavailable
from .models import (ACTIVE, REVOKED, ROLE_MEMBER, ROLE_OWNER, InvalidRecord, Member, Room, SealedKey,
                     Snapshot, User)
from .snapshot import make_snapshot, paused_gc
from .spec import Clock, SqliteSpec, system_clock

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5000
#: bound on is_authorized / is_admin (SPEC section 2: default operation timeout 2 s)
AUTH_TIMEOUT = 2.0
TABLES = ("members", "room_keys", "rooms", "users")

SCHEMA = """
CREATE TABLE rooms (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  encrypted  INTEGER NOT NULL CHECK (encrypted IN (0, 1)),
  owner      TEXT NOT NULL,
  epoch      INTEGER NOT NULL CHECK (epoch >= 0),
  created_at INTEGER NOT NULL
);
CREATE TABLE members (
  room_id   TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  endpoint  TEXT NOT NULL,
  role      TEXT NOT NULL CHECK (role IN ('owner', 'member')),
  joined_at INTEGER NOT NULL,
  PRIMARY KEY (room_id, endpoint)
);
CREATE INDEX members_by_endpoint ON members(endpoint, room_id);
CREATE TABLE room_keys (
  room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  epoch      INTEGER NOT NULL,
  endpoint   TEXT NOT NULL,
  sealed_key BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (room_id, epoch, endpoint)
);
CREATE TABLE users (
  key        TEXT PRIMARY KEY,
  name       TEXT NOT NULL DEFAULT '',
  role       TEXT NOT NULL CHECK (role IN ('admin', 'user')),
  status     TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
  added_at   INTEGER NOT NULL,
  revoked_at INTEGER
);
"""

_ROOM_COLS = "id, name, encrypted, owner, epoch, created_at"
_MEMBER_COLS = "room_id, endpoint, role, joined_at"
_KEY_COLS = "room_id, epoch, endpoint, sealed_key, created_at"
_USER_COLS = "key, name, role, status, added_at, revoked_at"
_MAGIC = b"SQLite format 3\x00"


# -- creating a database -------------------------------------------------------

def create_database(path: str) -> None:
    """Create an empty schema-v1 database at path (WAL). Refuses an existing file.

    Written under a temporary name next to path and linked into place, so a failure
    leaves nothing behind and a file that appeared meanwhile is never overwritten.
    Raises: InvalidInput.
    """
    build_database(path, lambda con: None)


def build_database(path: str, fill: Callable[[sqlite3.Connection], None]) -> None:
    """Create a schema-v1 database, let fill(sqlite3.Connection) write into it, then put it
    at path; used by create_database and the seeder. Raises: InvalidInput."""
    if os.path.lexists(path):
        raise InvalidInput(f"refusing to overwrite an existing file: {path}")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise InvalidInput(f"no such directory: {parent}")
    try:
        # a fresh empty file of our own, next to path (same file system for the link); SQLite
        # takes an empty file as a new database
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=parent)
        os.close(fd)
    except OSError as e:
        raise InvalidInput(f"cannot create database {path}: {e}") from None
    try:
        con = sqlite3.connect(tmp, isolation_level=None)
        try:
            con.executescript(f"BEGIN; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
            fill(con)
            con.execute("PRAGMA synchronous = FULL")  # fill may have lowered it; flush before linking
            con.execute("PRAGMA journal_mode = WAL")  # last: a bulk fill need not pass through the WAL
        finally:
            con.close()  # the last connection checkpoints and removes -wal/-shm
        os.link(tmp, path)  # unlike rename, fails when path exists
    except FileExistsError:
        raise InvalidInput(f"refusing to overwrite an existing file: {path}") from None
    except (sqlite3.Error, OSError) as e:
        raise InvalidInput(f"cannot create database {path}: {e}") from None
    finally:
        for p in (tmp, tmp + "-wal", tmp + "-shm", tmp + "-journal"):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass


# -- error mapping -------------------------------------------------------------

def _map_error(e: BaseException) -> StoreError:
    if isinstance(e, sqlite3.IntegrityError):
        text = str(e)
        if "UNIQUE" in text or "PRIMARY KEY" in text:
            return AlreadyExists(f"already exists ({text})")
        return InvalidInput(f"rejected by the database: {text}")
    if isinstance(e, sqlite3.OperationalError) and ("locked" in str(e) or "busy" in str(e)):
        return Unavailable(f"database is busy: another writer held it longer than "
                           f"{BUSY_TIMEOUT_MS / 1000:g} s")
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


def _check_header(path: str) -> None:
    """Reject a non-SQLite file or another schema version without opening it with SQLite,
    so a foreign file gets no -wal/-shm beside it and stays byte-identical."""
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except IsADirectoryError:
        raise InvalidInput(f"not a SQLite database (a directory): {path}") from None
    except OSError as e:
        raise InvalidInput(f"cannot read {path}: {e.strerror or e}") from None
    if len(header) < 100 or not header.startswith(_MAGIC):
        raise InvalidInput(f"not a SQLite database: {path}")
    # user_version lives at offset 60; the header is only authoritative without a WAL
    # (a committed change may still be in the -wal file), else PRAGMA checks it below.
    version = int.from_bytes(header[60:64], "big")
    if version != SCHEMA_VERSION and not os.path.exists(path + "-wal"):
        raise InvalidInput(f"unsupported schema version {version} in {path}: expected {SCHEMA_VERSION}")


def _uri(path: str, read_only: bool) -> str:
    mode = "ro" if read_only else "rw"  # rw: never create the file
    return f"file:{urllib.request.pathname2url(os.path.abspath(path))}?mode={mode}"


# Column types a row needs to become a model; SQLite stores what a writer gives it (a daemon
# bug could put text in sealed_key or in a timestamp). Such rows are reported as invalid
# records, like undecodable KV values, instead of crashing an export.
_TYPED = {
    "rooms": ("id", [("id", "text"), ("name", "text"), ("owner", "text"), ("epoch", "integer"),
                     ("created_at", "integer")]),
    "members": ("room_id || '.' || endpoint", [("room_id", "text"), ("endpoint", "text"),
                                               ("role", "text"), ("joined_at", "integer")]),
    "room_keys": ("room_id || '.' || epoch || '.' || endpoint",
                  [("room_id", "text"), ("epoch", "integer"), ("endpoint", "text"), ("sealed_key", "blob"),
                   ("created_at", "integer")]),
    "users": ("key", [("key", "text"), ("name", "text"), ("role", "text"), ("status", "text"),
                      ("added_at", "integer"), ("revoked_at", "integer")]),
}


def _bad_type(col: str, kind: str) -> str:
    if col == "revoked_at":
        return "typeof(revoked_at) NOT IN ('integer', 'null')"
    return f"typeof({col}) != '{kind}'"


def _bad_rows_sql() -> str:
    parts = []
    for table, (key, cols) in _TYPED.items():
        reason = " ".join(f"WHEN {_bad_type(c, k)} THEN '{c} is ' || typeof({c}) || ', expected {k}'"
                          for c, k in cols)
        where = " OR ".join(_bad_type(c, k) for c, k in cols)
        parts.append(f"SELECT '{table}', {key}, CASE {reason} END FROM {table} WHERE {where}")
    return " UNION ALL ".join(parts)


_BAD_ROWS = _bad_rows_sql()
_VALID = {t: " WHERE NOT (" + " OR ".join(_bad_type(c, k) for c, k in cols) + ")"
          for t, (_, cols) in _TYPED.items()}


def _room(row: tuple) -> Room:
    return Room(row[0], row[1], bool(row[2]), row[3], row[4], row[5])


# -- the store -----------------------------------------------------------------

class SqliteStore(Store):
    """One aiosqlite connection; our own transactions are serialized by an asyncio lock."""

    def __init__(self, db: aiosqlite.Connection, spec: SqliteSpec, clock: Clock) -> None:
        self._db = db
        self._spec = spec
        self._clock = clock
        self._lock = asyncio.Lock()
        self._writes = 0  # PRAGMA data_version does not move on our own commits
        self._closed = False
        self.label = spec.label
        self.read_only = spec.read_only

    @classmethod
    async def open(cls, spec: SqliteSpec, clock: Clock = system_clock) -> "SqliteStore":
        """Open an existing schema-v1 database. Raises: InvalidInput, Unavailable."""
        path = spec.path
        if not os.path.exists(path):
            raise InvalidInput(f"no such database: {path}")
        _check_header(path)
        try:
            db = await aiosqlite.connect(_uri(path, spec.read_only), uri=True, isolation_level=None,
                                         timeout=BUSY_TIMEOUT_MS / 1000)
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
        except BaseException as e:
            await db.close()
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

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        """One read transaction: every select inside sees the same committed state."""
        async with self._lock:
            with _mapped():
                await self._db.execute("BEGIN")
                try:
                    yield self._db
                finally:
                    await self._end("COMMIT")

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE: take the write lock first (waiting up to the busy timeout), so a
        read-modify-write never fails half-way on a snapshot that went stale."""
        if self.read_only:
            raise ReadOnly(f"{self.label}: changes are disabled")
        async with self._lock:
            with _mapped():
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    await self._db.execute("COMMIT")
                except BaseException:
                    await self._end("ROLLBACK")  # also when COMMIT itself failed
                    raise
                self._writes += 1

    async def _end(self, sql: str) -> None:
        try:
            await self._db.execute(sql)
        except (sqlite3.Error, ValueError):
            pass  # the transaction is already gone (e.g. rolled back by SQLite itself)

    async def _fetch(self, sql: str, params: tuple = ()) -> list[tuple]:
        """A single statement outside an explicit transaction (it is atomic on its own)."""
        async with self._lock:
            with _mapped():
                return list(await self._db.execute_fetchall(sql, params))

    @staticmethod
    async def _room_in(db: aiosqlite.Connection, rid: str) -> Room:
        rows = await db.execute_fetchall(f"SELECT {_ROOM_COLS} FROM rooms WHERE id = ?", (rid,))
        if not rows:
            raise NotFound(f"no such room: {rid}")
        return _room(rows[0])

    @staticmethod
    async def _user_in(db: aiosqlite.Connection, key: str) -> User:
        rows = await db.execute_fetchall(f"SELECT {_USER_COLS} FROM users WHERE key = ?", (key,))
        if not rows:
            raise NotFound(f"no such user: {key}")
        return User(*rows[0])

    # -- rooms -----------------------------------------------------------------

    async def create_room(self, room_id: str, name: str, owner: str, *, encrypted: bool = False,
                          sealed_key: bytes | None = None) -> Room:
        rid, nm, own = ids.room_id(room_id), ids.name(name), ids.endpoint(owner)
        if encrypted:
            if sealed_key is None:
                raise InvalidInput(f"encrypted room {rid} needs the owner's sealed key")
            sk = ids.sealed_key(sealed_key)
        elif sealed_key is not None:
            raise InvalidInput(f"unencrypted room {rid} takes no sealed key")
        now, epoch = self._clock(), 1 if encrypted else 0
        async with self._write() as db:
            if await db.execute_fetchall("SELECT 1 FROM rooms WHERE id = ?", (rid,)):
                raise AlreadyExists(f"room {rid} already exists")
            await db.execute(f"INSERT INTO rooms ({_ROOM_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
                             (rid, nm, int(encrypted), own, epoch, now))
            await db.execute(f"INSERT INTO members ({_MEMBER_COLS}) VALUES (?, ?, ?, ?)",
                             (rid, own, ROLE_OWNER, now))
            if encrypted:
                await db.execute(f"INSERT INTO room_keys ({_KEY_COLS}) VALUES (?, ?, ?, ?, ?)",
                                 (rid, epoch, own, sk, now))
        return Room(rid, nm, encrypted, own, epoch, now)

    async def get_room(self, room_id: str) -> Room:
        rid = ids.room_id(room_id)
        async with self._read() as db:
            return await self._room_in(db, rid)

    async def list_rooms(self) -> list[Room]:
        return [_room(r) for r in await self._fetch(f"SELECT {_ROOM_COLS} FROM rooms ORDER BY id")]

    async def delete_room(self, room_id: str) -> None:
        rid = ids.room_id(room_id)
        async with self._write() as db:
            await self._room_in(db, rid)
            # explicit, not left to ON DELETE CASCADE: a connection may have foreign_keys off
            await db.execute("DELETE FROM room_keys WHERE room_id = ?", (rid,))
            await db.execute("DELETE FROM members WHERE room_id = ?", (rid,))
            await db.execute("DELETE FROM rooms WHERE id = ?", (rid,))

    # -- members ---------------------------------------------------------------

    async def add_member(self, room_id: str, endpoint: str, *, role: str = ROLE_MEMBER,
                         sealed_key: bytes | None = None) -> Member:
        rid, ep, role = ids.room_id(room_id), ids.endpoint(endpoint), ids.member_role(role)
        if role == ROLE_OWNER:
            raise InvalidInput(f"room {rid} has one owner, set when it is created; add {ep} as member")
        sk = ids.sealed_key(sealed_key) if sealed_key is not None else None
        now = self._clock()
        async with self._write() as db:
            room = await self._room_in(db, rid)
            if room.encrypted and sk is None:
                raise InvalidInput(f"encrypted room {rid} needs {ep}'s sealed key at epoch {room.epoch}")
            if not room.encrypted and sk is not None:
                raise InvalidInput(f"unencrypted room {rid} takes no sealed key")
            if await db.execute_fetchall("SELECT 1 FROM members WHERE room_id = ? AND endpoint = ?",
                                         (rid, ep)):
                raise AlreadyExists(f"{ep} is already a member of room {rid}")
            await db.execute(f"INSERT INTO members ({_MEMBER_COLS}) VALUES (?, ?, ?, ?)",
                             (rid, ep, role, now))
            if sk is not None:
                await db.execute(f"INSERT OR REPLACE INTO room_keys ({_KEY_COLS}) VALUES (?, ?, ?, ?, ?)",
                                 (rid, room.epoch, ep, sk, now))
        return Member(rid, ep, role, now)

    async def remove_member(self, room_id: str, endpoint: str) -> None:
        rid, ep = ids.room_id(room_id), ids.endpoint(endpoint)
        async with self._write() as db:
            room = await self._room_in(db, rid)
            if ep == room.owner:
                raise InvalidInput(f"{ep} owns room {rid} and cannot be removed from it")
            cur = await db.execute("DELETE FROM members WHERE room_id = ? AND endpoint = ?", (rid, ep))
            if cur.rowcount == 0:
                raise NotFound(f"{ep} is not a member of room {rid}")

    async def list_members(self, room_id: str) -> list[Member]:
        rid = ids.room_id(room_id)
        async with self._read() as db:
            await self._room_in(db, rid)
            rows = await db.execute_fetchall(
                f"SELECT {_MEMBER_COLS} FROM members WHERE room_id = ? ORDER BY endpoint", (rid,))
        return list(itertools.starmap(Member, rows))

    async def rooms_of_member(self, endpoint: str) -> list[str]:
        ep = ids.endpoint(endpoint)
        rows = await self._fetch("SELECT room_id FROM members WHERE endpoint = ? ORDER BY room_id", (ep,))
        return [r[0] for r in rows]

    async def member_counts(self) -> dict[str, int]:
        rows = await self._fetch("SELECT room_id, count(*) FROM members GROUP BY room_id")
        return dict(rows)

    # -- keys ------------------------------------------------------------------

    async def put_key(self, room_id: str, epoch: int, endpoint: str, sealed_key: bytes) -> SealedKey:
        rid, e, ep = ids.room_id(room_id), ids.epoch(epoch), ids.endpoint(endpoint)
        sk, now = ids.sealed_key(sealed_key), self._clock()
        async with self._write() as db:
            room = await self._room_in(db, rid)
            if not room.encrypted:
                raise InvalidInput(f"unencrypted room {rid} has no sealed keys")
            if not 1 <= e <= room.epoch:
                raise InvalidInput(f"room {rid} has no epoch {e}: expected 1 to {room.epoch}")
            await db.execute(f"INSERT OR REPLACE INTO room_keys ({_KEY_COLS}) VALUES (?, ?, ?, ?, ?)",
                             (rid, e, ep, sk, now))
        return SealedKey(rid, e, ep, sk, now)

    async def get_key(self, room_id: str, endpoint: str, epoch: int | None = None) -> SealedKey:
        rid, ep = ids.room_id(room_id), ids.endpoint(endpoint)
        e = None if epoch is None else ids.epoch(epoch)
        async with self._read() as db:
            room = await self._room_in(db, rid)
            e = room.epoch if e is None else e
            rows = await db.execute_fetchall(
                f"SELECT {_KEY_COLS} FROM room_keys WHERE room_id = ? AND epoch = ? AND endpoint = ?",
                (rid, e, ep))
        if not rows:
            raise NotFound(f"no sealed key for {ep} in room {rid} at epoch {e}")
        return SealedKey(*rows[0])

    async def list_keys(self, room_id: str) -> list[SealedKey]:
        rid = ids.room_id(room_id)
        async with self._read() as db:
            await self._room_in(db, rid)
            rows = await db.execute_fetchall(
                f"SELECT {_KEY_COLS} FROM room_keys WHERE room_id = ? ORDER BY epoch, endpoint", (rid,))
        return list(itertools.starmap(SealedKey, rows))

    async def rekey(self, room_id: str, sealed_keys: Mapping[str, bytes]) -> Room:
        rid = ids.room_id(room_id)
        keys: dict[str, bytes] = {}
        for ep, sk in sealed_keys.items():
            norm = ids.endpoint(ep)
            if norm in keys:
                raise InvalidInput(f"rekey of room {rid} names {norm} twice (keys are case-insensitive)")
            keys[norm] = ids.sealed_key(sk)
        now = self._clock()
        async with self._write() as db:
            room = await self._room_in(db, rid)
            if not room.encrypted:
                raise InvalidInput(f"unencrypted room {rid} cannot be rekeyed")
            rows = await db.execute_fetchall("SELECT endpoint FROM members WHERE room_id = ?", (rid,))
            members = {r[0] for r in rows}
            missing = sorted(members - keys.keys())
            if missing:
                raise InvalidInput(f"rekey of room {rid} misses a sealed key for member(s): "
                                   f"{', '.join(missing)}")
            strangers = sorted(keys.keys() - members)
            if strangers:
                raise InvalidInput(f"rekey of room {rid} has keys for non-member(s): {', '.join(strangers)}")
            epoch = room.epoch + 1
            cur = await db.execute("UPDATE rooms SET epoch = ? WHERE id = ? AND epoch = ?",
                                   (epoch, rid, room.epoch))
            if cur.rowcount != 1:
                raise Conflict(f"room {rid} changed during the rekey")
            await db.executemany(f"INSERT OR REPLACE INTO room_keys ({_KEY_COLS}) VALUES (?, ?, ?, ?, ?)",
                                 [(rid, epoch, ep, sk, now) for ep, sk in sorted(keys.items())])
        return Room(room.id, room.name, room.encrypted, room.owner, epoch, room.created_at)

    # -- users -----------------------------------------------------------------

    async def add_user(self, key: str, name: str = "", role: str = "user") -> User:
        k, nm, role = ids.key(key), ids.name(name), ids.user_role(role)
        now = self._clock()
        async with self._write() as db:
            if await db.execute_fetchall("SELECT 1 FROM users WHERE key = ?", (k,)):
                raise AlreadyExists(f"user {k} already exists")
            await db.execute(f"INSERT INTO users ({_USER_COLS}) VALUES (?, ?, ?, ?, ?, NULL)",
                             (k, nm, role, ACTIVE, now))
        return User(k, nm, role, ACTIVE, now, None)

    async def get_user(self, key: str) -> User:
        k = ids.key(key)
        async with self._read() as db:
            return await self._user_in(db, k)

    async def list_users(self) -> list[User]:
        return list(itertools.starmap(User, await self._fetch(f"SELECT {_USER_COLS} FROM users ORDER BY key")))

    async def revoke_user(self, key: str) -> User:
        k = ids.key(key)
        now = self._clock()
        async with self._write() as db:
            user = await self._user_in(db, k)
            if user.status == REVOKED:
                return user  # idempotent: keep the first revoked_at
            await db.execute("UPDATE users SET status = ?, revoked_at = ? WHERE key = ?", (REVOKED, now, k))
        return User(user.key, user.name, user.role, REVOKED, user.added_at, now)

    async def reinstate_user(self, key: str) -> User:
        k = ids.key(key)
        async with self._write() as db:
            user = await self._user_in(db, k)
            if user.status == ACTIVE:
                return user
            await db.execute("UPDATE users SET status = ?, revoked_at = NULL WHERE key = ?", (ACTIVE, k))
        return User(user.key, user.name, user.role, ACTIVE, user.added_at, None)

    async def _decision(self, key: str, admin: bool) -> bool:
        try:
            user = await asyncio.wait_for(self.get_user(key), AUTH_TIMEOUT)
            return user.status == ACTIVE and (not admin or user.role == "admin")
        except Exception:  # noqa: BLE001 - fail closed: any failure is a deny
            return False

    async def is_authorized(self, key: str) -> bool:
        return await self._decision(key, admin=False)

    async def is_admin(self, key: str) -> bool:
        return await self._decision(key, admin=True)

    # -- whole state -----------------------------------------------------------

    async def export_snapshot(self) -> Snapshot:
        # millions of rows and models: the GC would only rescan them (it merely delays
        # cycle collection for other tasks meanwhile)
        with paused_gc():
            async with self._read() as db:  # one read transaction: one consistent state
                bad = await db.execute_fetchall(_BAD_ROWS)
                # filtered selects only when needed: the filter costs as much as the check
                where = _VALID if bad else dict.fromkeys(_VALID, "")
                # Rows arrive in identity order, sorted by SQLite's sorter (`+col` keeps it off
                # the PK index, whose row-by-row lookups cost more): make_snapshot's sort is then
                # one linear pass, and the models sit in memory in the order they are encoded.
                # A file in the daemon's insertion order exports ~2.5x faster this way.
                rooms = await db.execute_fetchall(
                    f"SELECT {_ROOM_COLS} FROM rooms{where['rooms']} ORDER BY +id")
                members = await db.execute_fetchall(
                    f"SELECT {_MEMBER_COLS} FROM members{where['members']} ORDER BY +room_id, +endpoint")
                keys = await db.execute_fetchall(
                    f"SELECT {_KEY_COLS} FROM room_keys{where['room_keys']} ORDER BY +room_id, +epoch, +endpoint")
                users = await db.execute_fetchall(
                    f"SELECT {_USER_COLS} FROM users{where['users']} ORDER BY +key")
            return make_snapshot(
                map(_room, rooms),
                itertools.starmap(Member, members),
                itertools.starmap(SealedKey, keys),
                itertools.starmap(User, users),
                (InvalidRecord(table, str(key), reason) for table, key, reason in bad),
            )

    async def change_marker(self) -> object:
        rows = await self._fetch("PRAGMA data_version")  # moves on other connections' commits
        return (rows[0][0], self._writes)
