"""Plan, then apply (SPEC section 11) on both backends: a plan changes nothing; apply is a
compare-and-set against the planned revisions; a user changed meanwhile is named and left
alone; a re-applied plan changes nothing more; a plan of another backend or too old is
refused; the audit events carry the plan's id."""

from __future__ import annotations

import dataclasses
import json

import pytest

from store import Conflict, InvalidInput, Status
from store.plan import Plan, PlanAction, make_plan, summary
from store.plan_apply import Result, apply_plan


async def users(store, *keys: str) -> None:
    for k in keys:
        await store.add_user(k, f"Name of {k}")


async def statuses(store) -> dict[str, str]:
    return {u.key: str(u.status) for u in await store.list_users()}


async def test_a_plan_reads_and_changes_nothing(store, clock):
    await users(store, "alice", "bob", "carol")
    await store.revoke_user("carol")
    before = await statuses(store)
    trail = len(await store.audit_events())
    plan = await make_plan(store, PlanAction.REVOKE, ["Alice", "bob", "carol", "ghost", "not.valid", "BOB"],
                           "leavers", clock())
    assert await statuses(store) == before and len(await store.audit_events()) == trail
    assert [(u.key, u.name, u.status, u.change) for u in plan.users] == [
        ("alice", "Name of alice", Status.ACTIVE, True), ("bob", "Name of bob", Status.ACTIVE, True),
        ("carol", "Name of carol", Status.REVOKED, False)]
    assert [k for k, _ in plan.rejected] == ["ghost", "not.valid"]
    assert plan.reason == "leavers" and plan.backend == store.label
    # each user's revision is the one a compare-and-set checks
    for u in plan.users:
        assert u.revision == (await store.user_revision(u.key))[1]
    text = "\n".join(summary(plan))
    assert "2 to revoke, 1 already revoked, 2 left out" in text
    assert "alice" in text and "Name of bob" in text and "ghost: not on the allowlist" in text
    # the file keeps it all
    assert Plan.from_json(plan.to_json()) == plan


async def test_apply_changes_as_planned_and_a_second_apply_changes_nothing(store, clock):
    await users(store, "alice", "bob")
    plan = await make_plan(store, PlanAction.REVOKE, ["alice", "bob"], "leavers", clock())
    clock.advance(60)
    report = await apply_plan(store, plan, clock())
    assert [(o.key, o.result) for o in report.outcomes] == [("alice", Result.CHANGED), ("bob", Result.CHANGED)]
    assert await statuses(store) == {"alice": "revoked", "bob": "revoked"}
    done = [e for e in await store.audit_events() if e.action == "revoke_user" and e.phase == "done"]
    assert {e.target for e in done} == {"alice", "bob"} and {e.plan for e in done} == {plan.id}
    assert {e.reason for e in done} == {"leavers"}
    trail = len(await store.audit_events())
    again = await apply_plan(store, plan, clock())
    assert again.already_applied and [o.result for o in again.outcomes] == [Result.ALREADY, Result.ALREADY]
    assert len(await store.audit_events()) == trail  # nothing more written


async def test_a_user_changed_since_the_plan_is_named_and_left_alone(store, clock):
    await users(store, "alice", "bob", "carol")
    for k in ("alice", "bob", "carol"):
        await store.revoke_user(k)
    plan = await make_plan(store, PlanAction.REINSTATE, ["alice", "bob", "carol"], None, clock())
    # another admin reinstates bob and revokes him again: revoked still, but not as planned
    clock.advance(30)
    await store.reinstate_user("bob")
    clock.advance(30)
    await store.revoke_user("bob")
    report = await apply_plan(store, plan, clock())
    assert [(o.key, o.result) for o in report.outcomes] == [
        ("alice", Result.CHANGED), ("bob", Result.DRIFTED), ("carol", Result.CHANGED)]
    assert "changed since the plan" in report.of(Result.DRIFTED)[0].detail and not report.clean
    assert await statuses(store) == {"alice": "active", "bob": "revoked", "carol": "active"}


async def test_a_gone_user_is_a_drift(store, clock):
    await users(store, "alice")
    plan = await make_plan(store, PlanAction.REVOKE, ["alice"], None, clock())
    ghost = dataclasses.replace(plan.users[0], key="ghost")
    report = await apply_plan(store, dataclasses.replace(plan, users=(ghost,)), clock())
    assert [(o.key, o.result, o.detail) for o in report.outcomes] == [
        ("ghost", Result.DRIFTED, "no longer on the allowlist")]


async def test_the_change_itself_is_a_compare_and_set(store, clock):
    await users(store, "alice")
    _, rev = await store.user_revision("alice")
    with pytest.raises(Conflict):
        await store.revoke_user("alice", expect=rev + "x")
    assert (await store.get_user("alice")).status == Status.ACTIVE
    await store.revoke_user("alice", expect=rev)
    assert (await store.get_user("alice")).status == Status.REVOKED
    assert (await store.user_revision("alice"))[1] != rev


async def test_another_backend_or_an_old_plan_is_refused(store, clock):
    await users(store, "alice")
    plan = await make_plan(store, PlanAction.REVOKE, ["alice"], None, clock())
    elsewhere = dataclasses.replace(plan, identity="sqlite:/elsewhere.sqlite")
    with pytest.raises(InvalidInput, match="another backend"):
        await apply_plan(store, elsewhere, clock())
    clock.advance(24 * 3600 + 1)
    with pytest.raises(InvalidInput, match="older than --max-age"):
        await apply_plan(store, plan, clock())
    assert (await apply_plan(store, plan, clock(), max_age=2 * 86400)).clean
    assert (await store.get_user("alice")).status == Status.REVOKED


def test_a_file_that_is_not_a_plan_is_refused(tmp_path):
    for text in ("", "{}", json.dumps({"format": "membership-admin-plan/1", "id": 1}), "[1]"):
        with pytest.raises(InvalidInput, match="not a plan file"):
            Plan.from_json(text)
