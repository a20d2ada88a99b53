"""`health --format nagios|prometheus`: the quorum report for monitoring systems.

Nagios: one status line (`MEMBERSHIP-KV OK - ...`), performance data after `|`, a line per
bucket after it, and the plugin exit codes 0 OK (healthy), 1 WARNING (degraded), 2 CRITICAL
(no quorum, or absent: authorizations are denied either way; the status line says which), 3
UNKNOWN (the check could not be made: unreachable, some bucket missing). Prometheus: the text
exposition format, one gauge family per figure, labelled by bucket (and replica), for a
textfile collector or a scrape wrapper; state 3 is absent.
"""

from __future__ import annotations

from store.health import ABSENT, ABSENT_MEANING, DEGRADED, HEALTHY, NO_QUORUM, BucketHealth, HealthReport
from store.text import printable

NAGIOS_OK, NAGIOS_WARNING, NAGIOS_CRITICAL, NAGIOS_UNKNOWN = 0, 1, 2, 3
_NAGIOS = {HEALTHY: (NAGIOS_OK, "OK"), DEGRADED: (NAGIOS_WARNING, "WARNING"), NO_QUORUM: (NAGIOS_CRITICAL, "CRITICAL"),
           ABSENT: (NAGIOS_CRITICAL, "CRITICAL")}
_STATE_VALUE = {HEALTHY: 0, DEGRADED: 1, NO_QUORUM: 2, ABSENT: 3}


def nagios(report: HealthReport) -> tuple[str, int]:
    """The plugin output and its exit code."""
    if report.error:
        return f"MEMBERSHIP-KV UNKNOWN - {printable(report.target)}: {printable(report.error)}", NAGIOS_UNKNOWN
    if report.overall == ABSENT:
        # authorizations are denied, as without quorum, but the fix is another: say which
        line = (f"MEMBERSHIP-KV CRITICAL - {printable(report.target)} absent: none of the {len(report.buckets)} "
                f"buckets exists ({ABSENT_MEANING}); authorizations are denied | buckets=0;;;0")
        return "\n".join([line, *([printable(report.detail)] if report.detail else [])]), NAGIOS_CRITICAL
    code, word = _NAGIOS[report.overall]
    if report.posture and code == NAGIOS_OK:  # healthy, but configured to lose data: WARNING
        code, word = NAGIOS_WARNING, "WARNING"
    counts = {s: sum(1 for b in report.buckets if b.state == s) for s in (HEALTHY, DEGRADED, NO_QUORUM)}
    summary = f"{report.overall}: {len(report.buckets)} buckets, {counts[DEGRADED]} degraded, " \
              f"{counts[NO_QUORUM]} without quorum"
    perf = [f"buckets={len(report.buckets)};;;0", f"degraded={counts[DEGRADED]};1;;0",
            f"no_quorum={counts[NO_QUORUM]};;1;0"]
    if report.probe:
        p = report.probe
        summary += f"; probe {p.verdict()[0]} in {p.seconds * 1000:.1f} ms"
        perf.append(f"probe={p.seconds:.6f}s;;;0")
    if report.posture:
        summary += f"; {len(report.posture)} posture finding(s)"
    perf.append(f"posture_findings={len(report.posture)};1;;0")
    lines = [f"MEMBERSHIP-KV {word} - {printable(report.target)} {summary} | {' '.join(perf)}"]
    for b in report.buckets:
        lines.append(f"{b.bucket}: {b.state}, leader {b.leader or '-'}, replicas {b.replicas or '?'}"
                     + (f" ({printable(b.reason)})" if b.reason else ""))
    lines += [f"posture: {printable(f.text())}" for f in report.posture]
    return "\n".join(lines), code


def _label(value: str) -> str:
    """A label value of the exposition format: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _current(b: BucketHealth) -> int:
    """Replicas the leader sees current, the leader included."""
    return (1 if b.leader else 0) + sum(p.state == "current" for p in b.peers)


def prometheus(report: HealthReport) -> str:
    families: list[tuple[str, str, list[tuple[str, float]]]] = []

    def family(name: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        families.append((f"membership_kv_{name}", help_text, samples))

    family("up", "1 when the deployment answered the health check, else 0.", [("", 0.0 if report.error else 1.0)])
    if not report.error:
        family("state", "Overall quorum state: 0 healthy, 1 degraded, 2 no quorum, 3 absent (no bucket).",
               [("", float(_STATE_VALUE[report.overall]))])
        family("bucket_state", "A bucket's state: 0 healthy, 1 degraded, 2 no quorum, 3 absent.",
               [(f'bucket="{_label(b.bucket)}"', float(_STATE_VALUE[b.state])) for b in report.buckets])
        family("bucket_replicas", "Replicas a bucket is configured with.",
               [(f'bucket="{_label(b.bucket)}"', float(b.replicas)) for b in report.buckets if b.replicas])
        family("bucket_current_peers", "Replicas the leader sees current, the leader included.",
               [(f'bucket="{_label(b.bucket)}"', float(_current(b))) for b in report.buckets])
        family("replica_lag", "Operations a replica is behind its bucket's leader.",
               [(f'bucket="{_label(b.bucket)}",replica="{_label(p.name)}"', float(p.lag))
                for b in report.buckets for p in b.peers])
        family("posture_findings", "Posture findings: configurations that can lose or hide data.",
               [("", float(len(report.posture)))])
        family("posture_finding", "1 per posture finding, labelled by check and bucket, stream or server.",
               [(f'check="{_label(f.check)}",subject="{_label(f.subject)}"', 1.0) for f in report.posture])
        if report.probe:
            family("probe_seconds", "How long the live is_authorized probe took.", [("", report.probe.seconds)])
            family("probe_allowed", "The probe's answer: 1 allow, 0 deny.",
                   [("", 1.0 if report.probe.allowed else 0.0)])
    lines = []
    for name, help_text, samples in families:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines += [f"{name}{{{labels}}} {value:g}" if labels else f"{name} {value:g}" for labels, value in samples]
    return "\n".join(lines)
