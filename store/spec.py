"""How to open a backend: a plain value that crosses event loops, unlike a connection."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from .errors import InvalidInput

Clock = Callable[[], int]

#: a bucket prefix (SPEC 7): it goes into bucket, stream and subject names
BUCKET_PREFIX_RE = re.compile(r"[A-Za-z0-9_-]{0,32}")


def system_clock() -> int:
    return int(time.time())


@dataclass(frozen=True)
class SqliteSpec:
    path: str
    read_only: bool = False

    @property
    def label(self) -> str:
        return f"sqlite:{self.path}" + (" (read-only)" if self.read_only else "")


@dataclass(frozen=True)
class NatsSpec:
    """A JetStream KV deployment. url may list several servers separated by commas.

    Secrets (a password, a token, or either inside the URL) never leave this value in a
    printable form: `label` and `shown_url` write user info as `user:***@host`, and the
    dataclass repr leaves them out. Files (creds, nkey seed, TLS key) are named, never read
    here.
    """

    url: str = field(repr=False)
    ca: str | None = None
    creds: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    bucket_prefix: str = ""
    op_timeout: float = 2.0
    #: replicas for buckets this tool creates; None: 3 where the cluster can hold it
    replicas: int | None = None
    read_only: bool = False
    #: an nkey seed file (user nkey authentication)
    nkey: str | None = None
    #: a client certificate and its key, for mutual TLS
    cert: str | None = None
    key: str | None = None
    #: the natscli context these settings came from, if any (shown in labels)
    context: str | None = None

    def __post_init__(self) -> None:
        if self.replicas is not None and not 1 <= self.replicas <= 5:
            raise InvalidInput(f"invalid replicas {self.replicas}: expected 1 to 5")
        if not self.op_timeout > 0:
            raise InvalidInput(f"invalid operation timeout {self.op_timeout}: expected > 0")
        if not BUCKET_PREFIX_RE.fullmatch(self.bucket_prefix):
            # part of bucket, stream and subject names: a dot or a wildcard would change them
            raise InvalidInput(f"invalid bucket prefix {self.bucket_prefix[:40]!r}: expected 0-32 of "
                               "A-Z a-z 0-9 _ -")
        if bool(self.cert) != bool(self.key):
            raise InvalidInput("a client certificate (--tls-cert, NATS_CERT) needs its key (--tls-key, "
                               "NATS_KEY), and a key its certificate")

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.repr}
        return f"NatsSpec(url={self.shown_url!r}, " + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    @property
    def servers(self) -> list[str]:
        """The server URLs: split at the commas that separate them, not at one inside a
        URL's user info (a password may hold a comma)."""
        return split_servers(self.url)

    @property
    def shown_url(self) -> str:
        """The URL(s) with any user info written as user:*** (a token as ***)."""
        return ",".join(redact_url(u) for u in self.servers) or redact_url(self.url)

    @property
    def nats_user(self) -> str | None:
        """The NATS user these settings authenticate as, when it has a name to show."""
        if self.user:
            return self.user
        for u in self.servers:
            parts = split_userinfo(u)
            if parts is not None and parts[1] is not None and ":" in parts[1]:
                return parts[1].split(":", 1)[0]
        return None

    @property
    def label(self) -> str:
        text = f"nats:{self.shown_url}"
        if self.user and self.nats_user == self.user:
            text += f" user={self.user}"
        if self.context:
            text += f" context={self.context}"
        if self.bucket_prefix:
            text += f" prefix={self.bucket_prefix}"
        return text + (" (read-only)" if self.read_only else "")


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
#: what follows a URL's user info: a host name, an IPv4 address or a bracketed IPv6
#: address, an optional port, an optional path
_HOST = re.compile(r"(?P<host>\[[0-9A-Fa-f:.%A-Za-z]+\]|[A-Za-z0-9._~-]+)(?::[0-9]{0,5})?/?")
#: a comma that starts another server: the next one begins with a scheme, or carries no
#: user info (no "@" before the next scheme); any other comma is inside a user info
_SEPARATOR = re.compile(r",(?=\s*[A-Za-z][A-Za-z0-9+.-]*://|[^@]*?(?:,\s*[A-Za-z][A-Za-z0-9+.-]*://|$))")


def split_servers(url: str) -> list[str]:
    """The server URLs of a comma-separated list. A user info may hold a comma, so a comma
    separates servers only where the next server starts with a scheme or holds no "@"."""
    return [u.strip() for u in _SEPARATOR.split(url) if u.strip()]


def split_userinfo(url: str) -> tuple[str, str | None, str] | None:
    """(scheme, user info or None, host and port) of one server URL, the user info being all
    before the last "@" (a password may hold "@", "/", ":" or "%"); None when what follows is
    not a host with an optional port."""
    url = url.strip()
    found = _SCHEME.match(url)
    scheme = found.group() if found else ""
    rest = url[len(scheme):]
    info, at, host = rest.rpartition("@")
    if not _HOST.fullmatch(host):
        return None
    return scheme, (info if at else None), host


def redact_url(url: str) -> str:
    """nats://user:secret@host -> nats://user:***@host; nats://token@host -> nats://***@host;
    a URL that is not scheme, user info and host is shown by its host alone (or not at all)."""
    parts = split_userinfo(url)
    if parts is None:
        seen = _HOST.search(url.strip().rpartition("@")[2])
        return f"(an unreadable URL{' for host ' + seen.group('host') if seen else ''})"
    scheme, info, host = parts
    if info is None:
        return scheme + host
    shown = f"{info.split(':', 1)[0]}:***" if ":" in info else "***"
    return f"{scheme}{shown}@{host}"


StoreSpec = SqliteSpec | NatsSpec

