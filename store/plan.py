"""A reviewed change (SPEC section 11): a plan to revoke or reinstate users, bound to the
revision each user had when it was made, saved as a file and applied later (store.plan_apply).

make_plan reads and changes nothing. A plan names its backend twice: by label (for a person,
no secrets) and by identity (Store.backend_identity: what apply compares). Each user is kept
with its name, status, revision (KV: the entry's revision; SQLite: row_fingerprint) and
whether the plan changes it; keys that are unknown or not valid are kept apart, with why.
The file is compact JSON, created new (never over another file), readable by its owner only.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from . import ids
from .audit import Actor, _int, _text, check_reason
from .errors import BadRecord, Conflict, InvalidInput, NotFound
from .models import Status, User
from .text import iso_time, printable

FORMAT = "membership-admin-plan/1"
#: a plan counts the rooms at risk of at most this many users (a room read each on KV)
MAX_ROOM_USERS = 500
#: users shown by name in a summary; the rest are counted (the file has them all)
MAX_SHOWN = 1000


class PlanAction(StrEnum):
    REVOKE = "revoke"
    REINSTATE = "reinstate"

    @property
    def target(self) -> Status:
        return Status.REVOKED if self is PlanAction.REVOKE else Status.ACTIVE

    @property
    def done(self) -> str:
        return "revoked" if self is PlanAction.REVOKE else "reinstated"

    @property
    def already(self) -> str:
        return "already revoked" if self is PlanAction.REVOKE else "already active"


def row_fingerprint(user: User) -> str:
    """A SQLite row's revision: a digest of every column, so any change to the row (by the
    daemon, another admin) changes it."""
    row = [user.key, user.name, str(user.role), str(user.status), user.added_at, user.revoked_at]
    return "sha256:" + hashlib.sha256(json.dumps(row, ensure_ascii=False).encode()).hexdigest()[:16]


def changed_since(key: str) -> Conflict:
    return Conflict(f"user {key} changed since the plan (revision differs): left alone")


@dataclass(frozen=True)
class PlannedUser:
    key: str
    name: str
    status: Status
    revision: str
    #: the plan changes this user (False: it is already where the plan takes it)
    change: bool
    #: encrypted rooms where it holds a current-epoch key (None: not counted)
    rooms: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Plan:
    id: str
    action: PlanAction
    backend: str
    identity: str
    made_at: int
    made_by: Actor
    reason: str | None
    users: tuple[PlannedUser, ...]
    #: (key, why) of the keys the plan leaves out: not on the allowlist, not valid
    rejected: tuple[tuple[str, str], ...] = field(default=())

    @property
    def to_change(self) -> list[PlannedUser]:
        return [u for u in self.users if u.change]

    @property
    def unchanged(self) -> list[PlannedUser]:
        return [u for u in self.users if not u.change]

    def rooms_at_risk(self) -> tuple[dict[str, int], int]:
        """room -> how many of the users to change hold its current key; and how many users
        were counted."""
        counts: dict[str, int] = {}
        counted = 0
        for u in self.to_change:
            if u.rooms is None:
                continue
            counted += 1
            for room in u.rooms:
                counts[room] = counts.get(room, 0) + 1
        return counts, counted

    # -- the file ----------------------------------------------------------------
    def to_obj(self) -> dict[str, Any]:
        return {"format": FORMAT, "id": self.id, "action": str(self.action), "backend": self.backend,
                "identity": self.identity, "made_at": self.made_at,
                "made_by": {"user": self.made_by.user, "host": self.made_by.host, "via": self.made_by.via},
                "reason": self.reason,
                "users": [{"key": u.key, "name": u.name, "status": str(u.status), "revision": u.revision,
                           "change": str(self.action) if u.change else "none",
                           "rooms": None if u.rooms is None else list(u.rooms)} for u in self.users],
                "rejected": [{"key": k, "why": why} for k, why in self.rejected]}

    def to_json(self) -> str:
        return json.dumps(self.to_obj(), ensure_ascii=False, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """Raises InvalidInput for anything but a plan of this format."""
        try:
            o = json.loads(text)
            if o.get("format") != FORMAT:
                raise ValueError(f"format {o.get('format')!r}, expected {FORMAT!r}")
            action = PlanAction(o["action"])
            by = o["made_by"]
            users = tuple(PlannedUser(ids.key(u["key"]), _text(u["name"]), Status(u["status"]),
                                      _text(u["revision"]), u["change"] == str(action),
                                      None if u.get("rooms") is None else tuple(map(_text, u["rooms"])))
                          for u in o["users"])
            if any(u["change"] not in (str(action), "none") for u in o["users"]):
                raise ValueError("a user's change is neither the plan's action nor none")
            plan = cls(_text(o["id"]), action, _text(o["backend"]), _text(o["identity"]), _int(o["made_at"]),
                       Actor(_text(by["user"]), _text(by["host"]), _text(by["via"])),
                       check_reason(o.get("reason")), users,
                       tuple((_text(r["key"]), _text(r["why"])) for r in o.get("rejected", [])))
        except (ValueError, KeyError, TypeError, AttributeError, InvalidInput) as e:
            raise InvalidInput(f"not a plan file: {e}") from None
        return plan

    def save(self, path: str) -> None:
        """Write the plan to a new file (mode 0600). Raises InvalidInput when path exists or
        cannot be written."""
        data = self.to_json().encode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            raise InvalidInput(f"{path} exists already: name a new file for the plan") from None
        except OSError as e:
            raise InvalidInput(f"cannot write the plan to {path}: {e.strerror or e}") from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except OSError as e:
            os.unlink(path)  # never a half-written plan
            raise InvalidInput(f"cannot write the plan to {path}: {e.strerror or e}") from None

    @classmethod
    def load(cls, path: str) -> Plan:
        """Raises InvalidInput: missing, not a regular file, not a plan."""
        try:
            if path != "-" and not os.path.isfile(path):
                raise InvalidInput(f"no such plan file (or not a regular file): {path}")
            with open(path, encoding="utf-8") as f:
                return cls.from_json(f.read())
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidInput(f"cannot read the plan {path}: {getattr(e, 'strerror', None) or e}") from None


async def make_plan(store: Any, action: PlanAction, keys: Iterable[str], reason: str | None,
                    now: int, *, plan_id: str | None = None) -> Plan:
    """Read each user's state and revision, and the rooms where those to change hold a
    current-epoch key; change nothing. Each key once (case-insensitive), in the order given.
    Raises: what the store raises for the backend as a whole (Unavailable)."""
    planned: list[PlannedUser] = []
    rejected: list[tuple[str, str]] = []
    seen: set[str] = set()
    counted = 0
    for raw in keys:
        try:
            key = ids.key(raw)
        except InvalidInput as e:
            rejected.append((raw, str(e)))
            continue
        if key in seen:
            continue
        seen.add(key)
        try:
            user, revision = await store.user_revision(key)
        except NotFound:
            rejected.append((key, "not on the allowlist"))
            continue
        except BadRecord as e:
            rejected.append((key, str(e)))
            continue
        change = user.status != action.target
        rooms = None
        if change and counted < MAX_ROOM_USERS:
            counted += 1
            rooms = tuple(r.room.id for r in await store.member_rooms(key) if r.room.encrypted and r.key is not None)
        planned.append(PlannedUser(user.key, user.name, user.status, revision, change, rooms))
    backend = store.label.removesuffix(" (read-only)")  # a plan is made read-only, applied not
    actor = store.actor or Actor.local(backend)
    return Plan(plan_id or uuid.uuid4().hex, action, backend, await store.backend_identity(), now, actor,
                check_reason(reason), tuple(planned), tuple(rejected))


def summary(plan: Plan, *, rooms_named: int = 20, header: bool = True) -> list[str]:
    """What a person reads before a plan is applied: who changes (name and key), how many,
    who is already so, the keys left out, and the rooms at risk. Stored text made printable.
    header: first the plan's id, backend, time, maker and reason (the TUI's dialog, made
    and applied at once, leaves them out)."""
    change, same = plan.to_change, plan.unchanged
    lines = [f"plan {plan.id[:12]}: {plan.action} on {plan.backend}",
             f"made {iso_time(plan.made_at, seconds=True)} by {plan.made_by.user}@{plan.made_by.host}"
             + (f", reason: {plan.reason}" if plan.reason else "")] if header else []
    lines += [f"{len(change):,} to {plan.action}, {len(same):,} {plan.action.already}"
             + (f", {len(plan.rejected):,} left out" if plan.rejected else "")]
    if change:
        lines.append(f"will be {plan.action.done}:")
        lines += _users(change)
    if same:
        lines.append(f"{plan.action.already} (left alone):")
        lines += _users(same)
    if plan.rejected:
        lines.append("left out (not on the allowlist or not valid):")
        lines += [f"  {k}: {why}" for k, why in plan.rejected[:MAX_SHOWN]]
    rooms, counted = plan.rooms_at_risk()
    if change:
        if rooms:
            ranked = sorted(rooms.items(), key=lambda kv: (-kv[1], kv[0]))
            shown = ", ".join(f"{room} ({n})" for room, n in ranked[:rooms_named])
            more = f", … {len(ranked) - rooms_named:,} more" if len(ranked) > rooms_named else ""
            lines.append(f"they hold current-epoch keys in {len(ranked):,} room(s): {shown}{more}")
        else:
            lines.append("they hold no current-epoch key in any room")
        if counted < len(change):
            lines.append(f"(rooms counted for the first {counted:,} users)")
    return [printable(line) for line in lines]


def _users(users: list[PlannedUser]) -> list[str]:
    width = min(max(len(u.key) for u in users), 40)
    lines = [f"  {u.key.ljust(width)}  {u.name or '-'}  ({u.status})" for u in users[:MAX_SHOWN]]
    if len(users) > MAX_SHOWN:
        lines.append(f"  … {len(users) - MAX_SHOWN:,} more (all are in the plan file)")
    return lines
