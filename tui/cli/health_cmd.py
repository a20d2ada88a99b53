"""`health --nats-url URL [--format text|json|nagios|prometheus]`: the KV quorum state of
SPEC section 6.

Exit status: 0 healthy, 1 degraded, 3 no-quorum, absent (a server without the buckets) or
unreachable; with --format nagios the plugin's codes (tui.cli.health_formats).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from store import NatsSpec, ids
from store.health import ABSENT, ABSENT_MEANING, DEFAULT_PROBE_KEY, DEGRADED, HEALTHY, HealthReport, check_health
from store.text import iso_time, printable

from .common import EXIT_FOUND, EXIT_OK, EXIT_UNAVAILABLE, CommandError, add_backend_args, number_arg, run_async
from .connection import nats_spec
from .health_formats import NAGIOS_UNKNOWN, nagios, prometheus


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("health", help="quorum health of the JetStream KV buckets",
                       description="Per bucket: configured replicas, leader, each replica's state "
                                   "(from the leader's view), and a live authorization probe. "
                                   "Exit 0 healthy, 1 degraded, 3 no-quorum, absent (the server holds none "
                                   "of the buckets: nothing migrated there, or the wrong prefix) or "
                                   "unreachable.")
    add_backend_args(p, db=False, suppress=True)
    p.add_argument("--format", choices=("text", "json", "nagios", "prometheus"), default="text",
                   help="text (default), json, nagios (a plugin's status line, perfdata and exit codes "
                        "0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN) or prometheus (the text exposition "
                        "format), e.g. --format nagios")
    p.add_argument("--json", action="store_true", help="the same as --format json")
    p.add_argument("--watch", metavar="SECONDS", type=number_arg("seconds", float, 0.1, 86400.0), default=None,
                   help="check again every SECONDS and show each report (on a terminal, redrawn in "
                        "place) until interrupted with Ctrl-C, e.g. --watch 2")
    p.add_argument("--probe-key", default=DEFAULT_PROBE_KEY,
                   help=f"key the live is_authorized probe asks about (default {DEFAULT_PROBE_KEY})")
    p.add_argument("--monitor", metavar="URL", default=None,
                   help="the servers' HTTP monitoring URLs, comma-separated, so posture can read each "
                        "server's version and disk sync (/varz), e.g. --monitor http://nats1:8222,http://nats2:8222")
    p.set_defaults(func=cmd_health)


def cmd_health(args: argparse.Namespace) -> int:
    spec = nats_spec(args, read_only=True)
    try:
        probe_key = ids.key(args.probe_key)
    except ids.InvalidInput as e:
        raise CommandError(str(e)) from None
    fmt = "json" if args.json else args.format
    monitor = monitor_arg(args.monitor)
    if args.watch is not None:
        if fmt == "nagios":
            raise CommandError("--watch is for a person or a collector: a Nagios check runs once")
        return _watch(spec, probe_key, fmt, args.watch, monitor)
    if fmt == "nagios":  # the plugin's exit codes, whatever happens (3: the check could not be made)
        try:
            report = run_async(lambda: check_health(spec, probe_key, monitor=monitor))
        except CommandError as e:
            print(f"MEMBERSHIP-KV UNKNOWN - {printable(str(e))}")
            return NAGIOS_UNKNOWN
        text, code = nagios(report)
        print(text)
        return code
    report = run_async(lambda: check_health(spec, probe_key, monitor=monitor))
    if fmt == "prometheus":
        print(prometheus(report))
        return _exit_status(report)
    if report.error and fmt != "json":
        # unreachable, a missing bucket: one line, as every command says it (SPEC 9)
        raise CommandError(f"unavailable: {report.error}", EXIT_UNAVAILABLE)
    print(json.dumps(report.to_dict(), indent=2) if fmt == "json" else render(report))
    return _exit_status(report)


def monitor_arg(text: str | None) -> list[str]:
    """--monitor: http(s) URLs only (urllib would open a file:// URL too)."""
    urls = [u.strip() for u in (text or "").split(",") if u.strip()]
    for u in urls:
        if not u.startswith(("http://", "https://")):
            raise CommandError(f"invalid --monitor URL {u!r}: expected http://host:port (the monitoring port)")
    return urls


def _exit_status(report: HealthReport) -> int:
    """SPEC 7: 0 healthy, 1 degraded, 3 no quorum, absent (or unreachable)."""
    return {HEALTHY: EXIT_OK, DEGRADED: EXIT_FOUND}.get(report.overall, EXIT_UNAVAILABLE)


def _watch(spec: NatsSpec, probe_key: str, fmt: str, every: float, monitor: list[str]) -> int:
    """Report every `every` seconds until Ctrl-C (exit 0: that is how a watch ends). A report
    that could not be made is shown like any other and the watch goes on."""
    redraw = sys.stdout.isatty() and fmt == "text"

    async def loop() -> None:
        while True:
            started = time.monotonic()
            report = await check_health(spec, probe_key, monitor=monitor)
            if fmt == "json":
                text = json.dumps(report.to_dict(), separators=(",", ":"))
            elif fmt == "prometheus":
                text = prometheus(report) + "\n"
            else:
                text = render(report)
                text = ("\033[H\033[2J" if redraw else "") + f"{iso_time(int(time.time()), seconds=True)}\n{text}\n"
            print(text, flush=True)
            await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))

    try:
        run_async(loop)
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK


def render(report: HealthReport) -> str:
    """A readable table: one line per bucket, then one per replica."""
    lines = [f"{report.target}: {report.overall}"]
    if report.error:
        lines.append(f"  unreachable: {report.error}")
        return "\n".join(lines)
    if report.overall == ABSENT:
        lines[0] += f" ({ABSENT_MEANING}): authorizations are denied"
        if report.detail:
            lines.append(f"  {printable(report.detail)}")
        return "\n".join(lines)
    rows = [("bucket", "R", "leader", "state", "replicas")]
    for b in report.buckets:
        peers = ", ".join(
            p.name + ("" if p.state == "current" else
                      f" lagging({p.lag})" if p.state == "lagging" else " offline")
            for p in b.peers) or "-"
        state = b.state + (f" ({b.reason})" if b.reason else "")
        rows.append((b.bucket, "?" if b.replicas is None else str(b.replicas), b.leader or "-",
                     state, peers))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[4])
    if report.probe:
        p = report.probe
        word, why = p.verdict()
        lines.append(f"probe is_authorized({p.key}): {word} in {p.seconds * 1000:.1f} ms: {why}")
    lines += posture_lines(report)
    return "\n".join(lines)


def posture_lines(report: HealthReport) -> list[str]:
    """The posture findings (SPEC 12): what to change, beside the state."""
    if not report.posture:
        lines = ["posture: no findings"]
    else:
        lines = [f"posture: {len(report.posture)} finding(s)"]
        lines += [f"  {printable(f.check)}  {printable(f.text())}" for f in report.posture]
    lines += [f"  (not seen: {printable(n)})" for n in report.posture_notes]
    return lines
