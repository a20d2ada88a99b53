"""The audit trail in the daemon's SQLite file (SPEC section 10): a table admin_audit beside
the four tables of section 3, created by the first change the tool makes (in that change's
transaction), never by a read; user_version and the daemon's tables are left alone.

A change and its `done` event are written in one transaction, so they commit together or
not at all: no intent row is needed.
"""

from __future__ import annotations

from collections.abc import Iterable

import aiosqlite

from .audit import AuditEvent
from .errors import BadRecord
from .models import InvalidRecord

TABLE = "admin_audit"
CREATE = (f"CREATE TABLE IF NOT EXISTS {TABLE} (id TEXT NOT NULL, phase TEXT NOT NULL, "
          "at INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (id, phase))")


async def write(db: aiosqlite.Connection, events: Iterable[AuditEvent]) -> int:
    """Insert the events (inside the caller's write transaction), creating the table the
    first time; an event already there (same id and phase) is left as it is. Returns how
    many were new."""
    await db.execute(CREATE)
    before = db.total_changes
    await db.executemany(f"INSERT OR IGNORE INTO {TABLE} (id, phase, at, event) VALUES (?, ?, ?, ?)",
                         [(e.id, str(e.phase), e.at, e.to_json()) for e in events])
    return db.total_changes - before


async def exists(db: aiosqlite.Connection) -> bool:
    rows = await db.execute_fetchall("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,))
    return bool(rows)


async def read_after(db: aiosqlite.Connection, cursor: int,
                     invalid: list[InvalidRecord] | None = None) -> tuple[list[AuditEvent], int]:
    """The events written after cursor (a rowid; 0: all) in the order written, and the new
    cursor. A file without the table has none. Rows that do not decode go to invalid."""
    if not await exists(db):
        return [], cursor
    events: list[AuditEvent] = []
    rows = await db.execute_fetchall(
        f"SELECT rowid, id, phase, CAST(event AS BLOB) FROM {TABLE} WHERE rowid > ? ORDER BY rowid", (cursor,))
    for rowid, ident, phase, raw in rows:
        cursor = rowid
        try:
            events.append(AuditEvent.from_json(bytes(raw)))
        except BadRecord as e:
            if invalid is not None:
                invalid.append(InvalidRecord(TABLE, f"{ident}-{phase}", str(e)))
    return events, cursor
