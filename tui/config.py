"""The tool's own settings: `$XDG_CONFIG_HOME/membership-admin/config.toml` (SPEC section 9).

Per natscli context (the name the backend's settings came from):

    [contexts.prod]
    read_only = true          # changes need --write on the command line
    label = "PRODUCTION"      # shown in the header, so production looks unlike staging
    color = "red"             # the header's background

A file that does not exist is no settings; one that cannot be read is bad input (exit 2),
never silently ignored: a production context that lost its read_only would be a surprise.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from store import InvalidInput

#: header colours a person can name: Textual's named colours (and #rrggbb)
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}|[a-z]{3,20}")


@dataclass(frozen=True)
class ContextSettings:
    read_only: bool = False
    label: str = ""
    color: str = ""


def config_path(env: Mapping[str, str] = os.environ) -> Path:
    base = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config")
    return Path(base) / "membership-admin" / "config.toml"


def load_document(env: Mapping[str, str] = os.environ) -> dict:
    """The whole config file as a dict ({} when there is none). Raises InvalidInput."""
    path = config_path(env)
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise InvalidInput(f"cannot read {path}: {e}") from None


def context_settings(context: str | None, env: Mapping[str, str] = os.environ) -> ContextSettings:
    """The settings of one context (the defaults for none or an unlisted one)."""
    if not context:
        return ContextSettings()
    doc = load_document(env)
    contexts = doc.get("contexts", {})
    entry = contexts.get(context, {}) if isinstance(contexts, dict) else {}
    if not isinstance(entry, dict):
        raise InvalidInput(f"{config_path(env)}: [contexts.{context}] is not a table")
    read_only, label, color = entry.get("read_only", False), entry.get("label", ""), entry.get("color", "")
    if not isinstance(read_only, bool):
        raise InvalidInput(f"{config_path(env)}: contexts.{context}.read_only must be true or false")
    if not isinstance(label, str) or len(label) > 40:
        raise InvalidInput(f"{config_path(env)}: contexts.{context}.label must be text of at most 40 characters")
    if not isinstance(color, str) or (color and not _COLOR.fullmatch(color)):
        raise InvalidInput(f"{config_path(env)}: contexts.{context}.color must be a colour name or #rrggbb")
    return ContextSettings(read_only, label, color)
