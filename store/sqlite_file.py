"""The SQLite file itself: schema version 1 of SPEC section 3, a new database made with it,
and a foreign file told apart by its header without opening it with SQLite.

The tool never creates a database by accident (opening a missing path is an error), and
never overwrites or touches a file that is not its own: a new database is built under a
temporary name and linked into place, and a file that is not SQLite, or has another
schema version, is refused before SQLite could leave a -wal or -shm beside it.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import tempfile
import urllib.request
from collections.abc import Callable

from .errors import InvalidInput
from .layout import Bucket

SCHEMA_VERSION = 1

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

_MAGIC = b"SQLite format 3\x00"


def insert_sql(bucket: Bucket, replace: bool = False) -> str:
    """The INSERT of one row of the bucket's table, its fields in column order."""
    names = bucket.field_names
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    return f"{verb} INTO {bucket.table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


def create_database(path: str) -> None:
    """Create an empty schema-v1 database at path (WAL). Refuses an existing file.

    Written under a temporary name next to path and linked into place, so a failure
    leaves nothing behind and a file that appeared meanwhile is never overwritten.
    Raises: InvalidInput.
    """
    build_database(path, lambda con: None)


def build_database(path: str, fill: Callable[[sqlite3.Connection], None]) -> None:
    """Create a schema-v1 database, let fill(sqlite3.Connection) write into it, then put it
    at path; used by create_database, the restore and the seeder. Raises: InvalidInput."""
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


def check_header(path: str) -> None:
    """Reject a non-SQLite file or another schema version without opening it with SQLite,
    so a foreign file gets no -wal/-shm beside it and stays byte-identical."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise InvalidInput(f"cannot read {path}: {e.strerror or e}") from None
    if not stat.S_ISREG(mode):
        # a FIFO would block the read below forever; a device is never a database
        what = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
        raise InvalidInput(f"not a SQLite database ({what}): {path}")
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
    # (a committed change may still be in the -wal file); SqliteStore.open reads it again.
    version = int.from_bytes(header[60:64], "big")
    if version != SCHEMA_VERSION and not os.path.exists(path + "-wal"):
        raise InvalidInput(f"unsupported schema version {version} in {path}: expected {SCHEMA_VERSION}")


def file_uri(path: str) -> str:
    # rw: never create the file. Also for a read-only store (which refuses every change
    # itself): a mode=ro connection to a WAL database leaves the -wal and -shm files it
    # needs beside it, where a read-write one, the last to close, removes them as any
    # SQLite client does. SQLite opens a file it may not write read-only.
    return f"file:{urllib.request.pathname2url(os.path.abspath(path))}?mode=rw"
