"""The Store interface: the only way from the UI, the CLI and the migration to the data.

Both backends (store.sqlite.SqliteStore, store.kv.KvStore) implement every method with
the same semantics and the same errors (store.errors), the rules of a change being
store.domain's. Keys and endpoints are normalized to lower case at every entry point;
room ids keep their case. What every backend does alike is written here once: the
fail-closed authorization, and revoke/reinstate over each backend's _set_status.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING

from . import domain, ids
from .audit import Action, Actor, AuditEvent, AuditQuery, Note, check_reason
from .errors import BadRecord, InvalidInput, NotFound, StoreError
from .models import (
    Decision,
    InvalidRecord,
    Member,
    MemberRoom,
    Revision,
    Role,
    Room,
    SealedKey,
    Snapshot,
    Status,
    StatusChange,
    User,
    UserChanges,
    UserRole,
    UserRow,
)
from .text import iso_time

if TYPE_CHECKING:
    from .kv.propagation import Replication

#: the reason of a deny for a backend that did not answer with a state known to be current
UNCONFIRMED = "backend unavailable or state not confirmed current"
#: the reason of a deny for a key on no allowlist: an answer read from a current state
UNKNOWN_USER = "unknown user"


class Store(abc.ABC):
    """Async access to rooms, members, sealed keys and the user allowlist.

    Every method may raise Unavailable (backend unreachable, no quorum, timeout)
    and ReadOnly (a change on a store opened read-only); the others are listed
    per method.
    """

    #: one line naming the open backend, for headers and messages
    label: str = ""
    read_only: bool = False
    #: bound on an authorization decision, and on every KV operation (SPEC section 2)
    op_timeout: float = 2.0

    # -- rooms -----------------------------------------------------------------
    @abc.abstractmethod
    async def create_room(
        self,
        room_id: str,
        name: str,
        owner: str,
        *,
        encrypted: bool = False,
        sealed_key: bytes | None = None,
    ) -> Room:
        """Create a room with its owner as member (role owner).

        An encrypted room starts at epoch 1 and needs the owner's sealed key;
        an unencrypted one is at epoch 0 and takes no key.
        Raises: InvalidInput, AlreadyExists.
        """

    @abc.abstractmethod
    async def get_room(self, room_id: str) -> Room:
        """Raises: InvalidInput, NotFound."""

    @abc.abstractmethod
    async def list_rooms(self, *, invalid: list[InvalidRecord] | None = None) -> list[Room]:
        """All rooms that keep the rules, sorted by id; the others are appended to `invalid`
        (when given) as InvalidRecords."""

    @abc.abstractmethod
    async def delete_room(self, room_id: str) -> None:
        """Delete a room with its members and every sealed key. Raises: InvalidInput, NotFound."""

    # -- members ---------------------------------------------------------------
    @abc.abstractmethod
    async def add_member(
        self, room_id: str, endpoint: str, *, role: str = Role.MEMBER, sealed_key: bytes | None = None
    ) -> Member:
        """Add a member; an encrypted room needs its sealed key at the current epoch.

        Raises: InvalidInput, NotFound (room), AlreadyExists.
        """

    @abc.abstractmethod
    async def remove_member(self, room_id: str, endpoint: str) -> None:
        """Remove a member (not the owner). Keys of past epochs are kept.

        Raises: InvalidInput (the owner), NotFound.
        """

    @abc.abstractmethod
    async def list_members(self, room_id: str) -> list[Member]:
        """The room's members sorted by endpoint. Raises: InvalidInput, NotFound (room)."""

    @abc.abstractmethod
    async def rooms_of_member(self, endpoint: str) -> list[str]:
        """Ids of the rooms the endpoint is a member of, sorted (the reverse index)."""

    async def member_rooms(self, endpoint: str) -> list[MemberRoom]:
        """Every room the endpoint is a member of, sorted by room id, with its membership and
        its current-epoch key. Raises: InvalidInput, BadRecord (a room or key of it breaks a
        rule). By default a read per room (rooms deleted meanwhile are left out); SQLite reads
        them in one transaction."""
        ep = ids.endpoint(endpoint)
        rows = await asyncio.gather(*(self._member_room(r, ep) for r in await self.rooms_of_member(ep)))
        return [r for r in rows if r is not None]

    async def _member_room(self, room_id: str, endpoint: str) -> MemberRoom | None:
        try:
            room = await self.get_room(room_id)
        except NotFound:
            return None  # deleted meanwhile
        member = next((m for m in await self.list_members(room_id) if m.endpoint == endpoint), None)
        key = None
        if room.encrypted:
            try:
                key = await self.get_key(room_id, endpoint)
            except NotFound:
                pass
        return MemberRoom(room, member, key)

    @abc.abstractmethod
    async def member_counts(self) -> dict[str, int]:
        """Number of members of every room that has any, by room id."""

    # -- keys ------------------------------------------------------------------
    @abc.abstractmethod
    async def put_key(self, room_id: str, epoch: int, endpoint: str, sealed_key: bytes) -> SealedKey:
        """Store (or overwrite) one sealed key of an existing epoch (1..room.epoch).

        Raises: InvalidInput, NotFound (room).
        """

    @abc.abstractmethod
    async def get_key(self, room_id: str, endpoint: str, epoch: int | None = None) -> SealedKey:
        """The member's key at that epoch, or at the room's current epoch when None.

        Raises: InvalidInput, NotFound.
        """

    @abc.abstractmethod
    async def list_keys(self, room_id: str) -> list[SealedKey]:
        """Every sealed key of the room, all epochs, sorted by (epoch, endpoint).

        Raises: InvalidInput, NotFound (room).
        """

    @abc.abstractmethod
    async def rekey(self, room_id: str, sealed_keys: Mapping[str, bytes]) -> Room:
        """Move an encrypted room to epoch+1 with a key for every current member.

        Raises: InvalidInput (unencrypted room, a member missing, a non-member), NotFound,
        Conflict (the room changed meanwhile).
        """

    # -- users -----------------------------------------------------------------
    async def add_user(self, key: str, name: str = "", role: str = UserRole.USER, *,
                       reason: str | None = None) -> User:
        """Add an active user, with its audit event (SPEC section 10). Raises: InvalidInput,
        AlreadyExists (also when only case differs), Refused (the audit cannot be written)."""
        user = domain.new_user(key, name, role, self._now())
        return await self._add_user(user, self.audit_note(Action.ADD_USER, user.key, reason))

    @abc.abstractmethod
    async def _add_user(self, user: User, note: Note) -> User:
        """Store a new user and its audit events."""

    @abc.abstractmethod
    async def get_user(self, key: str) -> User:
        """Raises: InvalidInput, NotFound."""

    @abc.abstractmethod
    async def list_users(self, *, invalid: list[InvalidRecord] | None = None) -> list[User]:
        """All users that keep the rules, sorted by key; the others are appended to `invalid`
        (when given) as InvalidRecords."""

    async def iter_user_rows(self, first: int = 2000, page: int = 10_000
                             ) -> AsyncIterator[tuple[list[UserRow], list[InvalidRecord]]]:
        """The users of list_users as UserRows, in parts, sorted by key across them, so a view
        shows the first ones before the whole list is read: `first` users, then `page` at a
        time. By default one part (a backend that reads everything at once anyway)."""
        invalid: list[InvalidRecord] = []
        users = await self.list_users(invalid=invalid)
        yield [u.row for u in users], invalid

    async def preview_users(self, n: int) -> list[UserRow] | None:
        """Up to n users at once, sorted by key, for a view to show while iter_user_rows reads
        them all, when a backend reads every user before its first part (KV: a bucket is not
        read in key order); they need not be the first n in key order, nor current: a view
        replaces them. None: the first part comes soon anyway (the default; SQLite reads a
        page at a time in key order)."""
        return None

    #: count_users is cheap (an index count), so a view of many users may compare it with
    #: what it holds on every change instead of reading every user again
    counts_users_cheaply: bool = False

    async def count_users(self) -> int:
        """How many users are stored, those that break the rules too (what a view of every
        user holds, its flagged rows included). By default a whole read."""
        invalid: list[InvalidRecord] = []
        return len(await self.list_users(invalid=invalid)) + len(invalid)

    async def user_rows(self, keys: Sequence[str]) -> tuple[list[UserRow], list[InvalidRecord]]:
        """The stored users of these keys as UserRows, sorted by key, and the InvalidRecords
        of those that break the rules; a key with no user is in neither. By default one
        get_user a key."""
        rows: list[UserRow] = []
        invalid: list[InvalidRecord] = []
        for key in sorted(set(keys)):
            try:
                rows.append((await self.get_user(key)).row)
            except (NotFound, InvalidInput):  # no such user; a key no user can have
                pass
            except BadRecord as e:
                invalid.append(InvalidRecord("users", key, str(e)))
        return rows, invalid

    #: watch_users follows the users as they are written (a view need not read them again)
    watches_users: bool = False

    def watch_users(self) -> AsyncIterator[UserChanges]:
        """The users' changes from now on, in batches, until the caller stops iterating; a
        change made after the first batch, which is empty and says the watch has begun, is
        never skipped (read the users after it: nothing falls between). Only where
        watches_users. Raises: StoreError when the backend cannot be followed."""
        raise NotImplementedError

    async def revoke_user(self, key: str, *, reason: str | None = None, expect: str | None = None,
                          plan: str | None = None) -> User:
        """Set status revoked and revoked_at; memberships stay. Revoking a revoked user
        changes nothing and leaves no event (safe to repeat). expect: the revision (of
        user_revision) the user must still have, else Conflict and nothing changes (a
        compare-and-set, SPEC section 11); plan: the plan's id its audit events carry.
        Raises: InvalidInput, NotFound, Conflict, Refused (the audit cannot be written:
        nothing changed).
        """
        return (await self.set_user_status(key, Status.REVOKED, reason=reason, expect=expect, plan=plan)).user

    async def reinstate_user(self, key: str, *, reason: str | None = None, expect: str | None = None,
                             plan: str | None = None) -> User:
        """Set status active and clear revoked_at; idempotent. Raises as revoke_user."""
        return (await self.set_user_status(key, Status.ACTIVE, reason=reason, expect=expect, plan=plan)).user

    async def set_user_status(self, key: str, status: Status, *, reason: str | None = None,
                              expect: str | None = None, plan: str | None = None) -> StatusChange:
        """Revoke (status revoked) or reinstate (active) and say whether this call changed
        the user: what the compare-and-set did, not what a read before it saw (two admins
        revoking one user at once: one changed it, the other finds it revoked already).
        expect and plan as revoke_user. Raises as revoke_user."""
        k = ids.key(key)
        action = Action.REVOKE_USER if status == Status.REVOKED else Action.REINSTATE_USER
        note = self.audit_note(action, k, reason)
        note.plan = plan
        return await self._set_status(k, Status(status), note, expect)

    @abc.abstractmethod
    async def _set_status(self, key: str, status: Status, note: Note, expect: str | None = None) -> StatusChange:
        """set_user_status (a normalized key): the user given that status by
        store.domain.with_status, stored with its audit events unless it had it already;
        with expect, only while the stored user's revision is still expect (else Conflict)."""

    async def user_revision(self, key: str) -> tuple[User, str]:
        """The user and its revision as text, what a compare-and-set of revoke_user or
        reinstate_user checks (KV: the entry's revision; SQLite: a fingerprint of the row).
        Raises: InvalidInput, NotFound, BadRecord."""
        raise NotImplementedError

    async def backend_identity(self) -> str:
        """Names the data this store holds, not the way it was reached (no secrets): a plan
        made on one backend is refused on another (SPEC section 11). By default the label."""
        return self.label.removesuffix(" (read-only)")

    async def replication(self, target: int | None = None) -> Replication | None:
        """How far the users' changes have spread (SPEC section 12): which replicas of the
        users bucket have applied up to sequence target (None: everything written so far).
        None where a backend has no replicas (SQLite)."""
        return None

    async def audit_problems(self) -> list[str]:
        """What makes this backend's audit trail weaker than SPEC 10, one phrase each ([] when
        nothing does, or the trail is not a stream): a change's output says them."""
        return []

    # -- the audit trail (SPEC section 10) --------------------------------------------------
    #: who acts; None: the OS user and host, via this store's label
    actor: Actor | None = None

    def _now(self) -> int:
        """The clock of the store's timestamps (and of its audit events)."""
        raise NotImplementedError

    def audit_note(self, action: Action, target: str, reason: str | None) -> Note:
        return Note(self.actor or Actor.local(self.label), action, target, check_reason(reason), self._now)

    @abc.abstractmethod
    async def audit_after(self, cursor: int, *, invalid: list[InvalidRecord] | None = None
                          ) -> tuple[list[AuditEvent], int]:
        """The audit events written after cursor (0: from the first), in the order written,
        and the cursor to ask with next time (`audit --follow` polls with it). Events that
        do not decode go to invalid."""

    async def audit_events(self, query: AuditQuery | None = None, *,
                           invalid: list[InvalidRecord] | None = None) -> list[AuditEvent]:
        """The events query selects (all by default), oldest first."""
        events, _ = await self.audit_after(0, invalid=invalid)
        return [e for e in events if query is None or query.matches(e)]

    @abc.abstractmethod
    async def write_audit(self, events: Sequence[AuditEvent]) -> int:
        """Add events another backend recorded (a migration's copy), each at most once however
        often this runs. Returns how many were new."""

    @abc.abstractmethod
    async def user_history(self, key: str) -> list[Revision]:
        """The stored revisions of a user's record, oldest first, as far as the backend keeps
        them (KV: the bucket's history; SQLite: the current row)."""

    # -- authorization: fail closed, the same rules on every backend -------------------
    @abc.abstractmethod
    async def _decision_user(self, key: str) -> User:
        """The user behind a decision, read from a state known to be current (a normalized
        key). Raises: NotFound, BadRecord, Unavailable (not confirmed current), StoreError."""

    async def authorization(self, key: str, *, admin: bool = False) -> Decision:
        """What is_authorized (admin: is_admin) answers now, with the reason. Never raises
        but for the caller's own cancellation: any error, timeout, undecodable record or lost
        quorum is a deny (fail closed), within op_timeout."""
        try:
            k = ids.key(key)
        except InvalidInput as e:
            return Decision(False, str(e))
        try:
            user = await asyncio.wait_for(self._decision_user(k), self.op_timeout)
        except NotFound:
            return Decision(False, UNKNOWN_USER)
        except BadRecord as e:
            return Decision(False, str(e))
        except TimeoutError:
            return Decision(False, f"{UNCONFIRMED} (no answer within {self.op_timeout:g}s)")
        except StoreError as e:
            return Decision(False, f"{UNCONFIRMED} ({e})")
        except Exception as e:
            return Decision(False, f"{UNCONFIRMED} ({type(e).__name__}: {e})")
        if user.status == Status.REVOKED:
            return Decision(False, f"revoked at {iso_time(user.revoked_at, seconds=True)}", user)
        if admin and user.role != UserRole.ADMIN:
            return Decision(False, "not an admin", user)
        return Decision(True, "active admin" if admin else "active user", user)

    async def is_authorized(self, key: str) -> bool:
        """True only for an active user read from a state known to be current.

        Never raises: any error, timeout or lost quorum answers False (fail closed).
        """
        return (await self.authorization(key)).allowed

    async def is_admin(self, key: str) -> bool:
        """Like is_authorized, and the user's role is admin. Never raises."""
        return (await self.authorization(key, admin=True)).allowed

    # -- whole state -----------------------------------------------------------
    @abc.abstractmethod
    async def export_snapshot(self) -> Snapshot:
        """The whole state in deterministic order (see store.models.Snapshot)."""

    def read_progress(self) -> dict[str, tuple[int, int]]:
        """How far this store's latest bulk read of each bucket has come (an export's, as it
        runs): bucket -> (read, to read), for a progress display to poll. Empty where a
        backend reads its whole state in one step (SQLite)."""
        return {}

    @abc.abstractmethod
    async def change_marker(self) -> object:
        """A cheap value that differs whenever the state may have changed since the last call
        (also by another process: the daemon, another admin). The UI polls it to refresh live.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections. Safe to call twice."""

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
