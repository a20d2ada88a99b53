"""What a screen asks of the app: small dataclass messages that bubble up to it.

Screens never push other screens nor touch the store's writes themselves: they post one of
these and the app, which makes every screen, answers (attributes down, messages up).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from store import NatsSpec
from store.audit import AuditEvent
from store.models import Revision

from .services import UserChange


@dataclass
class OpenRoom(Message):
    """Show a room's detail (enter on a room)."""

    room_id: str


@dataclass
class OpenUser(Message):
    """Show a user's rooms (enter on a user or a member)."""

    key: str


@dataclass
class OpenHistory(Message):
    """Show a user's history: its record's revisions and the audit events naming it (h)."""

    key: str


@dataclass
class OpenDetail(Message):
    """Show one whole audit event or stored revision (enter on a history row)."""

    entry: AuditEvent | Revision


@dataclass
class ChangeUser(Message):
    """Revoke or reinstate a user, after a confirmation."""

    change: UserChange
    key: str


@dataclass
class ChangeUsers(Message):
    """Revoke or reinstate the marked users, after one confirmation."""

    change: UserChange
    keys: list[str]


@dataclass
class AddUser(Message):
    """Add a user with the form."""


@dataclass
class QuorumChecked(Message):
    """A fresh health report of the KV backend the app has open: whether its quorum is lost."""

    lost: bool


@dataclass
class OpenBackend(Message):
    """Browse this KV deployment from now on (o: a migration's target)."""

    spec: NatsSpec
