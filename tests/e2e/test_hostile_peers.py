"""The real program against peers that lie (tests/fake_nats.py): a server that offers no
TLS when TLS was asked for never sees a credential, and every command ends within its bound
against a server that stalls or sends garbage (SPEC sections 2, 7 and 9)."""

from __future__ import annotations

import pytest

from tests.fake_nats import FakeNats
from tests.helpers import cli, cli_env
from tests.nats_auth import Certificates

SECRET = "Hunter2-on-the-wire"
OP_TIMEOUT = 1.0
#: what a command may take beyond its operation timeout: the interpreter's start (a second
#: or more on a loaded machine), the connect (itself bounded by the timeout), closing
SLACK = 4.0

#: every command that opens a KV backend; diff opens a SQLite file too
COMMANDS = {
    "authorize": ("authorize", "alice"),
    "health": ("health",),
    "users list": ("users", "list"),
    "export": ("export",),
    "diff": ("diff", "--db", "{db}"),
    "audit": ("audit",),
    "tui": (),  # the TUI opens its backend before it draws anything
}


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("hostile") / "m.sqlite")
    assert cli("init-db", path).returncode == 0
    return path


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> str:
    return Certificates(tmp_path_factory.mktemp("certs")).ca


def command(name: str, db: str) -> list[str]:
    return [a.format(db=db) for a in COMMANDS[name]]


@pytest.mark.parametrize("ask", ["tls-url", "ca", "NATS_CA", "token"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_tls_asked_for_is_never_downgraded(name, ask, db, ca):
    """A plain-text server (or a man in the middle that strips TLS): exit 3 naming TLS, at once,
    and it saw no CONNECT, let alone the password."""
    with FakeNats("plain") as fake:
        url = fake.url.replace("nats://", "tls://") if ask in ("tls-url", "token") else fake.url
        env = cli_env(NATS_CA=ca) if ask == "NATS_CA" else cli_env()
        creds = ["--token", SECRET] if ask == "token" else ["--user", "admin", "--password", SECRET]
        args = [*command(name, db), "--nats-url", url, *creds, "--op-timeout", str(OP_TIMEOUT)]
        if ask == "ca":
            args += ["--ca", ca]
        proc = cli(*args, env=env)
        received = fake.received
        connections = fake.connections
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert "TLS" in proc.stderr and "no credentials were sent" in proc.stderr, proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert SECRET not in proc.stderr + proc.stdout
    assert connections >= 1  # it did reach the fake server
    assert b"CONNECT" not in received and SECRET.encode() not in received, received
    # refused at the first INFO, not after waiting out the timeout
    assert proc.elapsed < OP_TIMEOUT + SLACK, proc.elapsed  # type: ignore[attr-defined]


@pytest.mark.parametrize(("name", "mode"), [(name, mode) for mode in ("stall", "garbage") for name in COMMANDS
                                            # the TUI opens on a server that answers, and says
                                            # in its views what does not answer: it does not end
                                            if (name, mode) != ("tui", "stall")])
def test_every_command_ends_within_its_bound(name, mode, db):
    """A server that answers then stalls, or one that sends garbage: exit 3 (authorize: a
    deny, exit 1), one line, within the operation timeouts the command's steps are bounded by."""
    with FakeNats(mode) as fake:
        proc = cli(*command(name, db), "--nats-url", fake.url, "--op-timeout", str(OP_TIMEOUT))
    expected = 1 if name == "authorize" else 3
    assert proc.returncode == expected, (proc.stdout, proc.stderr)
    if name == "authorize":
        assert proc.stdout.startswith("deny: "), proc.stdout
        assert proc.elapsed < OP_TIMEOUT + 0.5 + SLACK, proc.elapsed  # type: ignore[attr-defined]
    else:  # one line on stderr, or (health, connected to a stalled server) a no-quorum report
        assert len(proc.stderr.splitlines()) == 1 or (name == "health" and "no-quorum" in proc.stdout), proc
        # connecting, then at most the read that waits for an answer that never comes
        assert proc.elapsed < 2 * OP_TIMEOUT + SLACK, proc.elapsed  # type: ignore[attr-defined]
