"""Consistent SQLite backups with VACUUM INTO (SPEC section 5.1), verified by reopening.

SQLite-only storage code, so stdlib sqlite3 is used directly. The copy is written to
a temporary name and linked into place, so a crash never leaves a half-written
backup under the final name, and an existing file is never overwritten.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import layout
from .errors import InvalidInput, StoreError

TABLES = layout.TABLE_NAMES
# a daemon writing all the time may move the counts under us: retry the copy a few times
_ATTEMPTS = 5
_BUSY_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class BackupInfo:
    path: str
    size: int
    #: integrity_check ok and row counts equal to the source's at the moment of the copy
    verified: bool
    counts: dict[str, int] = field(default_factory=dict)
    note: str = ""

    def to_json(self) -> dict:
        return {"path": self.path, "size": self.size, "verified": self.verified,
                "counts": dict(self.counts), "note": self.note}


def backup_name(db_path: str | os.PathLike[str], now: float | None = None) -> Path:
    """A free name next to the database: <stem>.backup-<UTC timestamp>[-n].sqlite."""
    p = Path(db_path)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    base = f"{p.stem}.backup-{stamp}"
    candidate = p.with_name(f"{base}.sqlite")
    n = 1
    while candidate.exists():
        candidate = p.with_name(f"{base}-{n}.sqlite")
        n += 1
    return candidate


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def _verify(path: Path) -> tuple[str, dict[str, int]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != 1:
            return f"user_version is {version}", {}
        return check, _counts(conn)
    finally:
        conn.close()


def _place(tmp: Path, db_path: str, now: float | None) -> Path:
    # os.link fails if the name exists: never overwrite, pick the next free name
    while True:
        final = backup_name(db_path, now)
        try:
            os.link(tmp, final)
        except FileExistsError:
            continue
        tmp.unlink()
        return final


def backup_database(db_path: str | os.PathLike[str], now: float | None = None) -> BackupInfo:
    """Copy the database next to itself with VACUUM INTO and verify the copy.

    Raises: InvalidInput (missing or unreadable source), StoreError (the copy failed
    its integrity check, or could not be written).
    """
    src_path = str(db_path)
    if not os.path.isfile(src_path):
        raise InvalidInput(f"no such database: {src_path}")
    tmp = Path(src_path).with_name(f".{Path(src_path).name}.backup-{os.getpid()}.tmp")
    try:
        conn = sqlite3.connect(src_path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as e:
        raise InvalidInput(f"cannot open {src_path}: {e}") from None
    try:
        note = ""
        for _ in range(_ATTEMPTS):
            tmp.unlink(missing_ok=True)
            try:
                # data_version changes when another connection commits: if it did not
                # move across counting and copying, the copy holds exactly these counts
                before = conn.execute("PRAGMA data_version").fetchone()[0]
                expected = _counts(conn)
                conn.execute("VACUUM INTO ?", (str(tmp),))
                after = conn.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error as e:
                raise StoreError(f"backup of {src_path} failed: {e}") from None
            check, got = _verify(tmp)
            if check != "ok":
                tmp.unlink(missing_ok=True)
                raise StoreError(f"backup of {src_path} failed its integrity check: {check}")
            if before == after:
                verified = got == expected
                note = "" if verified else f"row counts differ: source {expected}, backup {got}"
                break
            note = "the database changed during every copy: counts not compared"
        else:
            verified = False
        final = _place(tmp, src_path, now)
        return BackupInfo(str(final), final.stat().st_size, verified, got, note)
    except OSError as e:
        raise StoreError(f"cannot write the backup next to {src_path}: {e.strerror or e}") from None
    finally:
        conn.close()
        tmp.unlink(missing_ok=True)
