"""Storage for membership-admin: one Store interface, a SQLite and a JetStream KV backend.

Imports neither textual nor the tui package.
"""

from .backends import open_store
from .base import Store
from .errors import (
                     Absent,
                     AlreadyExists,
                     BadRecord,
                     Conflict,
                     InvalidInput,
                     NotFound,
                     ReadOnly,
                     Refused,
                     StoreError,
                     TlsRefused,
                     Unavailable,
)
from .models import (
                     Decision,
                     InvalidRecord,
                     Member,
                     Role,
                     Room,
                     SealedKey,
                     Snapshot,
                     Status,
                     StatusChange,
                     User,
                     UserChanges,
                     UserRole,
                     UserRow,
)
from .spec import NatsSpec, SqliteSpec, StoreSpec, system_clock

__all__ = [
    "Absent", "AlreadyExists", "BadRecord", "Conflict", "Decision", "InvalidInput", "InvalidRecord", "Member",
    "NatsSpec", "NotFound", "ReadOnly", "Refused", "Role", "Room", "SealedKey", "Snapshot", "SqliteSpec", "Status",
    "StatusChange", "Store", "StoreError", "StoreSpec", "TlsRefused", "Unavailable", "User", "UserChanges",
    "UserRole", "UserRow", "open_store", "system_clock",
]
