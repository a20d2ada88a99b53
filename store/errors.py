"""The one error family every backend raises; no sqlite3.* or nats.* escapes a Store."""


class StoreError(Exception):
    """Base of every error a Store raises. str(err) is one readable line."""


class NotFound(StoreError):
    """The record does not exist."""


class AlreadyExists(StoreError):
    """A record with that identity exists already."""


class InvalidInput(StoreError):
    """An identifier, name, value or request breaks the domain rules."""


class Conflict(StoreError):
    """A concurrent change won (compare-and-set lost); re-read and retry."""


class Unavailable(StoreError):
    """The backend cannot be reached, has no quorum, or did not answer in time."""


class Absent(Unavailable):
    """A reachable server on which none of the deployment's buckets exists: nothing was
    migrated there, or the bucket prefix is wrong (SPEC 6's state `absent`)."""


class TlsRefused(Unavailable):
    """TLS was asked for and the server (or something between) offers none: nothing was
    sent, no credential included (SPEC 9: exit 3, naming TLS; authorize too)."""


class Refused(StoreError):
    """The backend or the mode does not permit it: a NATS permissions violation, a database
    file this user may not write (SPEC 7: exit 4). str(err) names what was refused."""


class ReadOnly(Refused):
    """The store was opened read-only (--read-only, a read-only context) and a change was
    asked of it."""


class BadRecord(StoreError, ValueError):
    """A stored record breaks the contract: it does not decode, or breaks a domain rule
    (SPEC sections 4 and 5.5). Also a ValueError, so decoders can be caught as such."""
