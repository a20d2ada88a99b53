"""Before a migration creates anything: may this NATS user create what is missing and write
where the migration writes? (SPEC 5.8: a migration refused part-way must leave no empty
bucket behind that then looks healthy.)

Nothing is made by asking. A stream create is asked with a body whose name differs from the
subject's, which the server answers with an error (10056) and never acts on; a publish
carries `Nats-Expected-Stream` naming no stream, so a stream that exists refuses to store it
(10060) and a subject with no stream yet has no responders. Either answer means permitted; a
permissions violation comes instead of the answer and names the subject (Refused, exit 4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import nats.errors

from ..aio import gather_settled
from ..errors import Refused, StoreError, Unavailable
from ..layout import BUCKETS

if TYPE_CHECKING:
    from .store import KvStore

#: a stream name no deployment has: what a probing publish expects, so nothing is stored
PROBE_STREAM = "membership-admin-permission-probe"
#: the key a probing publish names (a valid key, never stored)
PROBE_KEY = "membership-admin-permission-probe"


async def check_migration_rights(store: KvStore, actions: tuple[str, ...] = ("migrate",)) -> None:
    """Raise Refused (naming the subject) unless the store's NATS user may create each
    missing bucket and the audit stream and publish to every bucket and to the audit
    subjects of `actions`. Raises Unavailable when the server does not answer."""
    audit = store.audit
    creates = [store.stream(b) for b in BUCKETS if not store.has_bucket(b)]
    if await audit.info() is None:
        creates.append(audit.name)
    publishes = [store.subject_prefix(b) + PROBE_KEY for b in BUCKETS]
    publishes += [f"{audit.name}.{a}" for a in actions]
    # creations first, then writes: which refusal is named does not depend on timing
    await gather_settled(*(_create(store, name) for name in creates))
    await gather_settled(*(_publish(store, subject) for subject in publishes))


async def _create(store: KvStore, stream: str) -> None:
    subject = f"$JS.API.STREAM.CREATE.{stream}"
    try:
        await store.conn.request(subject, {"name": f"{stream}-{PROBE_STREAM}"})
    except Refused:
        raise
    except Unavailable as e:
        if "does not match" not in str(e):  # the answer asked for: the user may create it
            raise Unavailable(f"cannot check the right to create {stream}: {e}") from None


async def _publish(store: KvStore, subject: str) -> None:
    conn = store.conn
    request = conn.nc.request(subject, b"", timeout=conn.timeout, headers={"Nats-Expected-Stream": PROBE_STREAM})
    try:
        await conn.guarded(request, [subject])
    except (nats.errors.NoRespondersError, StoreError) as e:
        if isinstance(e, Refused):
            raise
        return  # no stream there yet: the migration creates it
    except (TimeoutError, nats.errors.TimeoutError):
        raise Unavailable(f"cannot check the right to publish to {subject}: no answer within "
                          f"{conn.timeout:g}s") from None
