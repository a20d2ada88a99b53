"""The backends `:` offers to open without leaving (k9s's `:ctx`): the natscli contexts, the
backends opened earlier in this run, and the migration's target.

Pure functions of what the app knows and of the operator's files: the picker
(screens/backends.py) shows them, the app switches (app.py switch_backend).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from store import NatsSpec, StoreError, StoreSpec

from .cli import nats_context
from .cli.common import CommandError
from .cli.connection import nats_settings
from .config import ContextSettings, context_settings

#: the environment a context is read with: where the files are, nothing that would override
#: the context's own settings (NATS_URL, NATS_USER: those named the backend opened first)
_FILES_ONLY = ("XDG_CONFIG_HOME", "HOME")


@dataclass(frozen=True)
class Choice:
    """A backend to open: what the picker says of it, its spec, and the header's settings of
    its context (config.toml's label and colour; the defaults for anything else)."""

    kind: str  # "context", "recent", "migration target"
    label: str
    spec: StoreSpec
    settings: ContextSettings = field(default_factory=ContextSettings)


def context_choice(name: str, like: NatsSpec | None, read_only: bool,
                   env: Mapping[str, str] = os.environ) -> Choice:
    """A natscli context as a backend, with the bucket prefix and timeout of `like` (the KV
    deployment the app was started with, if any). Raises StoreError (an unreadable context
    or config.toml)."""
    files_env = {k: env[k] for k in _FILES_ONLY if k in env}
    args = argparse.Namespace(context=name, bucket_prefix=like.bucket_prefix if like else "",
                              op_timeout=like.op_timeout if like else 2.0)
    try:
        spec = nats_settings(args, env=files_env)
        settings = context_settings(name, files_env)
    except CommandError as e:
        raise StoreError(str(e)) from None
    if spec is None:
        raise StoreError(f"NATS context {name!r} names no server URL")
    spec = replace(spec, read_only=read_only or settings.read_only)
    ctx = nats_context.load(name, files_env)
    about = f" ({ctx.description})" if ctx.description else ""
    return Choice("context", f"{name}{about}: {spec.label}", spec, settings)


def same_backend(spec: StoreSpec) -> str:
    """What tells one backend from another (read-only or not, it is the same one)."""
    return replace(spec, read_only=False).label


def choices(current: StoreSpec, recent: Sequence[Choice], target: NatsSpec | None, *,
            read_only: bool, env: Mapping[str, str] = os.environ) -> tuple[list[Choice], list[str]]:
    """What `:` offers, the backend open now left out, and a line for each context that could
    not be read (said, not listed). read_only: the app was started read-only, so every
    backend it opens is."""
    like = target if target is not None else current if isinstance(current, NatsSpec) else None
    found: list[Choice] = []
    problems: list[str] = []
    if target is not None:
        found.append(Choice("migration target", target.label, replace(target, read_only=read_only)))
    found.extend(replace(c, kind="recent") for c in recent)
    for name in nats_context.known(env):
        try:
            found.append(context_choice(name, like, read_only, env))
        except StoreError as e:
            problems.append(str(e))
    seen = {same_backend(current)}
    unique = []
    for c in found:  # the same backend reached two ways is listed once, the first way
        if same_backend(c.spec) not in seen:
            seen.add(same_backend(c.spec))
            unique.append(c)
    return unique, problems
