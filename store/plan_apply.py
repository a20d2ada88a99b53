"""Applying a reviewed plan (SPEC section 11): each user a compare-and-set against the
revision it was planned against.

A plan is refused whole (InvalidInput) when it was made on another backend or is older than
the allowed age. Then, per planned user:
  - already where the plan takes it: nothing to do (a re-applied plan lands here);
  - still at its planned revision: changed, with expect=revision and the plan's id in its
    audit events; a change that lost the race to another writer is a drift;
  - anything else (another revision, gone): drifted, named and left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import BadRecord, Conflict, InvalidInput, NotFound, Refused, StoreError, Unavailable
from .plan import Plan, PlanAction, PlannedUser
from .text import iso_time

#: the default --max-age: a plan older than this is refused
DEFAULT_MAX_AGE = 24 * 3600


class Result(StrEnum):
    CHANGED = "changed"
    ALREADY = "already"
    DRIFTED = "drifted"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    key: str
    name: str
    result: Result
    detail: str = ""


@dataclass(frozen=True)
class ApplyReport:
    plan: Plan
    outcomes: tuple[Outcome, ...]

    def of(self, result: Result) -> list[Outcome]:
        return [o for o in self.outcomes if o.result == result]

    @property
    def clean(self) -> bool:
        """Nothing drifted or failed (exit 0)."""
        return not self.of(Result.DRIFTED) and not self.of(Result.FAILED)

    @property
    def already_applied(self) -> bool:
        """Nothing was left to change: the plan (or someone) did it all before."""
        return self.clean and not self.of(Result.CHANGED)


def check_plan(plan: Plan, identity: str, now: int, max_age: int = DEFAULT_MAX_AGE) -> None:
    """Raises InvalidInput when the plan was made on another backend or is too old (or made
    in the future: a clock to mistrust)."""
    if plan.identity != identity:
        raise InvalidInput(f"plan {plan.id[:12]} was made on another backend ({plan.backend}, {plan.identity}); "
                           f"this one is {identity}: refused")
    age = now - plan.made_at
    if age > max_age:
        raise InvalidInput(f"plan {plan.id[:12]} was made {iso_time(plan.made_at, seconds=True)}, "
                           f"{_span(age)} ago, older than --max-age ({_span(max_age)}): make a new plan")
    if age < -300:
        raise InvalidInput(f"plan {plan.id[:12]} is dated {iso_time(plan.made_at, seconds=True)}, in the future")


def _span(seconds: int) -> str:
    """3h05m, 12m30s, 40s."""
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


async def apply_plan(store, plan: Plan, now: int, max_age: int = DEFAULT_MAX_AGE) -> ApplyReport:
    """Apply the plan on store. Raises: InvalidInput (another backend, too old), and what
    the store raises for the backend as a whole (Unavailable, Refused)."""
    check_plan(plan, await store.backend_identity(), now, max_age)
    outcomes: list[Outcome] = []
    for i, planned in enumerate(plan.users):
        try:
            outcomes.append(await _apply_one(store, plan, planned))
        except (Unavailable, Refused) as e:
            if not outcomes:
                raise  # nothing done: the command's error (exit 3 or 4)
            # the backend as a whole stopped answering or refuses: the rest is not tried
            outcomes += [Outcome(u.key, u.name, Result.FAILED, f"not applied: {e}") for u in plan.users[i:]]
            break
    return ApplyReport(plan, tuple(outcomes))


async def _apply_one(store, plan: Plan, planned: PlannedUser) -> Outcome:
    key = planned.key
    try:
        user, revision = await store.user_revision(key)
    except NotFound:
        return Outcome(key, planned.name, Result.DRIFTED, "no longer on the allowlist")
    except BadRecord as e:
        return Outcome(key, planned.name, Result.DRIFTED, str(e))
    if user.status == plan.action.target:
        return Outcome(key, user.name, Result.ALREADY, plan.action.already)
    if revision != planned.revision:
        return Outcome(key, user.name, Result.DRIFTED,
                       f"changed since the plan (now {user.status}, revision {revision}, planned {planned.revision})")
    change = store.revoke_user if plan.action is PlanAction.REVOKE else store.reinstate_user
    try:
        await change(key, reason=plan.reason, expect=planned.revision, plan=plan.id)
    except Conflict as e:
        return Outcome(key, user.name, Result.DRIFTED, str(e))
    except NotFound:
        return Outcome(key, user.name, Result.DRIFTED, "no longer on the allowlist")
    except (Unavailable, Refused):
        raise
    except StoreError as e:
        return Outcome(key, user.name, Result.FAILED, str(e))
    return Outcome(key, user.name, Result.CHANGED, plan.action.done)
