"""How to open a backend: a plain value that crosses event loops, unlike a connection."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import InvalidInput

Clock = Callable[[], int]


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
    """A JetStream KV deployment. url may list several servers separated by commas."""

    url: str
    ca: str | None = None
    creds: str | None = None
    user: str | None = None
    password: str | None = None
    token: str | None = None
    bucket_prefix: str = ""
    op_timeout: float = 2.0
    #: replicas for buckets this tool creates; None: 3 where the cluster can hold it
    replicas: int | None = None
    read_only: bool = False

    def __post_init__(self) -> None:
        if self.replicas is not None and not 1 <= self.replicas <= 5:
            raise InvalidInput(f"invalid replicas {self.replicas}: expected 1 to 5")
        if not self.op_timeout > 0:
            raise InvalidInput(f"invalid operation timeout {self.op_timeout}: expected > 0")

    @property
    def servers(self) -> list[str]:
        return [u.strip() for u in self.url.split(",") if u.strip()]

    @property
    def label(self) -> str:
        text = f"nats:{self.url}"
        if self.bucket_prefix:
            text += f" prefix={self.bucket_prefix}"
        return text + (" (read-only)" if self.read_only else "")


StoreSpec = SqliteSpec | NatsSpec

