"""Storage for membership-admin: one Store interface, a SQLite and a JetStream KV backend.

Imports neither textual nor the tui package.
"""

from .base import Store
from .errors import AlreadyExists, BadRecord, Conflict, InvalidInput, NotFound, ReadOnly, StoreError, Unavailable
from .models import Decision, InvalidRecord, Member, Room, SealedKey, Snapshot, User
from .backends import open_store
from .spec import NatsSpec, SqliteSpec, StoreSpec, system_clock

__all__ = [
    "AlreadyExists", "BadRecord", "Conflict", "Decision", "InvalidInput", "InvalidRecord", "Member", "NatsSpec",
    "NotFound", "ReadOnly", "Room", "SealedKey", "Snapshot", "SqliteSpec", "Store",
    "StoreError", "StoreSpec", "Unavailable", "User", "open_store", "system_clock",
]
