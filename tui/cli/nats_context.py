"""natscli contexts (NATS ADR-21): the connection settings NATS operators already keep.

A context is a JSON file `$XDG_CONFIG_HOME/nats/context/NAME.json` (XDG_CONFIG_HOME defaults
to ~/.config); the selected one is named in `$XDG_CONFIG_HOME/nats/context.txt`. Only the
fields SPEC section 9 names are read; the rest of a context (nsc, jetstream domain...) is
left alone. Reading never writes: selecting a context is natscli's job.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from store import InvalidInput
from store.operator_files import read_text

_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,128}")  # no path separators: a name is not a path


@dataclass(frozen=True)
class Context:
    """The fields of one context this tool uses; empty strings are None."""

    name: str
    url: str | None = None
    user: str | None = None
    password: str | None = None
    token: str | None = None
    creds: str | None = None
    nkey: str | None = None
    cert: str | None = None
    key: str | None = None
    ca: str | None = None
    description: str | None = None


def config_home(env: Mapping[str, str] = os.environ) -> Path:
    base = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config")
    return Path(base)


def context_dir(env: Mapping[str, str] = os.environ) -> Path:
    return config_home(env) / "nats" / "context"


def known(env: Mapping[str, str] = os.environ) -> list[str]:
    """Names of the contexts on disk, sorted."""
    try:
        return sorted(p.stem for p in context_dir(env).glob("*.json") if p.is_file())
    except OSError:
        return []


def selected(env: Mapping[str, str] = os.environ) -> str | None:
    """The context natscli has selected (context.txt), if any. Raises InvalidInput for a
    context.txt that is not a regular file (a FIFO would block until someone writes to it)."""
    text = read_text(config_home(env) / "nats" / "context.txt", "natscli's context.txt", missing_ok=True)
    return (text or "").strip() or None


def load(name: str, env: Mapping[str, str] = os.environ) -> Context:
    """The named context. Raises InvalidInput (unknown, naming the known ones; unreadable)."""
    names = known(env)
    if not _NAME.fullmatch(name) or name not in names:
        listing = ", ".join(names) if names else f"none in {context_dir(env)}"
        raise InvalidInput(f"unknown NATS context {name!r} (known: {listing})")
    path = context_dir(env) / f"{name}.json"
    text = read_text(path, f"NATS context {name!r}")
    try:
        doc = json.loads(text or "")
    except ValueError as e:
        raise InvalidInput(f"cannot read NATS context {name!r} ({path}): {e}") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"cannot read NATS context {name!r} ({path}): not a JSON object")
    values: dict[str, str | None] = {}
    for f in fields(Context):
        if f.name in ("name",):
            continue
        v = doc.get(f.name)
        if v is not None and not isinstance(v, str):
            raise InvalidInput(f"NATS context {name!r}: field {f.name!r} is not text")
        values[f.name] = v or None
    for path_field in ("creds", "nkey", "cert", "key", "ca"):  # natscli expands ~ in file paths
        file = values.get(path_field)
        if file:
            values[path_field] = os.path.expanduser(file)
    return Context(name=name, **values)
