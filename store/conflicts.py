"""Re-runs after cut-over (SPEC 5.7): the KV records a migration would overwrite although
someone else changed them since the last migration into that target.

Every write of a migration carries its mark (store.kv.scan.MIGRATION_HEADER), so a record
whose newest revision lacks it was written by the daemon, an admin, or a tool before this
one: for such a record KV is the newer side. It is a conflict when the migration would
change it: its value differs from SQLite's, it was deleted in KV and SQLite has it, or
(with prune) SQLite lacks it. A record a migration wrote last is SQLite's own copy, and a
re-run brings it up to date as before. Pure functions; store.migrate applies them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .audit import AuditEvent, AuditPhase
from .kv.scan import Foreign
from .layout import BY_NAME, WRITE_ORDER
from .models import Snapshot
from .text import printable


@dataclass(frozen=True, slots=True)
class KvConflict:
    """One record changed in KV since the last migration, that the migration would change."""

    bucket: str
    key: str
    #: the bytes SQLite would write; None: SQLite does not have it (a prune would delete it)
    sqlite: bytes | None
    #: the bytes KV holds; None: deleted in KV
    kv: bytes | None
    #: the stream sequence and time (Unix seconds) of the KV revision
    seq: int
    at: int
    #: who changed it, when the audit trail knows ("" when it does not)
    by: str = ""

    @property
    def target(self) -> str:
        """The audit target of its overwrite: a user's key, else bucket/key."""
        return self.key if self.bucket == "users" else f"{self.bucket}/{self.key}"

    def to_json(self) -> dict[str, Any]:
        return {"entity": BY_NAME[self.bucket].entity, "bucket": self.bucket, "key": self.key,
                "sqlite": _value(self.sqlite), "kv": _value(self.kv), "kv_revision": self.seq,
                "changed_at": self.at, "changed_by": self.by or None}

    def line(self) -> str:
        """One line for a terminal: identity, both values, and who changed it when."""
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at))
        who = f" by {self.by}" if self.by else " (not by this tool, or the trail does not say)"
        return printable(f"{BY_NAME[self.bucket].entity} {self.key}: SQLite {_text(self.sqlite)}; "
                         f"KV {_text(self.kv, deleted=True)}; changed in KV {when}{who}")


def _value(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")


def _text(data: bytes | None, deleted: bool = False) -> str:
    if data is None:
        return "(deleted)" if deleted else "(absent)"
    return data.decode("utf-8", "replace")


def find_conflicts(snap: Snapshot, existing: Mapping[str, Mapping[str, bytes]],
                   foreign: Mapping[str, Mapping[str, Foreign]], prune: bool) -> list[KvConflict]:
    """The conflicts of writing snap over a target holding `existing` (bucket -> key -> bytes),
    of which `foreign` (bucket -> key -> its newest revision) no migration wrote."""
    out: list[KvConflict] = []
    for b in WRITE_ORDER:
        changed = foreign.get(b) or {}
        if not changed:
            continue
        have = existing.get(b) or {}
        seen: set[str] = set()
        for key, value in BY_NAME[b].rows(snap):
            mark = changed.get(key)
            if mark is None:
                continue
            seen.add(key)
            held = None if mark.deleted else have.get(key)
            if held != value:
                out.append(KvConflict(b, key, value, held, mark.seq, mark.at))
        if prune:
            out += [KvConflict(b, key, None, have[key], mark.seq, mark.at)
                    for key, mark in sorted(changed.items()) if key not in seen and not mark.deleted]
    return out


def explain(conflicts: Sequence[KvConflict], events: Iterable[AuditEvent]) -> list[KvConflict]:
    """The conflicts with who changed each (the newest audit event naming its target)."""
    last: dict[str, AuditEvent] = {}
    for e in events:
        if e.phase != AuditPhase.INTENT:
            last[e.target] = e  # events come oldest first
    out = []
    for c in conflicts:
        found = last.get(c.target)
        if found is None:
            out.append(c)
            continue
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(found.at))
        why = f": {found.reason}" if found.reason else ""
        out.append(replace(c, by=f"{found.actor.user}@{found.actor.host} via {found.actor.via} "
                                 f"({found.action} {when}{why})"))
    return out


def audit_values(c: KvConflict) -> tuple[Any, Any]:
    """The before and after of the overwrite's audit event."""
    return _value(c.kv), _value(c.sqlite)
