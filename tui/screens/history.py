"""A user's history (h): the stored revisions of its record (as many as the backend keeps:
16 in the KV buckets the tool creates, the current row on SQLite) and the audit events
naming it, newest first."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult

from store import Store
from store.audit import AuditEvent
from store.models import Revision
from store.text import iso_time

from ..messages import OpenDetail, OpenUser
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


@dataclass(frozen=True, slots=True)
class Entry:
    """A row of the history: its cells, and the revision or event it shows (enter opens it whole)."""

    cells: tuple[str, ...]
    source: AuditEvent | Revision


def entry_cells(e: Entry) -> tuple[str, ...]:
    return e.cells


def history_rows(h: UserHistory) -> list[Entry]:
    """Revisions and audit events as rows, newest first (a revision's time is the server's
    when it has one; SQLite's one row is the current record)."""
    rows: list[tuple[int, int, Entry]] = []
    for r in h.revisions:
        what = f"revision {r.revision}" if r.revision else "current record"
        if r.user is None:
            rows.append((r.at or 0, 0, Entry((iso_time(r.at), what, "deleted", ""), r)))
            continue
        u = r.user
        detail = f"role {u.role}, name {u.name or '-'}, added {iso_time(u.added_at)}"
        if u.revoked_at is not None:
            detail += f", revoked {iso_time(u.revoked_at)}"
        rows.append((r.at or u.revoked_at or u.added_at, 0,
                     Entry((iso_time(r.at) if r.at else "-", what, u.status, detail), r)))
    for i, e in enumerate(h.events):
        after = e.after.get("status", "") if isinstance(e.after, dict) else ""
        detail = f"by {e.actor.user}@{e.actor.host} via {e.actor.via}"
        if e.reason:
            detail += f", reason: {e.reason}"
        if e.result != "ok":
            detail += f", result: {e.result}"
        rows.append((e.at, 1 + i, Entry((iso_time(e.at), f"{e.action} {e.phase}", after, detail), e)))
    rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
    return [entry for _, _, entry in rows]


class HistoryScreen(DataScreen[UserHistory]):
    OPENS = OpenUser

    def __init__(self, session: Session, key: str) -> None:
        super().__init__(session)
        self.key = key

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield FlowText([f"history of user {self.key}"], classes="info", id="history-info")
        yield RecordTable("entries", COLUMNS, cells=entry_cells, id="history")
        yield FittedFooter(compact=True)

    async def fetch(self, store: Store) -> UserHistory:
        return await load_history(store, self.key)

    def show(self, data: UserHistory) -> None:
        rows = history_rows(data)
        self.table.set_records([record(f"{i}", e, "\t".join(map(str, e.cells)).lower())
                                for i, e in enumerate(rows)])
        kept = (f"{len(data.revisions)} stored revision(s)" if data.revisions else "no stored revision")
        self.query_one("#history-info", FlowText).update(
            [f"history of user {self.key}", kept, f"{len(data.events)} audit event(s)"])

    def selected_user_key(self) -> str | None:
        return self.key

    @on(RecordTable.Opened)
    def _open(self, event: RecordTable.Opened) -> None:
        # a row names no user (its key is its place): enter shows the row's record whole,
        # in place of DataScreen's handler (prevent_default: Textual would run both)
        event.stop()
        event.prevent_default()
        entry = self.table.selected_data
        if isinstance(entry, Entry):
            self.post_message(OpenDetail(entry.source))
