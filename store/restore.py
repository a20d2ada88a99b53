"""The rollback path: a Snapshot (usually of the KV state) -> a new schema-v1 SQLite file.

The database is built under a temporary name next to the target with the schema of
store.sqlite (build_database) and bulk inserts in one transaction, then linked into
place: an existing file is never overwritten and a crash leaves no half-written
database under the requested name.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidInput
from .layout import TABLES
from .models import Snapshot
from .sqlite_file import build_database, insert_sql


@dataclass(frozen=True, slots=True)
class RestoreInfo:
    path: str
    size: int
    counts: dict[str, int]


def write_database(snap: Snapshot, path: str | os.PathLike[str]) -> RestoreInfo:
    """Write the snapshot to a new database at path.

    Raises: InvalidInput (the path exists, its directory does not, or the snapshot has
    invalid records), StoreError (the database could not be written).
    """
    target = Path(path)
    if target.exists():
        raise InvalidInput(f"{target} exists already: name a new file")
    if not target.parent.is_dir():
        raise InvalidInput(f"no such directory: {target.parent}")
    if snap.invalid:
        raise InvalidInput(f"the snapshot has {len(snap.invalid)} invalid record(s)")

    def fill(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN")
        for bucket in TABLES:
            conn.executemany(insert_sql(bucket), map(bucket.values, bucket.records(snap)))
        # members or keys of a room that is not there: the KV state is not a valid database
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            conn.execute("ROLLBACK")
            raise InvalidInput(f"the snapshot breaks {len(broken)} foreign key(s) "
                               f"(first: a {broken[0][0]} row refers to a missing {broken[0][2]})")
        conn.execute("COMMIT")

    # build_database writes under a temporary name and links it into place (never overwrites)
    build_database(str(target), fill)
    size = target.stat().st_size
    counts = {b.table: len(b.records(snap)) for b in TABLES if b.table}
    return RestoreInfo(str(target), size, counts)
