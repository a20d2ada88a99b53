"""A user's history (h): the stored revisions of its record (as many as the backend keeps:
16 in the KV buckets the tool creates, the current row on SQLite) and the audit events
naming it, newest first."""

from __future__ import annotations

from textual.app import ComposeResult

from store import Store
from store.text import iso_time

from ..messages import OpenUser
from ..services import UserHistory, load_history
from ..session import Session
from ..widgets.columns import Col
from ..widgets.flow_text import FlowText
from ..widgets.footer import FittedFooter
from ..widgets.header import AppHeader
from ..widgets.record_table import RecordTable, record
from .base import DataScreen

#: the detail is cut on a narrow screen
COLUMNS = (Col("time"), Col("what"), Col("status"), Col("detail", 1, shrink=True))


def history_rows(h: UserHistory) -> list[tuple[str, ...]]:
    """Revisions and audit events as rows, newest first (a revision's time is the server's
    when it has one; SQLite's one row is the current record)."""
    rows: list[tuple[int, int, tuple[str, ...]]] = []
    for r in h.revisions:
        what = f"revision {r.revision}" if r.revision else "current record"
        if r.user is None:
            rows.append((r.at or 0, 0, (iso_time(r.at), what, "deleted", "")))
            continue
        u = r.user
        detail = f"role {u.role}, name {u.name or '-'}, added {iso_time(u.added_at)}"
        if u.revoked_at is not None:
            detail += f", revoked {iso_time(u.revoked_at)}"
        rows.append((r.at or u.revoked_at or u.added_at, 0, (iso_time(r.at) if r.at else "-", what, u.status, detail)))
    for i, e in enumerate(h.events):
        after = e.after.get("status", "") if isinstance(e.after, dict) else ""
        detail = f"by {e.actor.user}@{e.actor.host} via {e.actor.via}"
        if e.reason:
            detail += f", reason: {e.reason}"
        if e.result != "ok":
            detail += f", result: {e.result}"
        rows.append((e.at, 1 + i, (iso_time(e.at), f"{e.action} {e.phase}", after, detail)))
    rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
    return [cells for _, _, cells in rows]


class HistoryScreen(DataScreen[UserHistory]):
    OPENS = OpenUser

    def __init__(self, session: Session, key: str) -> None:
        super().__init__(session)
        self.key = key

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield FlowText([f"history of user {self.key}"], classes="info", id="history-info")
        yield RecordTable("entries", COLUMNS, id="history")
        yield FittedFooter(compact=True)

    async def fetch(self, store: Store) -> UserHistory:
        return await load_history(store, self.key)

    def show(self, data: UserHistory) -> None:
        rows = history_rows(data)
        self.table.set_records([record(f"{i}", cells, "\t".join(map(str, cells)).lower())
                                for i, cells in enumerate(rows)])
        kept = (f"{len(data.revisions)} stored revision(s)" if data.revisions else "no stored revision")
        self.query_one("#history-info", FlowText).update(
            [f"history of user {self.key}", kept, f"{len(data.events)} audit event(s)"])

    def selected_user_key(self) -> str | None:
        return self.key
