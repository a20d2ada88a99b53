"""The backends `:` offers to open without leaving (k9s's `:ctx`): the natscli contexts, the
backends opened recently (in this run and before: kept in $XDG_STATE_HOME/membership-admin/
recent.json, never with a secret), and the migration's target.

Functions of what the app knows and of the operator's files: the picker (screens/backends.py)
shows them, the app switches (app.py switch_backend).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from store import NatsSpec, SqliteSpec, StoreError, StoreSpec

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


# -- the backends opened recently, kept between runs ------------------------------------------
#: how many the file keeps, newest first
KEEP = 10
#: a kept KV deployment's settings that name files or a user, never a secret
_NATS_FILES = ("user", "creds", "nkey", "ca", "cert", "key")


def recent_path(env: Mapping[str, str] = os.environ) -> Path:
    base = env.get("XDG_STATE_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".local", "state")
    return Path(base) / "membership-admin" / "recent.json"


def entry_of(spec: StoreSpec) -> dict[str, Any] | None:
    """What the file keeps of a backend: a path, a context's name, or a URL with the files it
    needs. None for a backend that needs a secret to open (a password or a token, also in its
    URL): it is offered in this run only."""
    if isinstance(spec, SqliteSpec):
        return {"sqlite": os.path.abspath(spec.path)}
    if spec.context:
        return {"context": spec.context, "prefix": spec.bucket_prefix}
    if spec.password or spec.token or spec.shown_url != spec.url:
        return None
    files = {f: getattr(spec, f) for f in _NATS_FILES if getattr(spec, f)}
    return {"url": spec.url, "prefix": spec.bucket_prefix} | files


def choice_of(entry: object, read_only: bool, env: Mapping[str, str] = os.environ) -> Choice | None:
    """A kept entry as a choice again (None: not one this version wrote, or a context gone)."""
    if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
        return None
    try:
        if "sqlite" in entry:
            spec: StoreSpec = SqliteSpec(entry["sqlite"], read_only=read_only)
        elif "context" in entry:
            like = NatsSpec(url="", bucket_prefix=entry.get("prefix", ""))
            return replace(context_choice(entry["context"], like, read_only, env), kind="recent")
        elif "url" in entry:
            spec = NatsSpec(url=entry["url"], bucket_prefix=entry.get("prefix", ""), read_only=read_only,
                            **{f: entry[f] for f in _NATS_FILES if f in entry})
        else:
            return None
    except StoreError:
        return None
    return Choice("recent", spec.label, spec)


def load_recent(path: Path, read_only: bool, env: Mapping[str, str] = os.environ) -> list[Choice]:
    """The backends kept in path, newest first; nothing when there is no such regular file or
    it cannot be read (a convenience: it never stops the program)."""
    try:
        if not path.is_file():  # a FIFO would block the start
            return []
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return []
    found = [choice_of(e, read_only, env) for e in entries] if isinstance(entries, list) else []
    return [c for c in found if c is not None]


def save_recent(path: Path, specs: Sequence[StoreSpec]) -> None:
    """Keep these backends (newest first) for the next runs. Raises OSError."""
    entries: list[dict[str, Any]] = []
    for spec in specs:
        entry = entry_of(spec)
        if entry is not None and entry not in entries:
            entries.append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(entries[:KEEP], indent=1) + "\n", encoding="utf-8")
    part.replace(path)  # whole or not at all: another instance may read it meanwhile
