"""The parity result of a migration: "identical" with counts per entity, or the differences."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from store.parity import ENTITIES, FIELDS_DIFFER, KIND_TEXT, ParityReport, show_value
from store.text import printable

#: rows shown in the table; the rest are counted ("200 of 12,345 shown")
MAX_ROWS = 500


def difference_rows(report: ParityReport, limit: int = MAX_ROWS
                    ) -> tuple[list[tuple[str, str, str, str, str]], int]:
    """(entity, identity, difference, sqlite value, kv value): one row per differing field,
    at most `limit` rows; and how many differences those rows cover.

    Values come from store.parity, which already shows sealed keys as fingerprints.
    """
    rows: list[tuple[str, str, str, str, str]] = []
    covered = 0
    for d in report.differences:
        if len(rows) >= limit:
            break
        covered += 1
        what = KIND_TEXT.get(d.kind, d.kind)
        if d.kind == FIELDS_DIFFER and d.fields:
            for f in d.fields:
                rows.append((d.entity, d.key, f"field {f.field}", show_value(f.sqlite), show_value(f.kv)))
        else:
            rows.append((d.entity, d.key, what + (f": {d.reason}" if d.reason else ""), "", ""))
    return rows, covered


class ParityView(Vertical):
    """Set `show(report)`; `clear()` before a new run."""

    DEFAULT_CSS = """
    ParityView { height: auto; }
    ParityView .parity-summary { height: auto; }
    ParityView DataTable { height: auto; max-height: 14; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", classes="parity-summary")
        table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True)
        table.display = False
        yield table

    def clear(self) -> None:
        self.query_one(".parity-summary", Static).update("")
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.display = False

    def show(self, report: ParityReport) -> None:
        counts = Table.grid(padding=(0, 2))
        counts.add_column()
        counts.add_column(justify="right")
        counts.add_column(justify="right")
        counts.add_column(justify="right")
        counts.add_row(Text("entity", style="bold"), Text("sqlite", style="bold"),
                       Text("kv", style="bold"), Text("differences", style="bold"))
        per = report.count_by_entity()
        entities = list(ENTITIES)
        if "rooms_by_member" in report.kv_counts:  # counted by the raw-rows parity
            entities.insert(2, "rooms_by_member")
        for e in entities:
            counts.add_row(e, f"{report.sqlite_counts.get(e, 0):,}", f"{report.kv_counts.get(e, 0):,}",
                           str(per.get(e, 0)))
        if per.get("invalid"):
            counts.add_row("invalid", "", "", str(per["invalid"]))
        grid = Table.grid()
        if report.identical:
            grid.add_row(Text("parity: identical", style="bold green"))
        else:
            n = len(report.differences)
            grid.add_row(Text(f"parity: {n:,} difference(s)", style="bold red"))
        grid.add_row(counts)
        self.query_one(".parity-summary", Static).update(grid)
        table = self.query_one(DataTable)
        table.clear(columns=True)
        if report.identical:
            table.display = False
            return
        table.add_columns("entity", "identity", "difference", "sqlite", "kv")
        rows, covered = difference_rows(report)
        table.add_rows([tuple(map(printable, row)) for row in rows])  # keys of invalid records: anything
        if covered < len(report.differences):
            table.add_row("…", f"{len(report.differences) - covered:,} more", "", "", "")
        table.display = True
