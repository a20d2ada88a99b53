"""How a command names its backend (SPEC section 9): flags first, then the environment
(natscli's NATS_* names), then a natscli context, then nothing (one line saying the ways).

`--db PATH` names a SQLite file. JetStream KV settings are resolved field by field: a flag
beats its NATS_* variable, which beats the context's field. The context is the one named by
--context or NATS_CONTEXT, else the one natscli has selected; an unknown one is exit 2 with
the known ones listed. Secrets are best kept in the environment, a context or files: a
password on the command line is visible to every local user (ps).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

from store import NatsSpec, SqliteSpec, StoreError, StoreSpec
from store.operator_files import check_files, open_to_others

from ..config import ContextSettings, context_settings
from . import nats_context
from .common import EXIT_REFUSED, EXIT_USAGE, CommandError, say

#: NatsSpec field -> (the flag's dest, the environment variable, the context field)
_SOURCES = {
    "url": ("nats_url", "NATS_URL", "url"),
    "user": ("user", "NATS_USER", "user"),
    "password": ("password", "NATS_PASSWORD", "password"),
    "token": ("token", "NATS_TOKEN", "token"),
    "creds": ("creds", "NATS_CREDS", "creds"),
    "nkey": ("nkey", "NATS_NKEY", "nkey"),
    "ca": ("ca", "NATS_CA", "ca"),
    "cert": ("tls_cert", "NATS_CERT", "cert"),
    "key": ("tls_key", "NATS_KEY", "key"),
}

NO_BACKEND = ("name a backend: --db PATH, --nats-url URL, the NATS_URL variable, --context NAME "
              "(or NATS_CONTEXT), or a context selected with `nats context select`")


def context_name(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> str | None:
    """The natscli context these settings use: --context, NATS_CONTEXT, else natscli's selected
    one, unless --nats-url names the server: the selected context's credentials are then not
    sent to a server it does not name (and its context.txt is not even read)."""
    named = getattr(args, "context", None) or env.get("NATS_CONTEXT")
    if named or getattr(args, "nats_url", None):
        return named or None
    try:
        return nats_context.selected(env)
    except StoreError as e:
        raise CommandError(str(e), EXIT_USAGE) from None


def nats_settings(args: argparse.Namespace, *, replicas: int | None = None, read_only: bool = False,
                  env: Mapping[str, str] = os.environ) -> NatsSpec | None:
    """The KV deployment named by flags, environment and context; None when none names a URL."""
    name = context_name(args, env)
    explicit = getattr(args, "context", None) or env.get("NATS_CONTEXT")
    ctx = None
    if name:
        try:
            ctx = nats_context.load(name, env)
        except StoreError as e:
            if explicit:  # asked for by name: an unknown one is an error
                raise CommandError(str(e), EXIT_USAGE) from None
            # only selected in context.txt and gone: as natscli would, say so
            raise CommandError(f"the selected NATS context: {e}", EXIT_USAGE) from None
    values: dict[str, str | None] = {}
    for field, (dest, var, ctx_field) in _SOURCES.items():
        values[field] = (getattr(args, dest, None) or env.get(var)
                         or (getattr(ctx, ctx_field) if ctx is not None else None) or None)
    url = values.pop("url")
    if not url:
        return None
    try:
        spec = NatsSpec(url=url, bucket_prefix=getattr(args, "bucket_prefix", "") or "",
                        op_timeout=getattr(args, "op_timeout", 2.0), replicas=replicas, read_only=read_only,
                        context=ctx.name if ctx is not None else None, **values)
        check_files(spec)  # a FIFO or a file of the wrong kind: exit 2 now, before any connection
    except StoreError as e:
        raise CommandError(str(e), EXIT_USAGE) from None
    for what, path in (("credentials file", spec.creds), ("nkey seed file", spec.nkey), ("client key", spec.key)):
        warning = open_to_others(path, what) if path else None
        if warning:
            say(warning)
    return spec


def context_settings_of(spec: StoreSpec, env: Mapping[str, str] = os.environ) -> ContextSettings:
    """config.toml's settings for the context the backend came from (defaults for none);
    a config that cannot be read is exit 2, never taken for the defaults."""
    if not (isinstance(spec, NatsSpec) and spec.context):
        return ContextSettings()
    try:
        return context_settings(spec.context, env)
    except StoreError as e:
        raise CommandError(str(e), EXIT_USAGE) from None


def _read_only_context(spec: StoreSpec, args: argparse.Namespace, env: Mapping[str, str]) -> bool:
    """The context is read-only in config.toml and --write was not given."""
    return not getattr(args, "write", False) and context_settings_of(spec, env).read_only


def guard_changes(spec: StoreSpec, args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> StoreSpec:
    """A context whose settings say read_only refuses changes unless --write is given."""
    if _read_only_context(spec, args, env):
        assert isinstance(spec, NatsSpec)
        raise CommandError(f"refused: context {spec.context} is read-only (config.toml): "
                           "pass --write to change it", EXIT_REFUSED)
    return spec


def tui_read_only(spec: StoreSpec, args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> bool:
    """Whether the TUI opens read-only: --read-only, or a read-only context without --write."""
    return bool(getattr(args, "read_only", False)) or _read_only_context(spec, args, env)


def nats_spec(args: argparse.Namespace, *, replicas: int | None = None, read_only: bool = False) -> NatsSpec:
    """The KV deployment a command needs (a target, health): exit 2 when nothing names one."""
    spec = nats_settings(args, replicas=replicas, read_only=read_only)
    if spec is None:
        raise CommandError("no NATS server named: --nats-url URL, the NATS_URL variable, --context NAME "
                           "or a selected natscli context")
    return spec


def sqlite_spec(args: argparse.Namespace, *, read_only: bool = False) -> SqliteSpec:
    if not getattr(args, "db", None):
        raise CommandError("--db is required")
    return SqliteSpec(path=args.db, read_only=read_only)


def backend_spec(args: argparse.Namespace, *, read_only: bool = False, changes: bool = False) -> StoreSpec:
    """The one backend a command works on: --db, else the KV deployment of flags, environment
    or context. Both --db and --nats-url is ambiguous; neither (and no context) is exit 2.
    changes: the command writes (a read-only context then refuses it unless --write)."""
    if getattr(args, "db", None) and getattr(args, "nats_url", None):
        raise CommandError("name one backend: --db PATH or --nats-url URL, not both")
    if getattr(args, "db", None):
        return sqlite_spec(args, read_only=read_only)
    spec = nats_settings(args, replicas=getattr(args, "replicas", None), read_only=read_only)
    if spec is None:
        raise CommandError(NO_BACKEND)
    return guard_changes(spec, args) if changes else spec
