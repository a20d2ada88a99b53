"""Connecting in production (SPEC section 9), as the real program against real nats-server
processes set up for each way to authenticate: users with the README's permission blocks,
a token, an nkey, a creds file (operator mode), TLS with a client certificate."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nkeys
import pytest

from store.dev.local_nats import free_port
from tests import nats_auth
from tests.helpers import cli, cli_env
from tests.nats_auth import PASSWORDS, secured_server, start_node

#: a permission violation is answered by the server at once: exit 4 well within this
REFUSED_WITHIN = 3.0


def run(*args: str, env: dict[str, str] | None = None, **env_vars: str) -> subprocess.CompletedProcess:
    return cli(*args, env=env or cli_env(**env_vars))


def one_line(proc: subprocess.CompletedProcess, code: int) -> str:
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("membership-admin: "), proc.stderr
    return lines[0]


def as_user(role: str, url: str) -> dict[str, str]:
    return cli_env(NATS_URL=url, NATS_USER=role, NATS_PASSWORD=PASSWORDS[role])


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("conn") / "m.sqlite")
    assert cli("seed", path, "--rooms", "6", "--users", "12", "--members-per-room", "3",
               "--epochs", "2").returncode == 0
    cli("users", "add", "carol", "--db", path)
    return path


@pytest.fixture(scope="module")
def secured(tmp_path_factory, db):
    """The README's three roles (and an admin by nkey), the buckets migrated by the migrator."""
    node, seed_file = secured_server(tmp_path_factory.mktemp("secured"))
    try:
        proc = run("migrate-to-kv", "--db", db, "--replicas", "1", "--no-backup", env=as_user("migrator", node.url))
        assert proc.returncode == 0, proc.stderr
        yield node, seed_file
    finally:
        node.stop()


def state(url: str) -> str:
    proc = run("export", env=as_user("viewer", url))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# -- least privilege: the README's three roles ------------------------------------------------
def test_viewer_reads_everything_and_every_change_is_refused_at_once(secured, db):
    node, _ = secured
    env = as_user("viewer", node.url)
    before = state(node.url)
    for args in (("export",), ("users", "list"), ("users", "list", "--json"), ("health",),
                 ("authorize", "carol"), ("diff", "--db", db)):
        proc = run(*args, env=env)
        assert proc.returncode == 0, (args, proc.stderr)
    assert json.loads(before)["users"]
    # the audit intent is the first write of a change: refused there, nothing is tried
    for args, subject in ((("users", "add", "dave"), "membership_audit.add_user"),
                          (("users", "revoke", "carol"), "membership_audit.revoke_user")):
        proc = run(*args, env=env)
        line = one_line(proc, 4)
        assert proc.elapsed < REFUSED_WITHIN, proc.elapsed  # type: ignore[attr-defined]
        assert f"the NATS user may not publish to {subject} (permissions violation)" in line, line
    # creating buckets (a migration to a new prefix) is refused too, and nothing was created
    proc = run("migrate-to-kv", "--db", db, "--bucket-prefix", "viewer_", "--replicas", "1", "--no-backup", env=env)
    assert "$JS.API.STREAM.CREATE." in one_line(proc, 4)
    assert state(node.url) == before
    assert run("users", "list", "--bucket-prefix", "viewer_", env=env).returncode == 3


def test_admin_changes_users_and_cannot_create_buckets(secured, db):
    node, _ = secured
    env = as_user("admin", node.url)
    assert run("users", "add", "erin", "--name", "Erin", env=env).returncode == 0
    assert run("users", "revoke", "erin", env=env).returncode == 0
    assert run("authorize", "erin", env=env).stdout.startswith("deny")
    assert run("users", "reinstate", "erin", env=env).returncode == 0
    assert run("authorize", "erin", env=env).stdout.startswith("allow")
    proc = run("migrate-to-kv", "--db", db, "--bucket-prefix", "admin_", "--replicas", "1", "--no-backup", env=env)
    assert "may not publish to $JS.API.STREAM.CREATE.KV_admin_" in one_line(proc, 4)


def test_nkey_seed_file_authenticates(secured):
    node, seed_file = secured
    env = cli_env(NATS_URL=node.url)
    assert run("users", "add", "frank", "--nkey", str(seed_file), env=env).returncode == 0
    assert "frank" in run("users", "list", "--nkey", str(seed_file), env=env).stdout
    seed = seed_file.read_text().strip()
    for proc in (run("users", "list", env=env), run("users", "list", "--nkey", "/nonexistent.nk", env=env)):
        assert proc.returncode in (2, 3, 4) and seed not in proc.stderr


def test_wrong_password_is_one_line_without_the_password(secured):
    node, _ = secured
    host = node.url.removeprefix("nats://")
    for env in (cli_env(NATS_URL=node.url, NATS_USER="viewer", NATS_PASSWORD="not-it-Secret"),
                cli_env(NATS_URL=f"nats://viewer:not-it-Secret@{host}")):
        line = one_line(run("users", "list", "--op-timeout", "1", env=env), 4)
        assert "not-it-Secret" not in line and "authorization" in line.lower(), line


# -- secrets are never shown --------------------------------------------------------------
def test_passwords_in_urls_are_never_printed(secured, tmp_path):
    node, _ = secured
    host = node.url.removeprefix("nats://")
    pw = PASSWORDS["viewer"]
    url = f"nats://viewer:{pw}@{host}"
    log = tmp_path / "debug.log"
    env = cli_env(MEMBERSHIP_ADMIN_LOG=str(log))
    text = run("health", "--nats-url", url, env=env)
    as_json = run("health", "--nats-url", url, "--json", env=env)
    assert text.returncode == 0 and as_json.returncode == 0, text.stderr + as_json.stderr
    assert f"viewer:***@{host}" in text.stdout
    assert json.loads(as_json.stdout)
    unreachable = run("users", "list", "--nats-url", f"nats://viewer:{pw}@127.0.0.1:{free_port()}",
                      "--op-timeout", "0.5", env=env)
    assert "viewer:***@127.0.0.1" in one_line(unreachable, 3)
    missing = run("export", "--nats-url", url, "--bucket-prefix", "nope_", env=env)
    assert f"viewer:***@{host}" in one_line(missing, 3)
    logged = log.read_text() if log.exists() else ""
    for proc in (text, as_json, unreachable, missing):
        assert pw not in proc.stdout + proc.stderr
    assert pw not in logged


# -- opening creates nothing ---------------------------------------------------------------
def existing_streams(url: str, names: list[str]) -> list[str]:
    """Which of the named streams exist, asked by a client of the test's own."""
    proc = subprocess.run([sys.executable, "-c", f"""
import asyncio, nats, nats.js.errors
async def main():
    nc = await nats.connect({url!r}, user="migrator", password={PASSWORDS['migrator']!r})
    found = []
    for name in {names!r}:
        try:
            await nc.jetstream().stream_info(name)
            found.append(name)
        except nats.js.errors.NotFoundError:
            pass
    print(" ".join(found))
    await nc.close()
asyncio.run(main())"""], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_a_mistyped_prefix_creates_nothing(secured, db):
    node, _ = secured
    env = as_user("migrator", node.url)  # even a user who may create buckets
    for args in (("export",), ("users", "list"), ("diff", "--db", db)):
        proc = run(*args, "--bucket-prefix", "typo_", env=env)
        line = one_line(proc, 3)
        assert "KV_typo_" not in line and "typo_rooms" in line and "prefix 'typo_'" in line, line
        assert node.url.removeprefix("nats://") in line, line
    # health reports the state absent (SPEC 6), naming the same, exit 3
    health = run("health", "--bucket-prefix", "typo_", env=env)
    assert health.returncode == 3 and health.stderr == "" and ": absent (" in health.stdout, health.stdout
    assert "typo_rooms" in health.stdout and "prefix 'typo_'" in health.stdout
    deny = run("authorize", "carol", "--bucket-prefix", "typo_", env=env)  # a deny, as every backend failure
    assert deny.returncode == 1 and deny.stdout.startswith("deny: ") and "typo_users" in deny.stdout
    names = [f"KV_{p}{b}" for p in ("", "typo_") for b in ("rooms", "members", "rooms_by_member", "room_keys", "users")]
    assert existing_streams(node.url, names) == names[:5]  # the real ones, and no typo_ one


# -- natscli contexts and the environment -------------------------------------------------
def write_context(home: Path, name: str, **fields: str) -> None:
    folder = home / "nats" / "context"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({"description": name, **fields}))


def test_contexts_and_environment(secured, tmp_path):
    node, _ = secured
    home = tmp_path / "config"
    write_context(home, "prod", url=node.url, user="viewer", password=PASSWORDS["viewer"])
    write_context(home, "ops", url=node.url, user="admin", password=PASSWORDS["admin"])
    base = cli_env(XDG_CONFIG_HOME=str(home))
    # nothing selected, nothing named: one line saying the ways
    assert "NATS_URL" in one_line(run("users", "list", env=base), 2)
    # a named context; NATS_CONTEXT; natscli's selected one
    assert run("users", "list", "--context", "prod", env=base).returncode == 0
    assert run("users", "list", env={**base, "NATS_CONTEXT": "prod"}).returncode == 0
    (home / "nats" / "context.txt").write_text("prod\n")
    listed = run("users", "list", env=base)
    assert listed.returncode == 0 and "carol" in listed.stdout
    # the context's user is the viewer: a change is refused, and the line names no secret
    line = one_line(run("users", "add", "gina", env=base), 4)
    assert PASSWORDS["viewer"] not in line
    # flags beat the environment, which beats the context
    assert run("users", "add", "gina", "--context", "ops", env=base).returncode == 0
    assert run("users", "add", "hank", env={**base, "NATS_USER": "admin",
                                             "NATS_PASSWORD": PASSWORDS["admin"]}).returncode == 0
    dead = f"nats://127.0.0.1:{free_port()}"
    assert one_line(run("users", "list", "--nats-url", dead, "--op-timeout", "0.5", env=base), 3)
    assert one_line(run("users", "list", "--op-timeout", "0.5", env={**base, "NATS_URL": dead}), 3)
    # an unknown context: exit 2 listing the known ones
    line = one_line(run("users", "list", "--context", "staging", env=base), 2)
    assert "unknown NATS context 'staging'" in line and "ops, prod" in line


def test_read_only_context_needs_write(secured, tmp_path):
    node, _ = secured
    home = tmp_path / "config"
    write_context(home, "prod", url=node.url, user="admin", password=PASSWORDS["admin"])
    (home / "membership-admin").mkdir(parents=True)
    (home / "membership-admin" / "config.toml").write_text(
        '[contexts.prod]\nread_only = true\nlabel = "PRODUCTION"\ncolor = "darkred"\n')
    env = cli_env(XDG_CONFIG_HOME=str(home), NATS_CONTEXT="prod")
    before = state(node.url)
    line = one_line(run("users", "add", "ivan", env=env), 4)
    assert "read-only" in line and "--write" in line
    assert state(node.url) == before
    assert run("users", "list", env=env).returncode == 0  # reading needs no --write
    assert run("users", "add", "ivan", "--write", env=env).returncode == 0
    # a config file that cannot be read is never taken for "not read-only"
    (home / "membership-admin" / "config.toml").write_text("[contexts.prod\n")
    assert "config.toml" in one_line(run("users", "add", "judy", env=env), 2)
    assert "judy" not in state(node.url)


# -- the other ways to authenticate ------------------------------------------------------
def test_token(tmp_path, db):
    node = start_node(tmp_path, "token", 'authorization { token: "tok-Secret-9" }\njetstream: enabled\n')
    try:
        env = cli_env(NATS_URL=node.url, NATS_TOKEN="tok-Secret-9")
        assert run("migrate-to-kv", "--db", db, "--replicas", "1", "--no-backup", env=env).returncode == 0
        assert run("users", "list", env=env).returncode == 0
        host = node.url.removeprefix("nats://")
        in_url = run("users", "list", "--nats-url", f"nats://tok-Secret-9@{host}", env=cli_env())
        assert in_url.returncode == 0, in_url.stderr
        wrong = run("users", "list", "--nats-url", f"nats://tok-Wrong-9@{host}", "--op-timeout", "1", env=cli_env())
        line = one_line(wrong, 4)
        assert "tok-Wrong-9" not in line and f"***@{host}" in line
    finally:
        node.stop()


def test_creds_file_in_operator_mode(tmp_path, db):
    op, account, system, user = (nats_auth.new_seed(nkeys.PREFIX_BYTE_OPERATOR),
                                 nats_auth.new_seed(nkeys.PREFIX_BYTE_ACCOUNT),
                                 nats_auth.new_seed(nkeys.PREFIX_BYTE_ACCOUNT), nats_auth.new_user_seed())
    unlimited = {k: -1 for k in ("subs", "data", "payload", "imports", "exports", "conn", "leaf")}
    js = {k: -1 for k in ("mem_storage", "disk_storage", "streams", "consumer")}
    account_jwt = nats_auth.jwt(op, nats_auth.public_key(account), "APP",
                                {"type": "account", "limits": {**unlimited, **js, "wildcards": True}})
    system_jwt = nats_auth.jwt(op, nats_auth.public_key(system), "SYS",
                               {"type": "account", "limits": {**unlimited, "wildcards": True}})
    user_jwt = nats_auth.jwt(account, nats_auth.public_key(user), "ops",
                             {"type": "user", "subs": -1, "data": -1, "payload": -1})
    creds = tmp_path / "ops.creds"
    creds.write_text(nats_auth.creds_text(user_jwt, user))
    config = (f"operator: {nats_auth.jwt(op, nats_auth.public_key(op), 'op', {'type': 'operator'})}\n"
              f"system_account: {nats_auth.public_key(system)}\nresolver: MEMORY\n"
              f"resolver_preload: {{\n {nats_auth.public_key(account)}: {account_jwt}\n"
              f" {nats_auth.public_key(system)}: {system_jwt}\n}}\n")
    node = start_node(tmp_path, "operator", config)
    try:
        env = cli_env(NATS_URL=node.url)
        assert run("users", "list", env=env).returncode in (3, 4)  # no credentials, no entry
        proc = run("migrate-to-kv", "--db", db, "--creds", str(creds), "--replicas", "1", "--no-backup", env=env)
        assert proc.returncode == 0, proc.stderr
        listed = run("users", "list", env={**env, "NATS_CREDS": str(creds)})
        assert listed.returncode == 0 and "carol" in listed.stdout
        assert user_jwt not in listed.stdout + listed.stderr + proc.stdout + proc.stderr
    finally:
        node.stop()


@pytest.fixture(scope="module")
def mutual_tls(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mtls")
    certs = nats_auth.Certificates(folder / "certs")
    config = (f'tls {{ cert_file: "{certs.server_cert}", key_file: "{certs.server_key}", '
              f'ca_file: "{certs.ca}", verify: true }}\njetstream: enabled\n')
    node = start_node(folder, "mtls", config)
    try:
        yield node, certs
    finally:
        node.stop()


def test_mutual_tls_with_a_client_certificate(mutual_tls, db):
    node, certs = mutual_tls
    tls = ("--ca", certs.ca, "--tls-cert", certs.client_cert, "--tls-key", certs.client_key)
    env = cli_env(NATS_URL=node.url.replace("nats://", "tls://"))
    assert run("migrate-to-kv", "--db", db, *tls, "--replicas", "1", "--no-backup", env=env).returncode == 0
    via_env = run("users", "list", env={**env, "NATS_CA": certs.ca, "NATS_CERT": certs.client_cert,
                                        "NATS_KEY": certs.client_key})
    assert via_env.returncode == 0 and "carol" in via_env.stdout
    # the CA alone (no client certificate): the server refuses the handshake, one line, exit 3
    assert one_line(run("users", "list", "--ca", certs.ca, "--op-timeout", "1", env=env), 3)
    # a certificate without its key is bad usage
    assert "--tls-key" in one_line(run("users", "list", "--ca", certs.ca, "--tls-cert", certs.client_cert,
                                       env=env), 2)


# -- the command line itself --------------------------------------------------------------
def test_version_completion_and_help():
    version = cli("--version")
    assert version.returncode == 0 and re.fullmatch(r"membership-admin \d+\.\d+\.\d+\n", version.stdout)
    for shell, mark in (("bash", "complete"), ("zsh", "#compdef"), ("fish", "complete -c membership-admin")):
        proc = cli("completion", shell)
        assert proc.returncode == 0 and mark in proc.stdout and "migrate-to-kv" in proc.stdout, shell
    assert "invalid choice" in one_line(cli("completion", "tcsh"), 2)
    for command in ((), ("users", "list"), ("users", "revoke"), ("export",), ("health",), ("migrate-to-kv",),
                    ("diff",), ("authorize",), ("completion",)):
        out = " ".join(cli(*command, "--help").stdout.split())
        assert "exit status: 0" in out and "4 refused" in out, command
        if command not in (("completion",),):
            assert "--context NAME" in out and "NATS_PASSWORD" in out, command
