"""The audit trail (SPEC section 10): who changed what, when and why, on both backends.

An event is compact JSON with the fields of the SPEC in its order. One change has one id;
its phases (intent, then done or failed on KV; done alone on SQLite, written in the
change's own transaction) share it. A Note is the change being made: the store asks it
for each phase's event, so the actor, the id, the clock and the reason are given once.

What each backend keeps: SQLite a table admin_audit in the daemon's file (store.sqlite_audit),
KV an append-only stream <prefix>membership_audit (store.kv.audit).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .errors import BadRecord, InvalidInput
from .layout import USERS
from .models import User

#: the longest reason an operator may give (SPEC section 10)
MAX_REASON = 200


class Action(StrEnum):
    ADD_USER = "add_user"
    REVOKE_USER = "revoke_user"
    REINSTATE_USER = "reinstate_user"
    MIGRATE = "migrate"
    EXPORT_TO_SQLITE = "export_to_sqlite"
    #: a migration run with --overwrite-kv-changes replaced a record changed in KV (SPEC 5.7)
    OVERWRITE_KV = "overwrite_kv"


class AuditPhase(StrEnum):
    INTENT = "intent"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Actor:
    """Who acts: the OS login, the host, and the backend label (never a secret: labels
    show user info as user:***)."""

    user: str
    host: str
    via: str

    @classmethod
    def local(cls, via: str) -> Actor:
        try:
            login = getpass.getuser()
        except (OSError, KeyError):  # no login name (a container without a passwd entry)
            login = f"uid:{os.getuid()}"
        return cls(login, socket.gethostname(), via)


@dataclass(frozen=True)
class AuditEvent:
    id: str
    at: int
    phase: AuditPhase
    actor: Actor
    action: Action
    target: str
    reason: str | None = None
    before: Any = None
    after: Any = None
    result: str = "ok"
    #: the id of the reviewed plan (SPEC section 11) this change applies; None: no plan
    plan: str | None = None

    def to_obj(self) -> dict[str, Any]:
        obj = {"id": self.id, "at": self.at, "phase": str(self.phase),
               "actor": {"user": self.actor.user, "host": self.actor.host, "via": self.actor.via},
               "action": str(self.action), "target": self.target, "reason": self.reason,
               "before": self.before, "after": self.after, "result": self.result}
        if self.plan is not None:  # only then: events without a plan keep the SPEC's fields alone
            obj["plan"] = self.plan
        return obj

    def to_json(self) -> str:
        return json.dumps(self.to_obj(), separators=(",", ":"), ensure_ascii=False)

    @property
    def key(self) -> tuple[str, str]:
        """(id, phase): what makes an event unique (the SQLite primary key, the Nats-Msg-Id)."""
        return (self.id, str(self.phase))

    @property
    def msg_id(self) -> str:
        return f"{self.id}-{self.phase}"

    @classmethod
    def from_json(cls, data: bytes | str) -> AuditEvent:
        """Raises BadRecord for anything but an event of this shape."""
        try:
            o = json.loads(data)
            actor = o["actor"]
            event = cls(id=_text(o["id"]), at=_int(o["at"]), phase=AuditPhase(o["phase"]),
                        actor=Actor(_text(actor["user"]), _text(actor["host"]), _text(actor["via"])),
                        action=Action(o["action"]), target=_text(o["target"]),
                        reason=None if o.get("reason") is None else _text(o["reason"]),
                        before=o.get("before"), after=o.get("after"), result=_text(o.get("result", "ok")),
                        plan=None if o.get("plan") is None else _text(o["plan"]))
        except (ValueError, KeyError, TypeError) as e:
            raise BadRecord(f"audit event does not decode: {e}") from None
        return event


def _text(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"expected text, got {type(v).__name__}")
    return v


def _int(v: Any) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"expected an integer, got {type(v).__name__}")
    return v


def check_reason(reason: str | None) -> str | None:
    """The operator's reason, stripped (None when empty). Raises InvalidInput past MAX_REASON."""
    if reason is None or not reason.strip():
        return None
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"reason too long: {len(reason)} characters, at most {MAX_REASON}")
    return reason


def record(user: User | None) -> dict[str, Any] | None:
    """A user as export JSON gives it (the before and after of an event)."""
    return None if user is None else json.loads(USERS.encode(user))


@dataclass
class Note:
    """One change being made: its id, actor, action, target and reason; event() makes each
    phase's event at the clock's time."""

    actor: Actor
    action: Action
    target: str
    reason: str | None
    clock: Callable[[], int]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: the plan this change applies (its events carry its id), if any
    plan: str | None = None

    def event(self, phase: AuditPhase, before: Any = None, after: Any = None, result: str = "ok") -> AuditEvent:
        return AuditEvent(self.id, self.clock(), phase, self.actor, self.action, self.target,
                          self.reason, before, after, result, self.plan)


@dataclass(frozen=True)
class AuditQuery:
    """Which events to show: since (Unix seconds), action, target (a user key; a migration's
    target holds its source and target)."""

    since: int | None = None
    action: Action | None = None
    target: str | None = None

    def matches(self, e: AuditEvent) -> bool:
        return ((self.since is None or e.at >= self.since)
                and (self.action is None or e.action == self.action)
                and (self.target is None or e.target == self.target))


_DURATION = re.compile(r"(\d+)([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: int) -> int:
    """'24h', '90m', '7d', '1h30m' -> now minus that; a plain number is Unix seconds."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise InvalidInput(f"invalid --since {text!r}: expected e.g. 24h, 90m, 7d or Unix seconds")
    return now - sum(int(n) * _UNIT[u] for n, u in parts)


def newest_last(events: Iterable[AuditEvent]) -> list[AuditEvent]:
    """Events in time order (a stable sort: the order of writing within a second)."""
    return sorted(events, key=lambda e: e.at)
