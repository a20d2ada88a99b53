"""The JetStream KV backend (SPEC sections 2, 4 and 6) on nats-py.

Layout: five buckets (BUCKETS), each named `prefix + base name`, values encoded by
store.codec. Buckets are created with the requested replicas when missing and used
as they are when present (the daemon may have created them, with direct gets).

For the migration engineer:
  KvStore.nc             the nats.aio.client.Client
  KvStore.js             its JetStreamContext (timeout = op_timeout)
  KvStore.bucket(base)   full bucket name, e.g. bucket("users") -> "pfx_users"
  KvStore.replicas_used  replicas of the buckets (created or found); None if none exist
  KvStore.kv(base)       the nats.js.kv.KeyValue of that bucket (put/create/update ...)
  KvStore.ensure_buckets(replicas) create the missing buckets (idempotent)
  KvStore._scan(base, filt=">") [(key, value bytes)] of the live keys, one ordered
                         consumer pass (used by the migration's parity read)

Multi-key writes are ordered so that a crash in between leaves a state a parity
diff reports and a re-run repairs:
  create_room: owner's key, member row, reverse row, then the room row last (the
    room row is the commit point; a re-run after a crash overwrites the children);
  add_member:  key, member row, reverse row (a re-run adds a missing reverse row);
  remove_member: reverse row, then member row;
  delete_room: reverse rows, member rows, keys, then the room row last;
  rekey: the new epoch's keys (compare-and-set each), then the room (compare-and-set).

Authorization reads (is_authorized, is_admin) go to the stream leader with a
JetStream API message get, together with the leader's stream info, and admit only
when that info shows a quorum of current, recently heard peers (fail closed).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from operator import attrgetter
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.js.kv import KeyValue

from . import codec, domain, ids
from .aio import gather_settled, settle
from .base import Store
from .errors import BadRecord, Conflict, InvalidInput, NotFound, ReadOnly, StoreError, Unavailable
from .layout import MEMBERS, ROOM_KEYS, ROOMS, ROOMS_BY_MEMBER, USERS, Bucket
from .models import InvalidRecord, Member, Role, Room, SealedKey, Snapshot, Status, User, UserRole
from .snapshot import make_snapshot, paused_gc
from .spec import Clock, NatsSpec, system_clock

_log = logging.getLogger(__name__)

BUCKETS = ("rooms", "members", "rooms_by_member", "room_keys", "users")

T = TypeVar("T")

#: Peer liveness as the stream leader sees it (`active`: time since it last heard the
#: peer). Measured on idle local clusters: healthy peers are heard every 1-2 s (up to
#: ~1.98 s), while after a SIGKILL `current` stays true and `offline` unset for ~10 s.
#: An authorization admits only on a quorum heard within FRESH_S; a quorum heard
#: within STALE_S (a heartbeat may still come) is re-read until fresh or timed out.
FRESH_S = 1.5
STALE_S = 3.0
POLL_S = 0.1

_DELETED = ("DEL", "PURGE")  # KV-Operation of a delete or purge marker
_CHUNK = 1000  # values parsed per json.loads in a bulk decode
_NOT_FOUND_CODES = (10059,)  # stream not found
_WRONG_LAST = 10071  # wrong last sequence


class KvStore(Store):
    """A Store on JetStream KV buckets. Open with `await KvStore.open(spec)`."""

    def __init__(self, spec: NatsSpec, nc: Any, clock: Clock) -> None:
        self.spec = spec
        self.nc = nc
        self.js = nc.jetstream(timeout=spec.op_timeout)
        self.clock = clock
        self.read_only = spec.read_only
        self.label = spec.label
        self.timeout = self.op_timeout = spec.op_timeout
        self.replicas_used: int | None = None
        self._kv: dict[str, KeyValue] = {}
        self._exists: dict[str, bool] = {}
        self._unknown: set[str] = set()  # streams that did not answer at open
        self._closed = False

    # -- opening ---------------------------------------------------------------
    @classmethod
    async def open(cls, spec: NatsSpec, clock: Clock = system_clock) -> "KvStore":
        """Connect and find (or, unless read-only, create) the buckets.

        Raises: Unavailable (unreachable, TLS/auth failure, no JetStream, timeout).
        """
        nc = await connect(spec)
        store = cls(spec, nc, clock)
        try:
            await store._discover()
            if not spec.read_only:
                await store.ensure_buckets(spec.replicas)
        except BaseException:
            await store.close()
            raise
        return store

    def bucket(self, base: str) -> str:
        """The full bucket name of one of BUCKETS."""
        if base not in BUCKETS:
            raise ValueError(f"unknown bucket {base!r}")
        return self.spec.bucket_prefix + base

    def stream(self, base: str) -> str:
        return "KV_" + self.bucket(base)

    def kv(self, base: str) -> KeyValue:
        return self._kv[base]

    async def _discover(self) -> None:
        async def one(base: str) -> None:
            try:
                self._set_bucket(base, await self._stream_info(base))
            except Unavailable:
                # a stream without a leader right now: assume it exists, so its
                # operations fail (or recover) on their own instead of the whole open
                self._set_bucket(base, {"config": {"allow_direct": False}}, known=False)

        await asyncio.gather(*(one(b) for b in BUCKETS))
        if not any(self._exists.values()) and self._unknown:
            raise Unavailable(f"{self.spec.url}: no bucket answered within {self.timeout:g}s")

    def _set_bucket(self, base: str, info: dict | None, known: bool = True) -> None:
        name = self.bucket(base)
        direct = bool(info and info["config"].get("allow_direct"))
        self._exists[base] = info is not None
        self._kv[base] = KeyValue(name=name, stream="KV_" + name, pre=f"$KV.{name}.", js=self.js,
                                  direct=direct)
        if not known:
            self._unknown.add(base)
            return
        self._unknown.discard(base)
        if info is not None and self.replicas_used is None:
            self.replicas_used = int(info["config"].get("num_replicas", 1))

    async def ensure_buckets(self, replicas: int | None = None) -> int:
        """Create the missing buckets; return the replicas used.

        replicas None: 3 where the cluster can hold it, else 1.
        Raises: ReadOnly, InvalidInput (replicas out of 1..5), Unavailable.
        """
        self._writable()
        if replicas is not None and not 1 <= replicas <= 5:
            raise InvalidInput(f"invalid replicas {replicas}: expected 1 to 5")
        for base in BUCKETS:
            if self._exists.get(base):
                continue
            info = await self._stream_info(base)
            if info is None:
                info = await self._create_bucket(base, replicas)
            self._set_bucket(base, info)
        assert self.replicas_used is not None
        return self.replicas_used

    async def _create_bucket(self, base: str, replicas: int | None) -> dict:
        tries = [replicas] if replicas is not None else (
            [self.replicas_used] if self.replicas_used is not None else [3, 1])
        last: Exception | None = None
        for r in tries:
            cfg = {
                "name": self.stream(base), "subjects": [f"$KV.{self.bucket(base)}.>"],
                "retention": "limits", "max_consumers": -1, "max_msgs": -1, "max_bytes": -1,
                "max_age": 0, "max_msgs_per_subject": 1, "max_msg_size": -1, "storage": "file",
                "discard": "new", "num_replicas": r, "duplicate_window": 120_000_000_000,
                "allow_rollup_hdrs": True, "deny_delete": True, "deny_purge": False,
                "allow_direct": True,
            }
            try:
                resp = await self._api(f"$JS.API.STREAM.CREATE.{self.stream(base)}", cfg)
            except StoreError as e:
                last = e
                continue
            self.replicas_used = r
            return resp
        # another process may have created it meanwhile
        info = await self._stream_info(base)
        if info is not None:
            return info
        raise Unavailable(f"cannot create bucket {self.bucket(base)}: {last}")

    # -- plumbing --------------------------------------------------------------
    async def _bounded(self, aw: Awaitable[T], what: str) -> T:
        """Run one KV operation within op_timeout, mapping nats errors to store errors."""
        try:
            return await asyncio.wait_for(aw, self.timeout)
        except StoreError:
            raise
        except (asyncio.TimeoutError, nats.errors.TimeoutError):
            raise Unavailable(f"{what}: no answer within {self.timeout:g}s") from None
        except nats.js.errors.KeyWrongLastSequenceError:
            raise Conflict(f"{what}: changed meanwhile") from None
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.NotFoundError,
                nats.js.errors.NoKeysError):
            raise NotFound(f"{what}: not found") from None
        except nats.js.errors.APIError as e:
            if e.err_code == _WRONG_LAST:
                raise Conflict(f"{what}: changed meanwhile") from None
            raise Unavailable(f"{what}: {e.description or e}") from None
        except nats.errors.NoRespondersError:
            raise Unavailable(f"{what}: no JetStream responders (no quorum?)") from None
        except (nats.errors.Error, OSError) as e:
            raise Unavailable(f"{what}: {type(e).__name__} {e}".rstrip()) from None

    async def _api(self, subject: str, payload: Any = None, timeout: float | None = None) -> dict:
        """One JetStream API request; returns the JSON answer or raises a store error."""
        data = b"" if payload is None else json.dumps(payload).encode()
        t = self.timeout if timeout is None else timeout
        try:
            msg = await self.nc.request(subject, data, timeout=t)
        except (asyncio.TimeoutError, nats.errors.TimeoutError):
            raise Unavailable(f"{subject}: no answer within {t:g}s") from None
        except nats.errors.NoRespondersError:
            raise Unavailable(f"{subject}: no JetStream responders (no quorum?)") from None
        except (nats.errors.Error, OSError) as e:
            raise Unavailable(f"{subject}: {type(e).__name__} {e}".rstrip()) from None
        try:
            resp = json.loads(msg.data)
        except ValueError:
            raise Unavailable(f"{subject}: unreadable answer") from None
        err = resp.get("error")
        if err:
            code = err.get("err_code")
            text = err.get("description", "error")
            if code in _NOT_FOUND_CODES or err.get("code") == 404:
                raise NotFound(text)
            raise Unavailable(f"{text} (code {code})")
        return resp

    async def _read_api(self, subject: str, payload: Any = None, timeout: float | None = None) -> dict:
        """A read-only API request, retried within the bound: a request written to a
        connection that just died is lost, and the retry goes out after the reconnect."""
        total = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + total
        attempt = max(0.25, total / 2)
        while True:
            left = deadline - time.monotonic()
            try:
                return await self._api(subject, payload, timeout=min(attempt, max(left, 0.01)))
            except Unavailable:
                if deadline - time.monotonic() < 0.05:
                    raise
                await asyncio.sleep(0.02)

    async def _stream_info(self, base: str, timeout: float | None = None) -> dict | None:
        """The stream's info from its leader, or None when the stream does not exist."""
        try:
            return await self._read_api(f"$JS.API.STREAM.INFO.{self.stream(base)}", timeout=timeout)
        except NotFound:
            return None

    def _writable(self) -> None:
        if self.read_only:
            raise ReadOnly(f"{self.label}: opened read-only, no change is made")

    async def _get(self, base: str, key: str) -> tuple[bytes, int] | None:
        """(value, revision) of a key, None when missing or deleted."""
        if not self._exists.get(base):
            return None
        try:
            e = await self._bounded(self._kv[base].get(key), f"get {self.bucket(base)} {key}")
        except NotFound:
            return None
        return (e.value or b"", e.revision or 0)

    async def _put(self, base: str, key: str, value: bytes) -> int:
        self._writable()
        return await self._bounded(self._kv[base].put(key, value), f"put {self.bucket(base)} {key}")

    async def _create(self, base: str, key: str, value: bytes, exists: StoreError) -> int:
        """Write a key that must not exist yet; raise `exists` when it does."""
        self._writable()
        try:
            return await self._bounded(self._kv[base].create(key, value),
                                       f"create {self.bucket(base)} {key}")
        except (Conflict, NotFound):
            # NotFound: the server refused the create (a value exists), then nats-py's
            # "was it a delete marker?" get went to a replica that has not caught up
            raise exists from None

    async def _update(self, base: str, key: str, value: bytes, last: int, what: str) -> int:
        self._writable()
        try:
            return await self._bounded(self._kv[base].update(key, value, last),
                                       f"update {self.bucket(base)} {key}")
        except Conflict:
            raise Conflict(f"{what} was changed meanwhile; re-read and retry") from None

    async def _put_record(self, bucket: Bucket, record: Any) -> int:
        return await self._put(bucket.name, bucket.key(record), bucket.encode(record))

    async def _delete(self, base: str, key: str) -> None:
        self._writable()
        await self._bounded(self._kv[base].delete(key), f"delete {self.bucket(base)} {key}")

    # -- streaming a bucket ----------------------------------------------------
    async def _scan(self, base: str, filt: str = ">", headers_only: bool = False) -> list[tuple[str, bytes]]:
        """(key, value) of every live key matching filt, via an ordered push consumer.

        Delivers the last value per subject, no acks, flow control; messages are
        collected raw and decoded by the caller in bulk. Delete/purge markers are dropped.

        The server places such a consumer on any replica of the stream, and a replica
        that is catching up (a node just restarted) serves the older state it has. So a
        scan must reach the sequence of the newest matching message as the leader had it
        before the scan started; a scan that falls short is made again (landing elsewhere,
        or later) until the operation timeout, then Unavailable.
        """
        if not self._exists.get(base):
            return []
        floor = await self._leader_floor(base, filt)
        gaps = 0
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return await self._scan_once(base, filt, headers_only, floor)
            except _Gap:
                gaps += 1
                if gaps == 3:
                    raise Unavailable(f"scan {self.bucket(base)}: messages lost three times") from None
            except _Behind as e:
                if time.monotonic() > deadline:
                    raise Unavailable(f"scan {self.bucket(base)}: the replica read reached sequence "
                                      f"{e.reached}, the leader has {floor}") from None
                await asyncio.sleep(0.1)

    async def _leader_floor(self, base: str, filt: str) -> int:
        """Stream sequence of the newest message under filt, from the leader (0: none)."""
        if filt == ">":  # the whole bucket: the stream's own state, on any server version
            info = await self._stream_info(base)
            state = (info or {}).get("state", {})
            return state.get("last_seq", 0) if state.get("messages", 0) else 0
        try:
            # an API message get is answered by the leader; a wildcard last_by_subj needs
            # nats-server 2.10+: without it (or without an answer) the scan goes unchecked,
            # as these partial reads only feed views, never a decision
            resp = await self._api(f"$JS.API.STREAM.MSG.GET.{self.stream(base)}",
                                   {"last_by_subj": f"$KV.{self.bucket(base)}.{filt}"})
        except (NotFound, Unavailable):
            return 0
        return int(resp.get("message", {}).get("seq", 0))

    async def _scan_once(self, base: str, filt: str, headers_only: bool,
                         floor: int = 0) -> list[tuple[str, bytes]]:
        nc = self.nc
        inbox = nc.new_inbox()
        sink = _ScanSink(nc, len(self.bucket(base)) + 5)  # "$KV." + bucket + "."
        sub = await subscribe_direct(nc, inbox, sink.on_msg)
        stream = self.stream(base)
        # named by us, so it can be deleted however the scan ends (a cancelled caller
        # included): the server would otherwise keep it until its inactive threshold
        name = f"membership_admin_scan_{uuid.uuid4().hex}"
        cfg = {"name": name, "deliver_policy": "last_per_subject", "ack_policy": "none",
               "deliver_subject": inbox, "filter_subject": f"$KV.{self.bucket(base)}.{filt}",
               "flow_control": True, "idle_heartbeat": 1_000_000_000, "mem_storage": True,
               "num_replicas": 1, "inactive_threshold": 5_000_000_000,
               "headers_only": headers_only, "max_deliver": 1, "replay_policy": "instant"}
        requested = True  # the create may reach the server even if its answer never comes back
        try:
            try:
                # settled: a create cancelled in flight is answered before the delete goes out
                info = await settle(self._api(f"$JS.API.CONSUMER.CREATE.{stream}.{name}",
                                              {"stream_name": stream, "config": cfg}))
            except NotFound:
                requested = False
                return []
            if info.get("num_pending", 0) == 0 and info.get("delivered", {}).get("consumer_seq", 0) == 0:
                if floor:
                    raise _Behind(0)
                return []
            # bounded by inactivity: every op_timeout something must have arrived
            seen = -1
            while True:
                try:
                    last = await asyncio.wait_for(asyncio.shield(sink.done), self.timeout)
                    break
                except asyncio.TimeoutError:
                    if sink.delivered == seen and time.monotonic() - sink.last_activity > self.timeout:
                        raise Unavailable(f"scan {self.bucket(base)}: stalled for {self.timeout:g}s") from None
                    seen = sink.delivered
            # consumer sequence of the last message must equal the count: else a gap;
            # its stream sequence is the newest this replica has (delivery is in order)
            toks = last.split(".")
            cseq = int(toks[-3] if len(toks) == 9 else toks[-4])
            if cseq != sink.delivered:
                raise _Gap()
            sseq = int(toks[-4] if len(toks) == 9 else toks[-5])
            if sseq < floor:
                raise _Behind(sseq)
            return sink.rows
        finally:
            await settle(self._end_scan(sub, stream, name if requested else None))

    async def _end_scan(self, sub: Any, stream: str, consumer: str | None) -> None:
        """Unsubscribe and delete the scan's consumer (bounded; best effort: a consumer
        that cannot be deleted now ends by its inactive threshold)."""
        try:
            await sub.unsubscribe()
        except nats.errors.Error:
            pass
        if consumer is not None and not self.nc.is_closed:
            try:
                await self._api(f"$JS.API.CONSUMER.DELETE.{stream}.{consumer}", timeout=self.timeout)
            except StoreError:
                pass

    # -- decoding helpers ------------------------------------------------------
    def _decode_all(self, base: str, rows: list[tuple[str, bytes]], kind: str, key_of: Any,
                    invalid: list[InvalidRecord]) -> list[Any]:
        """Decode a bucket's rows in bulk (codec.load_many), checking each value's identity
        against its key. Any bad row makes the whole bucket go one value at a time, so every
        reason is exact and a value that broke the bulk parse cannot shift the others.
        """
        from_obj = getattr(codec, f"{kind}_from_obj")
        out: list[Any] = []
        try:
            # in chunks, so the parsed dicts are still in the CPU cache when converted
            for i in range(0, len(rows), _CHUNK):
                chunk = rows[i:i + _CHUNK]
                objs = codec.load_many([data for _, data in chunk])
                if objs is None:
                    raise ValueError("bulk parse failed")
                part = list(map(from_obj, objs))
                if list(map(key_of, part)) != [key for key, _ in chunk]:
                    raise ValueError("a value names another key")
                out += part
            return out
        except ValueError:
            pass
        decode = getattr(codec, f"decode_{kind}")
        out = []
        bucket = self.bucket(base)
        for key, data in rows:
            try:
                obj = decode(data)
            except ValueError as e:
                invalid.append(InvalidRecord(bucket, key, str(e)))
                continue
            k = key_of(obj)
            if k != key:
                invalid.append(InvalidRecord(bucket, key, f"value names {k!r}, not its key"))
                continue
            out.append(obj)
        return out

    async def _rooms(self, invalid: list[InvalidRecord]) -> list[Room]:
        return self._decode_all("rooms", await self._scan("rooms"), "room", attrgetter("id"), invalid)

    async def _members(self, invalid: list[InvalidRecord], filt: str = ">") -> list[Member]:
        return self._decode_all("members", await self._scan("members", filt), "member",
                                lambda m: f"{m.room_id}.{m.endpoint}", invalid)

    async def _keys(self, invalid: list[InvalidRecord], filt: str = ">") -> list[SealedKey]:
        return self._decode_all("room_keys", await self._scan("room_keys", filt), "key",
                                lambda k: f"{k.room_id}.{k.epoch}.{k.endpoint}", invalid)

    async def _users(self, invalid: list[InvalidRecord]) -> list[User]:
        return self._decode_all("users", await self._scan("users"), "user", attrgetter("key"), invalid)

    async def _reverse(self, invalid: list[InvalidRecord]) -> list[tuple[str, str]]:
        return self._decode_all("rooms_by_member", await self._scan("rooms_by_member"), "reverse",
                                lambda t: f"{t[1]}.{t[0]}", invalid)

    def _decode_one(self, base: str, key: str, data: bytes, decode: Any) -> Any:
        try:
            return decode(data)
        except BadRecord as e:
            raise BadRecord(f"stored value {self.bucket(base)}/{key} is invalid: {e}") from None

    # -- rooms -----------------------------------------------------------------
    async def _room_entry(self, room_id: str) -> tuple[Room, int, bytes]:
        got = await self._get("rooms", room_id)
        if got is None:
            raise domain.no_room(room_id)
        return self._decode_one("rooms", room_id, got[0], codec.decode_room), got[1], got[0]

    async def create_room(self, room_id: str, name: str, owner: str, *, encrypted: bool = False,
                          sealed_key: bytes | None = None) -> Room:
        self._writable()
        new = domain.new_room(room_id, name, owner, encrypted, sealed_key, self.clock())
        rid = new.room.id
        if await self._get("rooms", rid) is not None:
            raise domain.room_exists(rid)
        # children first, the room row last: it is the commit point (see module doc)
        if new.key is not None:
            await self._put_record(ROOM_KEYS, new.key)
        await self._put_record(MEMBERS, new.owner)
        await self._put_record(ROOMS_BY_MEMBER, new.owner)
        await self._create("rooms", rid, ROOMS.encode(new.room), domain.room_exists(rid))
        return new.room

    async def get_room(self, room_id: str) -> Room:
        return (await self._room_entry(ids.room_id(room_id)))[0]

    async def list_rooms(self, *, invalid: list[InvalidRecord] | None = None) -> list[Room]:
        return sorted(await self._rooms(invalid if invalid is not None else []), key=lambda r: r.id)

    async def delete_room(self, room_id: str) -> None:
        self._writable()
        room_id = ids.room_id(room_id)
        await self._room_entry(room_id)
        members = await self._scan("members", f"{room_id}.>", headers_only=True)
        keys = await self._scan("room_keys", f"{room_id}.>", headers_only=True)
        # children first, the room last: a crash leaves the room, and a re-run finishes
        for key, _ in members:
            endpoint = key.split(".", 1)[1]
            await self._delete("rooms_by_member", f"{endpoint}.{room_id}")
            await self._delete("members", key)
        for key, _ in keys:
            await self._delete("room_keys", key)
        await self._delete("rooms", room_id)

    # -- members ---------------------------------------------------------------
    async def add_member(self, room_id: str, endpoint: str, *, role: str = Role.MEMBER,
                         sealed_key: bytes | None = None) -> Member:
        self._writable()
        args = domain.member_args(room_id, endpoint, role, sealed_key)
        room, _, _ = await self._room_entry(args.room_id)
        member, key = domain.new_member(args, room, self.clock())
        exists = domain.member_exists(args.room_id, args.endpoint)
        mkey, rkey = MEMBERS.key(member), ROOMS_BY_MEMBER.key(member)
        existing = await self._get("members", mkey)
        if existing is not None:
            # repair a reverse row lost by an interrupted earlier add, then refuse
            if await self._get("rooms_by_member", rkey) is None:
                m = self._decode_one("members", mkey, existing[0], MEMBERS.decode)
                await self._put_record(ROOMS_BY_MEMBER, m)
            raise exists
        if key is not None:
            await self._put_record(ROOM_KEYS, key)
        await self._create("members", mkey, MEMBERS.encode(member), exists)
        await self._put_record(ROOMS_BY_MEMBER, member)
        return member

    async def remove_member(self, room_id: str, endpoint: str) -> None:
        self._writable()
        rid, ep = ids.room_id(room_id), ids.endpoint(endpoint)
        room, _, _ = await self._room_entry(rid)
        domain.check_removable(room, ep)
        mkey = MEMBERS.join(rid, ep)
        if await self._get("members", mkey) is None:
            raise domain.not_a_member(rid, ep)
        await self._delete("rooms_by_member", ROOMS_BY_MEMBER.join(ep, rid))
        await self._delete("members", mkey)

    async def list_members(self, room_id: str) -> list[Member]:
        room_id = ids.room_id(room_id)
        await self._room_entry(room_id)
        return sorted(await self._members([], f"{room_id}.>"), key=lambda m: m.endpoint)

    async def rooms_of_member(self, endpoint: str) -> list[str]:
        endpoint = ids.endpoint(endpoint)
        rows = await self._scan("rooms_by_member", f"{endpoint}.>", headers_only=True)
        return sorted(key.split(".", 1)[1] for key, _ in rows)

    async def member_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for key, _ in await self._scan("members", headers_only=True):
            rid = key.split(".", 1)[0]
            counts[rid] = counts.get(rid, 0) + 1
        return dict(sorted(counts.items()))

    # -- keys ------------------------------------------------------------------
    async def put_key(self, room_id: str, epoch: int, endpoint: str, sealed_key: bytes) -> SealedKey:
        self._writable()
        rid, e, ep = ids.room_id(room_id), ids.epoch(epoch), ids.endpoint(endpoint)
        key = SealedKey(rid, e, ep, ids.sealed_key(sealed_key), self.clock())
        room, _, _ = await self._room_entry(rid)
        domain.check_key_epoch(room, e)
        await self._put_record(ROOM_KEYS, key)
        return key

    async def get_key(self, room_id: str, endpoint: str, epoch: int | None = None) -> SealedKey:
        room_id, endpoint = ids.room_id(room_id), ids.endpoint(endpoint)
        if epoch is None:
            epoch = (await self._room_entry(room_id))[0].epoch
        epoch = ids.epoch(epoch)
        key = ROOM_KEYS.join(room_id, epoch, endpoint)
        got = await self._get("room_keys", key)
        if got is None:
            raise domain.no_key(room_id, endpoint, epoch)
        return self._decode_one("room_keys", key, got[0], ROOM_KEYS.decode)

    async def list_keys(self, room_id: str) -> list[SealedKey]:
        room_id = ids.room_id(room_id)
        await self._room_entry(room_id)
        return sorted(await self._keys([], f"{room_id}.>"), key=lambda k: (k.epoch, k.endpoint))

    async def rekey(self, room_id: str, sealed_keys: Mapping[str, bytes]) -> Room:
        self._writable()
        rid = ids.room_id(room_id)
        keys = domain.rekey_keys(rid, sealed_keys)
        room, rev, raw = await self._room_entry(rid)
        members = {m.endpoint for m in await self._members([], MEMBERS.under(rid))}
        new = domain.rekeyed(room, members, keys)
        now = self.clock()
        # keys left at the new epoch by an interrupted rekey are overwritten, each by revision,
        # so a concurrent rekey of the same room loses with Conflict instead of mixing keys
        stale = {k: None for k, _ in await self._scan("room_keys", ROOM_KEYS.under(rid, new.epoch),
                                                       headers_only=True)}
        for k in stale:
            got = await self._get("room_keys", k)
            stale[k] = got[1] if got else None
        for ep, sk in sorted(keys.items()):
            record = SealedKey(rid, new.epoch, ep, sk, now)
            key, value = ROOM_KEYS.key(record), ROOM_KEYS.encode(record)
            last = stale.get(key)
            if last:
                await self._update("room_keys", key, value, last, f"room {rid}")
            else:
                await self._create("room_keys", key, value, domain.rekey_conflict(rid))
        # the stored value with its epoch moved: fields a newer daemon wrote are kept
        await self._update("rooms", rid, codec.rewrite(raw, {"epoch": new.epoch}), rev, f"room {rid}")
        return new

    # -- users -----------------------------------------------------------------
    async def add_user(self, key: str, name: str = "", role: str = UserRole.USER) -> User:
        self._writable()
        user = domain.new_user(key, name, role, self.clock())
        await self._create("users", user.key, USERS.encode(user), domain.user_exists(user.key))
        return user

    async def _user_entry(self, key: str) -> tuple[User, int, bytes]:
        got = await self._get("users", key)
        if got is None:
            raise domain.no_user(key)
        return self._decode_one("users", key, got[0], codec.decode_user), got[1], got[0]

    async def get_user(self, key: str) -> User:
        return (await self._user_entry(ids.key(key)))[0]

    async def list_users(self, *, invalid: list[InvalidRecord] | None = None) -> list[User]:
        return sorted(await self._users(invalid if invalid is not None else []), key=lambda u: u.key)

    async def _set_status(self, key: str, status: Status) -> User:
        self._writable()
        key = ids.key(key)
        user, rev, raw = await self._user_entry(key)
        new = domain.with_status(user, status, self.clock())
        if new is user:
            return user
        # the stored value with two fields changed: fields a newer daemon wrote are kept
        value = codec.rewrite(raw, {"status": new.status, "revoked_at": new.revoked_at})
        await self._update("users", key, value, rev, f"user {key}")
        return new

    async def revoke_user(self, key: str) -> User:
        return await self._set_status(key, Status.REVOKED)

    async def reinstate_user(self, key: str) -> User:
        return await self._set_status(key, Status.ACTIVE)

    # -- authorization (fail closed) ----------------------------------------------
    async def _decision_user(self, key: str) -> User:
        """The user as read from the users stream leader with a confirmed quorum.

        Both requests go to the stream leader (an API message get, never a direct get that
        any replica answers) and run together to save a round trip. Raises NotFound (not in
        the allowlist), BadRecord (does not decode), Unavailable (quorum not confirmed).
        """
        stream = self.stream("users")
        subject = f"$KV.{self.bucket('users')}.{key}"
        info_t = asyncio.ensure_future(self._read_api(f"$JS.API.STREAM.INFO.{stream}"))
        get_t = asyncio.ensure_future(self._read_api(f"$JS.API.STREAM.MSG.GET.{stream}",
                                                     {"last_by_subj": subject}))
        try:
            info = await info_t
            try:
                got = await get_t
            except NotFound:  # no message for this subject (10037) or no stream
                got = None
        finally:
            for t in (info_t, get_t):
                if not t.done():
                    t.cancel()
                elif not t.cancelled():
                    t.exception()  # consumed: no "exception never retrieved" noise
        # the caller's op_timeout bound ends this loop when no heartbeat comes
        while True:
            problem, wait = quorum_problem(info)
            if problem is None:
                break
            if not wait:
                raise Unavailable(f"users stream: {problem}")
            await asyncio.sleep(POLL_S)
            info = await self._read_api(f"$JS.API.STREAM.INFO.{stream}")
        if got is None:
            raise NotFound(f"no such user: {key}")
        m = got["message"]
        if m.get("hdrs"):
            hdrs = base64.b64decode(m["hdrs"])
            if b"KV-Operation: DEL" in hdrs or b"KV-Operation: PURGE" in hdrs:
                raise NotFound(f"no such user: {key}")
        user = self._decode_one("users", key, base64.b64decode(m.get("data", "") or ""), codec.decode_user)
        if user.key != key:
            raise BadRecord(f"stored value {self.bucket('users')}/{key} names {user.key!r}, not its key")
        return user

    # -- whole state -----------------------------------------------------------
    async def export_snapshot(self) -> Snapshot:
        # The GC is paused for the whole export: hundreds of thousands of kept messages
        # and new records would make every collection rescan them (measured: up to half
        # the export time). One pause, not several: re-enabling it triggers a collection.
        with paused_gc():
            return await self._export()

    async def _export(self) -> Snapshot:
        # the five scans run together, so one consumer waiting on flow control does not
        # leave the connection idle; then each bucket is decoded in bulk
        # settled: a cancelled export returns once every scan has deleted its consumer
        rows = dict(zip(BUCKETS, await gather_settled(*(self._scan(b) for b in BUCKETS))))
        invalid: list[InvalidRecord] = []
        rooms = self._decode_all("rooms", rows.pop("rooms"), "room", attrgetter("id"), invalid)
        members = self._decode_all("members", rows.pop("members"), "member",
                                   lambda m: f"{m.room_id}.{m.endpoint}", invalid)
        reverse = self._decode_all("rooms_by_member", rows.pop("rooms_by_member"), "reverse",
                                   lambda t: f"{t[1]}.{t[0]}", invalid)
        keys = self._decode_all("room_keys", rows.pop("room_keys"), "key",
                                lambda k: f"{k.room_id}.{k.epoch}.{k.endpoint}", invalid)
        users = self._decode_all("users", rows.pop("users"), "user", attrgetter("key"), invalid)
        # the reverse index must mirror members exactly
        fwd = set(map(attrgetter("room_id", "endpoint"), members))
        rev = set(reverse)
        for room_id, endpoint in sorted(fwd - rev):
            invalid.append(InvalidRecord(self.bucket("members"), f"{room_id}.{endpoint}",
                                         "no rooms_by_member row"))
        for room_id, endpoint in sorted(rev - fwd):
            invalid.append(InvalidRecord(self.bucket("rooms_by_member"), f"{endpoint}.{room_id}",
                                         "no members row"))
        return make_snapshot(rooms, members, keys, users, invalid)

    async def change_marker(self) -> object:
        async def last(base: str) -> tuple[int, int]:
            if not self._exists.get(base):
                info = await self._stream_info(base)
                if info is None:
                    return (0, 0)
                self._set_bucket(base, info)
            info = await self._stream_info(base)
            if info is None:
                return (0, 0)
            st = info.get("state", {})
            return (st.get("last_seq", 0), st.get("messages", 0))

        return tuple(await asyncio.gather(*(last(b) for b in BUCKETS)))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.wait_for(self.nc.close(), self.timeout)
        except BaseException:  # noqa: BLE001 - closing must not fail
            pass


def _pending(reply: str) -> int:
    """num_pending of a JetStream ack subject, v1 (9 tokens) or v2
    ($JS.ACK.<domain>.<hash>.<stream>.<consumer>.<dlv>.<sseq>.<cseq>.<ts>.<pending>.<token>)."""
    toks = reply.split(".")
    return int(toks[10] if len(toks) >= 12 else toks[-1])


class _ScanSink:
    """What one scan has received: the (key, value) of each live key in delivery order,
    how many data messages came (delete markers too), and when the last one came.
    Only key and value are kept: a million nats-py Msg objects would cost ~250 MB."""

    def __init__(self, nc: Any, key_start: int) -> None:
        self.nc = nc
        self.key_start = key_start
        self.rows: list[tuple[str, bytes]] = []
        self.delivered = 0
        self.done = asyncio.get_running_loop().create_future()
        self.last_activity = time.monotonic()
        self._replies: set[asyncio.Future] = set()

    def on_msg(self, m: Any) -> None:
        reply = m.reply
        if reply and reply[:8] == "$JS.ACK.":
            self.delivered += 1
            headers = m.headers
            if not headers or headers.get("KV-Operation") not in _DELETED:
                self.rows.append((m.subject[self.key_start:], m.data))
            # num_pending 0 ends the scan: the last token of a v1 ack subject; the
            # v2 form (12 tokens) ends with a random token instead
            if (reply.endswith(".0") or reply.count(".") >= 11 and _pending(reply) == 0) \
                    and not self.done.done():
                self.done.set_result(reply)
        elif reply:  # flow control request
            reply_task = asyncio.ensure_future(self.nc.publish(reply, b""))
            self._replies.add(reply_task)  # kept until sent: a bare task may be collected
            reply_task.add_done_callback(self._replies.discard)
            self.last_activity = time.monotonic()
        else:  # idle heartbeat
            self.last_activity = time.monotonic()


class _Direct:
    """Stands in for a subscription's message queue: nats-py puts each message in as it
    is parsed, and this hands it to a plain function at once."""

    def __init__(self, on_msg: Callable[[Any], None]) -> None:
        self._on_msg = on_msg

    def put_nowait(self, msg: Any) -> None:
        try:
            self._on_msg(msg)
        except Exception:  # noqa: BLE001 - must not reach nats-py's parser (it would drop the connection)
            _log.exception("message handler failed on %s", getattr(msg, "subject", "?"))

    def empty(self) -> bool:
        return True

    def qsize(self) -> int:
        return 0


async def subscribe_direct(nc: Any, subject: str, on_msg: Callable[[Any], None]) -> Any:
    """Subscribe with a synchronous handler called for each message as it is parsed.

    nats-py queues every message of a callback subscription for a task that awaits the
    callback: an asyncio.Queue put and get and a coroutine per message, a third of the
    cost of streaming a bucket or collecting a migration's acks. A subscription without
    a callback starts no task; its queue is swapped for a direct call. On a nats-py
    without that queue the ordinary callback subscription is used instead.
    """
    sub = await nc.subscribe(subject, pending_msgs_limit=-1, pending_bytes_limit=-1)
    if isinstance(getattr(sub, "_pending_queue", None), asyncio.Queue):
        sub._pending_queue = _Direct(on_msg)
        return sub
    await sub.unsubscribe()

    async def cb(m: Any) -> None:
        on_msg(m)

    return await nc.subscribe(subject, cb=cb, pending_msgs_limit=-1, pending_bytes_limit=-1)


class _Gap(Exception):
    """An ordered scan saw a sequence gap: it is restarted."""


class _Behind(Exception):
    """A scan was served by a replica that has not caught up with the leader."""

    def __init__(self, reached: int) -> None:
        super().__init__(reached)
        self.reached = reached


def quorum_problem(info: dict, fresh_s: float = FRESH_S,
                   stale_s: float = STALE_S) -> tuple[str | None, bool]:
    """Why the leader's stream info does not show a working quorum: (None, False) when it
    does, else (reason, wait) where wait means a heartbeat may still confirm it.

    A quorum is a majority of leader + replicas; a replica counts when `current`, not
    `offline` and heard from within fresh_s.
    """
    cl = info.get("cluster") or {}
    replicas = int((info.get("config") or {}).get("num_replicas", 1))
    if replicas <= 1:
        return None, False  # R1: the one server is the whole quorum
    if not cl.get("leader"):
        return "no leader", False
    peers = cl.get("replicas") or []
    need = replicas // 2 + 1
    fresh = 1 + sum(1 for p in peers if _live(p, fresh_s))
    if fresh >= need:
        return None, False
    maybe = 1 + sum(1 for p in peers if _live(p, stale_s))
    return f"no quorum: {fresh} of {replicas} peers current (need {need})", maybe >= need


def _live(p: dict, within_s: float) -> bool:
    return bool(p.get("current")) and not p.get("offline") and p.get("active", 0) / 1e9 < within_s


async def connect(spec: NatsSpec) -> Any:
    """Connect within op_timeout, or raise Unavailable with the reason in one line.

    After the first connection the client reconnects forever (nodes come back);
    each operation is bounded on its own.
    """
    last_error: list[str] = []

    async def on_error(e: Exception) -> None:
        last_error.append(_describe(e))

    async def quiet(*_: Any) -> None:
        return None

    tls = None
    if spec.ca:
        try:
            tls = ssl.create_default_context(cafile=spec.ca)
        except (OSError, ssl.SSLError) as e:
            # a missing or unreadable CA file is the operator's input, not the backend
            raise InvalidInput(f"cannot use CA file {spec.ca}: {_describe(e)}") from None
    opts: dict[str, Any] = dict(
        servers=spec.servers, error_cb=on_error, disconnected_cb=quiet, reconnected_cb=quiet,
        closed_cb=quiet, connect_timeout=max(0.2, spec.op_timeout / 2),
        reconnect_time_wait=0.25, max_reconnect_attempts=-1, allow_reconnect=True,
        name="membership-admin", tls=tls,
    )
    if spec.creds:
        if not os.path.isfile(spec.creds):
            raise InvalidInput(f"cannot use credentials file {spec.creds}: no such file")
        opts["user_credentials"] = spec.creds
    if spec.user:
        opts["user"] = spec.user
        opts["password"] = spec.password or ""
    if spec.token:
        opts["token"] = spec.token
    if not spec.servers:
        raise Unavailable("no NATS server URL given")
    task = asyncio.ensure_future(nats.connect(**opts))
    try:
        nc = await asyncio.wait_for(asyncio.shield(task), spec.op_timeout)
    except asyncio.TimeoutError:
        await settle(_abandon(task))
        why = f": {last_error[-1]}" if last_error else ""
        raise Unavailable(f"cannot connect to {spec.url} within {spec.op_timeout:g}s{why}") from None
    except asyncio.CancelledError:
        # the caller gave up: a connection that opens now must not live on unseen
        await settle(_abandon(task))
        raise
    except Exception as e:  # noqa: BLE001 - any connect failure is one line
        why = last_error[-1] if last_error else _describe(e)
        raise Unavailable(f"cannot connect to {spec.url}: {why}") from None
    return nc


async def _abandon(task: asyncio.Future) -> None:
    """Stop a connect attempt; close the client if it connected meanwhile."""
    task.cancel()
    try:
        nc = await task
    except BaseException:  # noqa: BLE001 - it failed or was stopped: nothing to close
        return
    try:
        await nc.close()
    except Exception:  # noqa: BLE001 - closing is best effort
        pass


def _describe(e: BaseException) -> str:
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({e.verify_message})"
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]
