"""What the audit stream must be (SPEC section 10), as one config to create it with and one
pure check of an existing stream's config against it.

The trail is worth only what its stream keeps: a stream in memory, with an age, count or
size limit, without deny_delete or deny_purge, with rollups or per-message TTLs allowed, or
with fewer replicas than the users bucket loses events (or lets someone remove them) while
every change still looks recorded. audit_stream_problems names each such weakness; `audit
init` and every change's output say them, and health's posture can reuse it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: how long a retried publish is recognised as the same event (Nats-Msg-Id), nanoseconds
DUPLICATE_WINDOW_NS = 120_000_000_000


def audit_stream_config(name: str, replicas: int) -> dict[str, Any]:
    """The stream config the tool creates: append-only, on file, no limits, deny_delete and
    deny_purge, the users bucket's replicas."""
    return {"name": name, "subjects": [f"{name}.>"], "retention": "limits", "storage": "file",
            "num_replicas": replicas, "max_msgs": -1, "max_bytes": -1, "max_age": 0,
            "max_msgs_per_subject": -1, "discard": "new", "deny_delete": True, "deny_purge": True,
            "allow_rollup_hdrs": False, "duplicate_window": DUPLICATE_WINDOW_NS}


def _limited(config: Mapping[str, Any], field: str) -> int:
    """A limit's value when it limits (> 0), else 0: NATS writes "no limit" as -1 or 0."""
    value = config.get(field)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _seconds(ns: int) -> str:
    return f"{ns / 1e9:g}s"


def audit_stream_problems(config: Mapping[str, Any], users_replicas: int | None) -> list[str]:
    """What in an existing audit stream's config (the `config` of its stream info) is weaker
    than SPEC section 10, one short phrase each; [] when nothing is. users_replicas: the users
    bucket's replicas (None when unknown: that comparison is left out)."""
    problems: list[str] = []
    storage = config.get("storage", "file")
    if storage != "file":
        problems.append(f"{storage} storage, not file: events are lost when the servers restart")
    retention = config.get("retention", "limits")
    if retention != "limits":
        problems.append(f"{retention} retention, not limits: events are removed once consumed")
    if not config.get("deny_delete"):
        problems.append("deny_delete is not set: events can be deleted")
    if not config.get("deny_purge"):
        problems.append("deny_purge is not set: the stream can be purged")
    if age := _limited(config, "max_age"):
        problems.append(f"max_age {_seconds(age)}: older events are deleted")
    if count := _limited(config, "max_msgs"):
        problems.append(f"max_msgs {count}: older events are deleted past it")
    if per_subject := _limited(config, "max_msgs_per_subject"):
        problems.append(f"max_msgs_per_subject {per_subject}: older events of an action are deleted past it")
    if size := _limited(config, "max_bytes"):
        problems.append(f"max_bytes {size}: older events are deleted past it")
    if config.get("allow_rollup_hdrs"):
        problems.append("rollup headers allowed: one message can remove the events before it")
    if config.get("allow_msg_ttl"):
        problems.append("per-message TTLs allowed: an event can be written to expire")
    replicas = config.get("num_replicas", 1)
    if users_replicas is not None and isinstance(replicas, int) and replicas < users_replicas:
        problems.append(f"{replicas} replica(s), fewer than the users bucket's {users_replicas}")
    return problems
