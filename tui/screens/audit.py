"""The audit trail (key 5): every change the tool made, newest first, filterable; enter on
an event about a user opens that user's rooms, h its history."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult

from store import Store
from store.audit import AuditEvent
from store.text import iso_time

from ..messages import OpenUser
from ..services import AuditList, load_audit
from ..widgets.columns import Col
from ..widgets.footer import FittedFooter
from ..widgets.header import AppHeader
from ..widgets.record_table import Record, RecordTable, record
from .base import DataScreen

#: on a narrow screen who did it goes first, then the reason (cut before it goes); a long
#: target (a migration's source and target) is cut in its middle, never pushing them out
COLUMNS = (Col("time"), Col("action"), Col("phase"), Col("target", shrink=True, middle=True), Col("by", 2),
           Col("result"), Col("reason", 1, shrink=True))
#: actions whose target is a user key (a migration's is its source and target)
USER_ACTIONS = ("add_user", "revoke_user", "reinstate_user")


def event_cells(e: AuditEvent) -> tuple[str | Text, ...]:
    phase: str | Text = Text(e.phase, style="bold red") if e.phase == "failed" else str(e.phase)
    result: str | Text = e.result if e.result == "ok" else Text(e.result, style="bold red")
    return (iso_time(e.at), str(e.action), phase, e.target, f"{e.actor.user}@{e.actor.host}",
            result, e.reason or "")


def event_record(e: AuditEvent) -> Record:
    search = f"{e.action}\t{e.phase}\t{e.target}\t{e.actor.user}@{e.actor.host}\t{e.reason or ''}\t{e.result}"
    return record(f"{e.id}-{e.phase}", e, search.lower())


class AuditScreen(DataScreen[AuditList]):
    OPENS = OpenUser

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield RecordTable("events", COLUMNS, cells=event_cells, id="audit")
        yield FittedFooter(compact=True)

    async def fetch(self, store: Store) -> AuditList:
        return await load_audit(store)

    def show(self, data: AuditList) -> None:
        self.table.set_records([event_record(e) for e in data.events], invalid=data.invalid)

    def _event(self) -> AuditEvent | None:
        data = self.table.selected_data
        return data if isinstance(data, AuditEvent) else None

    def selected_user_key(self) -> str | None:
        e = self._event()
        return e.target if e is not None and e.action in USER_ACTIONS else None

    @on(RecordTable.Opened)
    def _open(self, event: RecordTable.Opened) -> None:
        # only the user the event names, in place of DataScreen's handler (which would open
        # the row's key as a user): Textual runs every class's handler unless told not to
        event.stop()
        event.prevent_default()
        key = self.selected_user_key()
        if key is not None:
            self.post_message(OpenUser(key))
