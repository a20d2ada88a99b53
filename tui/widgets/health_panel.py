"""The KV quorum health of one deployment: per bucket replicas, leader and state, the overall
state in colour, and the live authorization probe. Used by the health and migration screens.

Data comes in as a store.health.HealthReport, by message (a worker hands it to deliver(),
which posts Checked to the panel) or by calling show(report); the panel never talks to a
store itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import Static

from store.health import ABSENT, ABSENT_MEANING, DEGRADED, HEALTHY, NO_QUORUM, BucketHealth, HealthReport
from store.text import printable

#: narrower than this, replicas are written short (n2✔ n3✖) so no line breaks inside one
NARROW = 100

STATE_STYLE: dict[str, str] = {HEALTHY: "bold green", DEGRADED: "bold yellow", NO_QUORUM: "bold red",
                               ABSENT: "bold magenta"}
REPLICA_STYLE = {"current": "green", "lagging": "yellow", "offline": "red"}

QUORUM_LOST = "quorum lost: authorizations are denied (fail closed)"
NO_BUCKETS = f"no bucket here ({ABSENT_MEANING}): authorizations are denied"
CHANGES_DISABLED = "revoke, reinstate and add are disabled"


def format_probe_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


SHORT_STATE = {"current": "✔", "offline": "✖", "lagging": "~"}


def replica_text(b: BucketHealth, compact: bool = False) -> Text:
    """Each replica but the leader: "n2 current  n3 lagging (42 behind)", or "n2✔ n3~42"."""
    out = Text()
    for i, r in enumerate(b.peers):
        if i:
            out.append(" " if compact else "  ")
        style = REPLICA_STYLE.get(r.state, "")
        if compact:
            out.append(r.name, style="bold")
            lag = str(r.lag) if r.state == "lagging" and r.lag else ""
            out.append(SHORT_STATE.get(r.state, "?") + lag, style=style)
            continue
        out.append(f"{r.name} ", style="bold")
        state = f"lagging ({r.lag:,} behind)" if r.state == "lagging" and r.lag else r.state
        out.append(state, style=style)
    return out


def state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLE.get(state, "bold"))


def posture_text(report: HealthReport) -> Text:
    """The posture findings, each with its fix, and what could not be seen."""
    text = Text("posture ", style="bold")
    if report.posture:
        text.append(f"{len(report.posture)} finding(s): configured to lose or hide data", style="bold yellow")
    else:
        text.append("no findings", style="green")
    for f in report.posture:
        text.append(f"\n{printable(f.subject)}", style="bold")
        text.append(f" ({printable(f.check)}): {printable(f.problem)}")
        text.append(f"\n  fix: {printable(f.fix)}", style="dim")
    for note in report.posture_notes:
        text.append(f"\n{printable(note)}", style="dim italic")
    return text


class HealthPanel(Static):
    """Renders the last HealthReport. format_seconds is injectable (snapshots hide timings)."""

    DEFAULT_CSS = """
    HealthPanel { height: auto; padding: 0 1; }
    """

    @dataclass
    class Checked(Message):
        """A fresh report (an unreachable target is a no-quorum report with its error)."""

        report: HealthReport

    def __init__(self, *, title: str = "quorum health",
                 format_seconds: Callable[[float | None], str] = format_probe_seconds,
                 compact: bool = False, **kw) -> None:
        super().__init__("", **kw)
        self.heading = title
        self.format_seconds = format_seconds
        #: narrow layout: replicas as n2✔ n3✖ n1~42, no per-bucket reasons (short replicas
        #: also whenever the panel is narrower than NARROW)
        self.compact = compact
        self.report: HealthReport | None = None
        self.checks = 0
        #: the target is the app's own backend: a lost quorum disables its changes too
        self.gates_changes = False
        #: list the posture findings (SPEC 12) under the probe (the health screen does)
        self.show_posture = False

    def deliver(self, report: HealthReport) -> None:
        """Hand a report over from a worker: the panel shows it in its own turn (a message)."""
        self.post_message(self.Checked(report))

    def on_health_panel_checked(self, message: Checked) -> None:
        # handled here and bubbles on, so a screen can react (the app's quorum gate)
        self.show(message.report)

    def show_message(self, text: str, style: str = "dim") -> None:
        self.report = None
        self.update(Group(Text(self.heading, style="bold underline"), Text(text, style=style)))
        self.set_class(False, "-no-quorum", "-degraded", "-healthy", "-absent")

    def show(self, report: HealthReport) -> None:
        self.report = report
        self.checks += 1
        self._draw(report)

    def on_resize(self, event: events.Resize) -> None:
        if self.report is not None:
            self._draw(self.report)  # short or long replicas, as the new width holds

    def _draw(self, report: HealthReport) -> None:
        short = self.compact or 0 < self.size.width < NARROW
        parts: list = [Text(self.heading, style="bold underline")]
        overall = Text("overall ", style="bold")
        overall.append(f" {report.overall.upper()} ", style=STATE_STYLE.get(report.overall, "bold")
                       + " reverse")
        parts.append(overall)
        if report.overall == NO_QUORUM:
            banner = QUORUM_LOST + (f"; {CHANGES_DISABLED}" if self.gates_changes else "")
            parts.append(Text(banner, style="bold red"))
        if report.overall == ABSENT:
            parts.append(Text(NO_BUCKETS, style="bold magenta"))
        if report.error:
            parts.append(Text(printable(report.error), style="red"))
        if report.detail:
            parts.append(Text(printable(report.detail), style="dim"))
        if report.buckets:
            table = Table(box=None, padding=(0, 1), pad_edge=False, expand=False,
                          header_style="bold")
            table.add_column("bucket", no_wrap=True)
            table.add_column("R", justify="right")
            table.add_column("leader", no_wrap=True)
            table.add_column("replicas")
            table.add_column("state", no_wrap=True)
            for b in report.buckets:
                state = state_text(b.state)
                if b.reason and not self.compact:
                    state.append(f"\n{b.reason}", style="dim")
                table.add_row(b.bucket, "?" if b.replicas is None else str(b.replicas),
                              b.leader or Text("none", style="bold red"),
                              replica_text(b, short), state)
            parts.append(table)
        if report.probe is not None:
            p = report.probe
            probe = Text("probe ", style="bold")
            probe.append(f"is_authorized({p.key}) ")
            word, why = p.verdict()  # a deny the store answered is healthy: green, not red
            probe.append(word, style="bold green" if p.answered else "bold red")
            took = self.format_seconds(p.seconds)
            if took:
                probe.append(f" in {took}")
            probe.append(f"\n{printable(why)}", style="dim")
            parts.append(probe)
        if self.show_posture and (report.posture or report.posture_notes):
            parts.append(posture_text(report))
        self.update(Group(*parts))
        for name in (HEALTHY, DEGRADED, NO_QUORUM, ABSENT):
            self.set_class(report.overall == name, f"-{name}")
