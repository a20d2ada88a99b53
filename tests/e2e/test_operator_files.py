"""The operator's own files (SPEC section 9): context.txt, a context's JSON, config.toml and
the CA, certificate, key, creds and nkey files must be regular files (a FIFO, a device or a
directory is exit 2 at once, never a hang); a file that is not what its flag expects is exit
2 with a plain sentence; a secret file others may read gets a one-line warning."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from store.dev.local_nats import free_port
from tests.helpers import cli, cli_env
from tests.nats_auth import Certificates, new_user_seed

#: a refusal of a file is immediate: well within this (the interpreter's start included)
AT_ONCE = 8.0
#: a command that hangs fails here instead of at the default subprocess timeout
HANG = 20


def dead_url() -> str:
    return f"nats://127.0.0.1:{free_port()}"


def run(*args: str, **env: str):
    return cli(*args, env=cli_env(**env), timeout=HANG)


def refused(proc, *words: str) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert "NoneType" not in lines[0] and "Error" not in lines[0], lines[0]
    assert proc.elapsed < AT_ONCE  # type: ignore[attr-defined]
    return lines[0]


@pytest.fixture
def fifo(tmp_path) -> str:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return str(path)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certificates:
    return Certificates(tmp_path_factory.mktemp("certs"))


@pytest.mark.parametrize("flag", ["--ca", "--creds", "--nkey", "--tls-cert", "--tls-key"])
@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_a_file_flag_naming_a_fifo_device_or_directory_is_exit_2_at_once(flag, kind, fifo, tmp_path, certs):
    path = {"fifo": fifo, "directory": str(tmp_path), "device": "/dev/zero"}[kind]
    pair = {"--tls-cert": ["--tls-key", certs.client_key], "--tls-key": ["--tls-cert", certs.client_cert]}
    for command in (("authorize", "alice"), ("users", "list")):
        proc = run(*command, "--nats-url", dead_url(), flag, path, *pair.get(flag, []), "--op-timeout", "0.5")
        line = refused(proc, path)
        assert {"fifo": "a FIFO", "directory": "a directory", "device": "a device"}[kind] in line


@pytest.mark.parametrize(("flag", "sentence"), [
    ("--ca", "holds no certificate"),
    ("--creds", "holds no NATS user JWT"),
    ("--nkey", "holds no user nkey seed"),
    ("--tls-cert", "holds no certificate"),
])
def test_a_file_that_is_not_what_its_flag_expects_is_a_plain_sentence(flag, sentence, certs):
    pair = ["--tls-key", certs.client_key] if flag == "--tls-cert" else []
    for command in (("authorize", "alice"), ("users", "list")):
        proc = run(*command, "--nats-url", dead_url(), flag, "/etc/passwd", *pair, "--op-timeout", "0.5")
        refused(proc, sentence, "/etc/passwd")


def test_creds_without_a_seed_and_a_key_that_is_no_key(tmp_path, certs):
    creds = tmp_path / "jwt-only.creds"
    creds.write_text("-----BEGIN NATS USER JWT-----\neyJ0.e30.sig\n------END NATS USER JWT------\n")
    refused(run("users", "list", "--nats-url", dead_url(), "--creds", str(creds)), "holds no user nkey seed")
    refused(run("users", "list", "--nats-url", dead_url(), "--tls-cert", certs.client_cert,
                "--tls-key", certs.client_cert), "holds no private key")


def settings_home(tmp_path: Path) -> Path:
    home = tmp_path / "config"
    (home / "nats" / "context").mkdir(parents=True)
    (home / "membership-admin").mkdir(parents=True)
    return home


def test_a_fifo_as_context_txt_is_exit_2_and_not_read_when_a_url_is_given(tmp_path):
    home = settings_home(tmp_path)
    os.mkfifo(home / "nats" / "context.txt")
    env = {"XDG_CONFIG_HOME": str(home)}
    refused(run("users", "list", **env), "context.txt", "a FIFO")
    refused(run(**env), "context.txt", "a FIFO")  # the TUI alone: natscli's selected context
    # --nats-url names the server: the selected context is not consulted, so no hang either
    proc = run("authorize", "alice", "--nats-url", dead_url(), "--op-timeout", "0.5", **env)
    assert proc.returncode == 1 and proc.stdout.startswith("deny: "), (proc.stdout, proc.stderr)


def test_the_selected_context_is_not_sent_to_a_server_named_by_url(tmp_path):
    """The selected context's password is for its own server, not for one named with --nats-url."""
    from tests.fake_nats import FakeNats

    home = settings_home(tmp_path)
    (home / "nats" / "context" / "prod.json").write_text('{"url": "nats://127.0.0.1:1", "user": "ops", '
                                                        '"password": "Prod-Secret-7"}')
    (home / "nats" / "context.txt").write_text("prod\n")
    with FakeNats("plain") as fake:
        run("authorize", "alice", "--nats-url", fake.url, "--op-timeout", "0.5", XDG_CONFIG_HOME=str(home))
        received = fake.received
    assert b"CONNECT" in received and b"Prod-Secret-7" not in received


def test_a_fifo_as_a_context_or_config_toml_is_exit_2(tmp_path):
    home = settings_home(tmp_path)
    env = {"XDG_CONFIG_HOME": str(home)}
    os.mkfifo(home / "nats" / "context" / "prod.json")
    assert run("users", "list", "--context", "prod", **env).returncode == 2
    os.unlink(home / "nats" / "context" / "prod.json")
    (home / "nats" / "context" / "prod.json").write_text(f'{{"url": "{dead_url()}"}}')
    os.mkfifo(home / "membership-admin" / "config.toml")
    refused(run("users", "add", "bob", "--context", "prod", "--op-timeout", "0.5", **env), "config.toml", "a FIFO")
    refused(run("--context", "prod", "--op-timeout", "0.5", **env), "config.toml", "a FIFO")


@pytest.mark.parametrize(("flag", "mode", "warned"), [
    ("--nkey", 0o644, True), ("--nkey", 0o600, False), ("--creds", 0o640, True), ("--tls-key", 0o604, True),
])
def test_a_secret_file_others_may_read_gets_a_warning(flag, mode, warned, tmp_path, certs):
    from tests.nats_auth import creds_text

    seed = new_user_seed()
    files = {"--nkey": (tmp_path / "u.nk", seed.decode() + "\n"),
             "--creds": (tmp_path / "u.creds", creds_text("eyJ0.e30.sig", seed)),
             "--tls-key": (tmp_path / "k.pem", Path(certs.client_key).read_text())}
    path, text = files[flag]
    path.write_text(text)
    path.chmod(mode)
    extra = ["--tls-cert", certs.client_cert] if flag == "--tls-key" else []
    proc = run("authorize", "alice", "--nats-url", dead_url(), flag, str(path), *extra, "--op-timeout", "0.5")
    assert proc.returncode == 1 and proc.stdout.startswith("deny: "), (proc.stdout, proc.stderr)
    warnings = [line for line in proc.stderr.splitlines() if "open to others" in line]
    assert len(warnings) == (1 if warned else 0), proc.stderr
    if warned:
        assert str(path) in warnings[0] and f"{mode:04o}" in warnings[0] and "chmod 600" in warnings[0]
