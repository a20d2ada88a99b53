"""Consistent SQLite backups with VACUUM INTO (SPEC section 5.1), verified by reopening.

SQLite-only storage code, so stdlib sqlite3 is used directly. The copy is written to
a temporary name and linked into place, so a crash never leaves a half-written
backup under the final name, and an existing file is never overwritten.

The backup holds every sealed key, so it is as secret as the database (SPEC 5.10): its
temporary file is made new (never through a symlink) with mode 0600, or the source's mode
where that is stricter, before VACUUM INTO fills it; a name that exists in any form, a
dangling symlink included, is never used; the name search gives up after MAX_NAMES tries.
Stopped (make_backup cancelled: Ctrl-C, SIGTERM), the copy is interrupted and its
temporary file removed before the cancellation goes on.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import layout
from .errors import InvalidInput, StoreError

TABLES = layout.TABLE_NAMES
# a daemon writing all the time may move the counts under us: retry the copy a few times
_ATTEMPTS = 5
_BUSY_TIMEOUT_S = 5.0
#: names tried for the backup before giving up (one a second at most is needed; more
#: means something else owns those names)
MAX_NAMES = 100


class Stopped(Exception):
    """The backup was asked to stop (its caller was cancelled)."""


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


def backup_names(db_path: str | os.PathLike[str], now: float | None = None) -> list[Path]:
    """The names a backup may take, in order: <stem>.backup-<UTC timestamp>[-n].sqlite."""
    p = Path(db_path)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    base = f"{p.stem}.backup-{stamp}"
    return [p.with_name(f"{base}.sqlite")] + [p.with_name(f"{base}-{n}.sqlite") for n in range(1, MAX_NAMES)]


def backup_name(db_path: str | os.PathLike[str], now: float | None = None) -> Path:
    """The first free name next to the database (a dangling symlink is not free). Raises
    StoreError when none of MAX_NAMES is."""
    for candidate in backup_names(db_path, now):
        if not os.path.lexists(candidate):
            return candidate
    raise _no_name(db_path)


def _no_name(db_path: str | os.PathLike[str]) -> StoreError:
    return StoreError(f"no free backup name next to {db_path} after {MAX_NAMES} tries "
                      "(remove old backups, or name files differently)")


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
    # os.link fails if the name exists in any form (a dangling symlink too) and never
    # follows one: never overwrite, take the next name, a bounded number of times
    for final in backup_names(db_path, now):
        try:
            os.link(tmp, final)
        except FileExistsError:
            continue
        tmp.unlink()
        return final
    raise _no_name(db_path)


def _new_temp(src: Path) -> Path:
    """A new empty file next to the source, made exclusively (never through a symlink),
    mode 0600 or the source's if stricter: VACUUM INTO fills an empty file as it is."""
    fd, name = tempfile.mkstemp(prefix=f".{src.name}.backup-", suffix=".tmp", dir=src.parent)
    try:
        os.fchmod(fd, stat.S_IMODE(os.stat(src).st_mode) & 0o600)
    finally:
        os.close(fd)
    return Path(name)


async def make_backup(db_path: str | os.PathLike[str], now: float | None = None) -> BackupInfo:
    """backup_database in a thread. Cancelled, it stops the copy and waits until the
    temporary file is gone (and no backup was placed), then goes on being cancelled."""
    stop = threading.Event()
    work = asyncio.ensure_future(asyncio.to_thread(backup_database, db_path, now, stop))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        stop.set()
        try:
            await asyncio.wait({work})
        finally:
            if work.done() and not work.cancelled() and work.exception() is None:
                Path(work.result().path).unlink(missing_ok=True)  # placed as the stop came
        raise


def backup_database(db_path: str | os.PathLike[str], now: float | None = None,
                    stop: threading.Event | None = None) -> BackupInfo:
    """Copy the database next to itself with VACUUM INTO and verify the copy. stop, when
    set, interrupts the copy (Stopped) and leaves no file behind.

    Raises: InvalidInput (missing or unreadable source), StoreError (the copy failed
    its integrity check, could not be written, or no free name was found), Stopped.
    """
    src_path = str(db_path)
    if not os.path.isfile(src_path):
        raise InvalidInput(f"no such database: {src_path}")
    tmp: Path | None = None
    try:
        conn = sqlite3.connect(src_path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as e:
        raise InvalidInput(f"cannot open {src_path}: {e}") from None
    if stop is not None:
        # asked every 1000 virtual-machine steps: a long VACUUM INTO ends soon after a stop
        conn.set_progress_handler(lambda: 1 if stop.is_set() else 0, 1000)
    try:
        note = ""
        for _ in range(_ATTEMPTS):
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            tmp = _new_temp(Path(src_path))
            try:
                # data_version changes when another connection commits: if it did not
                # move across counting and copying, the copy holds exactly these counts
                before = conn.execute("PRAGMA data_version").fetchone()[0]
                expected = _counts(conn)
                conn.execute("VACUUM INTO ?", (str(tmp),))
                after = conn.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error as e:
                if stop is not None and stop.is_set():
                    raise Stopped() from None
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
        if stop is not None and stop.is_set():
            raise Stopped()
        assert tmp is not None
        final = _place(tmp, src_path, now)
        return BackupInfo(str(final), final.stat().st_size, verified, got, note)
    except OSError as e:
        raise StoreError(f"cannot write the backup next to {src_path}: {e.strerror or e}") from None
    finally:
        conn.close()
        if tmp is not None:
            tmp.unlink(missing_ok=True)
