"""The tool's own settings: `$XDG_CONFIG_HOME/membership-admin/config.toml` (SPEC section 9).

At the top, the TUI's theme, written there when one is chosen in the command palette:

    theme = "nord"

Per natscli context (the name the backend's settings came from):

    [contexts.prod]
    read_only = true          # changes need --write on the command line
    label = "PRODUCTION"      # shown in the header, so production looks unlike staging
    color = "red"             # the header's background

A file that does not exist is no settings; one that cannot be read is bad input (exit 2),
never silently ignored: a production context that lost its read_only would be a surprise.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from store import InvalidInput
from store.operator_files import read_file

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
    return read_document(config_path(env))


def read_document(path: Path) -> dict:
    """A config file as a dict ({} when there is none). Raises InvalidInput (also for one that
    is not a regular file: a FIFO would block the command until someone writes to it)."""
    data = read_file(path, "the config file", missing_ok=True)
    if data is None:
        return {}
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
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


def saved_theme(env: Mapping[str, str] = os.environ) -> str:
    """The theme last chosen in the TUI ("" for none). Raises InvalidInput."""
    theme = load_document(env).get("theme", "")
    if not isinstance(theme, str):
        raise InvalidInput(f"{config_path(env)}: theme must be a theme's name, as text")
    return theme


#: the first table header: the file's own keys (such as theme) all come before it
_FIRST_TABLE = re.compile(r"^[ \t]*\[", re.MULTILINE)
_THEME_LINE = re.compile(r"^[ \t]*theme[ \t]*=.*$", re.MULTILINE)


def with_theme(text: str, name: str) -> str:
    """The config file's text with `theme = "name"` at its top level, the rest as it was
    (comments, order, the contexts): the line replaced if there is one, else added after the
    file's own keys (at its start when it has none: the comments above a table are the
    table's). tomllib only reads, and one key does not need a TOML writer."""
    line = f"theme = {json.dumps(name)}"  # a TOML basic string: JSON's escapes are TOML's
    first = _FIRST_TABLE.search(text)
    top, rest = (text[:first.start()], text[first.start():]) if first else (text, "")
    if _THEME_LINE.search(top):
        return _THEME_LINE.sub(lambda _: line, top, count=1) + rest
    lines = top.splitlines(keepends=True)
    keys = [i for i, s in enumerate(lines) if s.strip() and not s.lstrip().startswith("#")]
    if keys:
        after = keys[-1] + 1
        if not lines[keys[-1]].endswith("\n"):
            lines[keys[-1]] += "\n"
        lines.insert(after, line + "\n")
    else:
        lines.insert(0, line + "\n" + ("\n" if text.strip() else ""))
    return "".join(lines) + rest


def save_theme(name: str, path: Path) -> None:
    """Write the theme into the config file at path (made if there is none), keeping all else
    in it. Nothing is written when the result would not read back as the same settings with
    this theme (a file too unusual to edit by line). Raises InvalidInput, OSError."""
    data = read_file(path, "the config file", missing_ok=True)
    try:
        text = (data or b"").decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text; add theme = {json.dumps(name)} by hand") from None
    before = read_document(path) if text else {}
    after = with_theme(text, name)
    try:
        ok = tomllib.loads(after) == {**before, "theme": name}
    except tomllib.TOMLDecodeError:
        ok = False
    if not ok:
        raise InvalidInput(f"{path}: could not add theme = {json.dumps(name)} to it; add that line by hand")
    path.parent.mkdir(parents=True, exist_ok=True)
    # a whole new file or the old one: never half a file after a crash
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=".config-",
                                     suffix=".toml", delete=False) as f:
        f.write(after)
    try:
        if text:
            os.chmod(f.name, path.stat().st_mode & 0o777)
        os.replace(f.name, path)
    except OSError:
        os.unlink(f.name)
        raise
