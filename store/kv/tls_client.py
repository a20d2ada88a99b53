"""A nats-py client that never sends credentials over a connection that is not TLS, once
TLS was asked for (SPEC section 9).

nats-py 2.16 upgrades to TLS only when the server's INFO says `tls_required`; it ignores
the `tls://` scheme, its `tls=` context and `tls_available`, and writes CONNECT (password,
token, JWT, signature) in plain text to a server, or a man in the middle, that does not ask
for TLS. nats.go refuses there (ErrSecureConnWanted); this client does the same.

It relies on a private hook: `Client._process_info`, which `_process_connect_init` awaits
with initial_connection=True after INFO is read and before the TLS upgrade and CONNECT, on
every connect and reconnect. tests/store/test_nats_py_internals.py fails loudly when a
nats-py release changes that (a fake plain-text server must then see no CONNECT), and
pyproject.toml bounds nats-py below its next major version.
"""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client
from nats.errors import SecureConnWantedError


class NoTlsOffered(SecureConnWantedError):
    """The server (or whatever answered) offers no TLS, and TLS was asked for."""

    def __str__(self) -> str:
        return "the server offers no TLS"


class TlsClient(Client):
    """A Client that upgrades to TLS when the server offers it (tls_available, as nats.go
    does) and refuses the connection, before CONNECT, when it offers neither."""

    async def _process_info(self, info: dict[str, Any], initial_connection: bool = False) -> None:
        if initial_connection:
            scheme = self._current_server.uri.scheme if self._current_server else ""
            if scheme == "wss":
                pass  # TLS is the websocket's own transport, before any NATS byte
            elif scheme == "ws" or not (info.get("tls_required") or info.get("tls_available")):
                raise NoTlsOffered()
            else:
                # nats-py upgrades only on tls_required: offered is enough when we want it
                info["tls_required"] = True
        await super()._process_info(info, initial_connection)


def wants_tls(servers: list[str], ca: str | None, cert: str | None) -> bool:
    """TLS was asked for: a tls:// (or wss://) URL, a CA, or a client certificate."""
    return bool(ca or cert) or any(s.strip().lower().startswith(("tls://", "wss://")) for s in servers)
