"""The audit trail on JetStream (SPEC section 10): an append-only stream
`<prefix>membership_audit`, subjects `<prefix>membership_audit.<action>`, file storage, the
users bucket's replicas, deny_delete and deny_purge, each event published with
`Nats-Msg-Id: <id>-<phase>` so that a retried publish is not stored twice.

Only the migration and `audit init` create the stream (opening never creates anything), with
the config of store.kv.audit_check, which also judges a stream found (a weaker one is named,
and changes say so). A change needs its intent acknowledged first: without the stream, a
quorum or the permission to publish there, the change is refused and nothing changes (fail
closed).

Reading goes by stream sequence with API message gets (answered by the stream leader), a
window at a time: the cursor of `audit --follow` is the last sequence read.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Sequence
from typing import Any

from ..aio import gather_settled
from ..audit import AuditEvent, AuditPhase, Note, record
from ..errors import BadRecord, NotFound, StoreError, Unavailable
from ..models import InvalidRecord, User
from ..spec import NatsSpec
from .audit_check import audit_stream_config, audit_stream_problems
from .connection import Connection

STREAM = "membership_audit"
#: messages read (or published) at once: a window of requests in flight
_WINDOW = 128
_log = logging.getLogger(__name__)


class AuditStream:
    def __init__(self, conn: Connection, spec: NatsSpec) -> None:
        self.conn = conn
        self.spec = spec
        self.name = spec.bucket_prefix + STREAM

    def subject(self, event: AuditEvent) -> str:
        return f"{self.name}.{event.action}"

    async def info(self) -> dict | None:
        try:
            return await self.conn.read(f"$JS.API.STREAM.INFO.{self.name}")
        except NotFound:
            return None

    async def ensure(self, replicas: int) -> bool:
        """Create the stream unless it exists (the migration's step and `audit init`;
        idempotent). True when this call created it."""
        if await self.info() is not None:
            return False
        try:
            await self.conn.request(f"$JS.API.STREAM.CREATE.{self.name}", audit_stream_config(self.name, replicas))
        except StoreError:
            if await self.info() is None:  # not made meanwhile by another process
                raise
            return False
        return True

    async def problems(self, users_replicas: int | None) -> list[str] | None:
        """What makes the existing stream weaker than SPEC 10 (store.kv.audit_check); None
        when there is no stream."""
        info = await self.info()
        if info is None:
            return None
        return audit_stream_problems(info.get("config") or {}, users_replicas)

    async def publish(self, event: AuditEvent) -> None:
        """Publish one event and wait for its acknowledgement. Raises Refused (no permission),
        Unavailable (no stream, no quorum, no answer within the timeout)."""
        subject = self.subject(event)
        try:
            await self.conn.bounded(
                self.conn.js.publish(subject, event.to_json().encode(), timeout=self.conn.timeout,
                                     headers={"Nats-Msg-Id": event.msg_id}),
                f"audit {event.phase} of {event.action} {event.target}", [subject])
        except Unavailable:
            if await self.info() is None:  # no stream answered: is there one?
                raise Unavailable(f"no audit stream {self.name} ({self.spec.shown_url}): a change needs "
                                  "its audit trail; `membership-admin audit init` creates the stream") from None
            raise

    async def around(self, note: Note, before: User | None, after: User, change: Awaitable[Any]) -> None:
        """Make a change under its audit trail: the intent acknowledged first (else the
        change is never started: fail closed), then done or failed."""
        was, will = record(before), record(after)
        try:
            await self.publish(note.event(AuditPhase.INTENT, was, will))
        except BaseException:
            if asyncio.iscoroutine(change):
                change.close()  # never started: nothing to undo
            raise
        try:
            await change
        except StoreError as e:
            await self.publish_outcome(note.event(AuditPhase.FAILED, was, will, result=str(e)))
            raise
        await self.publish_outcome(note.event(AuditPhase.DONE, was, will))

    async def publish_outcome(self, event: AuditEvent) -> None:
        """A done or failed event: the change is made (or failed) whatever happens here, so a
        failure to record it is logged, never raised over the change's own result."""
        try:
            await self.publish(event)
        except StoreError as e:
            _log.warning("audit %s of %s %s not recorded: %s", event.phase, event.action, event.target, e)

    async def read_after(self, cursor: int, invalid: list[InvalidRecord] | None = None
                         ) -> tuple[list[AuditEvent], int]:
        """Events stored after sequence cursor, in order, and the last sequence read. A
        deployment without the stream has none."""
        info = await self.info()
        if info is None:
            return [], cursor
        state = info.get("state", {})
        last = int(state.get("last_seq", 0))
        start = max(cursor + 1, int(state.get("first_seq", 1)))
        events: list[AuditEvent] = []
        for low in range(start, last + 1, _WINDOW):
            seqs = range(low, min(low + _WINDOW, last + 1))
            for seq, msg in zip(seqs, await gather_settled(*(self._get(s) for s in seqs)), strict=True):
                if msg is None:
                    continue
                try:
                    events.append(AuditEvent.from_json(base64.b64decode(msg.get("data", "") or "")))
                except (BadRecord, ValueError) as e:
                    if invalid is not None:
                        invalid.append(InvalidRecord(self.name, str(seq), str(e)))
        return events, max(cursor, last)

    async def _get(self, seq: int) -> dict | None:
        try:
            resp = await self.conn.read(f"$JS.API.STREAM.MSG.GET.{self.name}", {"seq": seq})
        except NotFound:  # a sequence without a message (none is deleted here, but a gap is no error)
            return None
        return resp.get("message")

    async def write_missing(self, events: Sequence[AuditEvent]) -> int:
        """Publish the events the stream does not hold yet (by id and phase), in order:
        a copy that adds nothing the second time, whatever the duplicate window."""
        held = {e.key for e in (await self.read_after(0))[0]}
        missing = [e for e in events if e.key not in held]
        for low in range(0, len(missing), _WINDOW):
            await gather_settled(*(self.publish(e) for e in missing[low:low + _WINDOW]))
        return len(missing)
