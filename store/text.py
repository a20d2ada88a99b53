"""Stored values shown to a person: text made safe for a terminal, timestamps as ISO dates,
sealed keys as fingerprints.

Stored names may hold anything a daemon wrote, escape sequences included (an ESC[2J
clears the operator's screen); every CLI table and TUI cell shows them through printable().
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

# C0 and C1 controls, DEL, and the invisible format characters that reorder or hide text
# (bidi overrides and isolates, line and paragraph separators, zero-width joiners excepted)
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    return _NAMED.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")


def printable(text: object) -> str:
    """text with every control character written as a visible escape (\\e, \\n, \\x07 ...),
    and lone surrogates (text that was not UTF-8) as \\udcNN: one line, nothing the terminal
    would act on."""
    s = text if isinstance(text, str) else str(text)
    if s.isascii() and s.isprintable():
        return s  # the common case, checked in C
    s = _UNSAFE.sub(_escape, s)
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-8", "backslashreplace").decode("utf-8")
    return s


def iso_time(ts: int | None, seconds: bool = False) -> str:
    """Unix seconds as a UTC date and time ('' for None); a value no calendar holds is shown
    as its number, never an error."""
    if ts is None:
        return ""
    try:
        when = dt.datetime.fromtimestamp(ts, dt.UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        return f"@{ts}"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ" if seconds else "%Y-%m-%d %H:%M")


def fingerprint(data: bytes) -> str:
    """8 hex digits of SHA-256: enough to tell keys apart, reveals nothing of them."""
    return hashlib.sha256(data).hexdigest()[:8]
