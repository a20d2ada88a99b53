"""Backups are as secret as the database (SPEC 5.10): 0600 (or the source's stricter mode),
never written through a symlink, a bounded search for a free name (finding 6 of issue 21)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from store.backup import backup_database
from store.errors import StoreError
from tests.helpers import ROOT, demo_file


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "x.sqlite"
    demo_file(path)
    return path


#: the names tried at most (store.backup.MAX_NAMES), written out: this file also runs on the old code
MAX_NAMES = 100


def backup_names(db: Path, now: int = 0) -> list[Path]:
    """The candidate names at time `now` (0: 1970-01-01T00:00:00Z), in the order tried."""
    base = f"{db.stem}.backup-19700101T000000Z"
    return [db.with_name(f"{base}.sqlite")] + [db.with_name(f"{base}-{n}.sqlite") for n in range(1, MAX_NAMES)]


def apart(db: Path) -> str:
    """backup_database(db, now=0) in a process of its own, so a spin fails the test (after
    30 s) instead of hanging the suite: "ok" or the error's type and text."""
    code = ("import sys; from store.backup import backup_database\n"
            "try:\n    backup_database(sys.argv[1], now=0); print('ok')\n"
            "except Exception as e:\n    print(type(e).__name__, e)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True,
                          timeout=30, cwd=ROOT)
    return proc.stdout.strip() or proc.stderr


def mode(path: str | Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.parametrize("source, expected", [(0o644, 0o600), (0o600, 0o600), (0o400, 0o400)])
def test_the_backup_is_no_more_readable_than_0600_or_the_source(db, source, expected):
    os.chmod(db, source)
    old = os.umask(0o022)  # the usual umask: a file made plainly would be 0644
    try:
        info = backup_database(db, now=0)
    finally:
        os.umask(old)
    assert mode(info.path) == expected
    assert info.verified and not [f for f in os.listdir(db.parent) if f.endswith(".tmp")]


def test_a_symlink_at_a_backup_name_is_never_followed(db, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    first, second = backup_names(db, now=0)[:2]
    first.symlink_to(victim)
    second.symlink_to(tmp_path / "nowhere")  # dangling
    assert apart(db) == "ok"  # (the old name search spun here for ever)
    info = backup_database(db, now=0)
    assert Path(info.path).name == "x.backup-19700101T000000Z-3.sqlite"  # -2 was the one made apart
    assert victim.read_text() == "keep me" and first.is_symlink() and second.is_symlink()
    assert not Path(info.path).is_symlink() and mode(info.path) == 0o600


def test_no_free_name_is_a_clear_error_not_a_spin(db, tmp_path):
    """Dangling symlinks at every candidate name: the old name search (exists() follows
    them) spun for ever. Run apart, so a spin fails the test instead of hanging the suite."""
    for name in backup_names(db, now=0):
        name.symlink_to(tmp_path / "nowhere")
    result = apart(db)
    assert result.startswith("StoreError no free backup name"), result
    assert f"after {MAX_NAMES} tries" in result
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    with pytest.raises(StoreError):
        backup_database(db, now=0)
