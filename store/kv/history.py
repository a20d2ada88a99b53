"""A record's revisions in a KV bucket (`h` on a user): every message kept on its subject,
read from the stream leader one API message get at a time (a bucket keeps few: 16 in the
buckets the tool creates, what the daemon chose in its own)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime

from ..errors import BadRecord, NotFound
from ..models import Revision, User
from .connection import Connection

_DELETED = (b"KV-Operation: DEL", b"KV-Operation: PURGE")
#: more revisions than any bucket keeps: a bound on the loop, not a limit anyone meets
_MAX = 1024


async def user_revisions(conn: Connection, stream: str, prefix: str, key: str,
                         decode: Callable[[bytes], User]) -> list[Revision]:
    """The revisions of one user's record, oldest first. A revision that does not decode is
    left out (the current one is flagged by the users view)."""
    subject = prefix + key
    out: list[Revision] = []
    seq = 1
    for _ in range(_MAX):
        try:
            resp = await conn.read(f"$JS.API.STREAM.MSG.GET.{stream}", {"seq": seq, "next_by_subj": subject})
        except NotFound:
            break
        m = resp["message"]
        seq = int(m["seq"]) + 1
        at = _unix(m.get("time"))
        headers = base64.b64decode(m.get("hdrs") or "")
        if any(marker in headers for marker in _DELETED):
            out.append(Revision(None, seq - 1, at))
            continue
        try:
            out.append(Revision(decode(base64.b64decode(m.get("data") or "")), seq - 1, at))
        except BadRecord:
            continue
    return out


def _unix(text: str | None) -> int | None:
    """An RFC 3339 time of the server (nanoseconds and all) as Unix seconds."""
    if not text:
        return None
    try:
        return int(datetime.fromisoformat(text[:19] + "+00:00").timestamp())
    except ValueError:
        return None
