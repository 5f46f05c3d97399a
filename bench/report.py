"""The report of a bench run: the JSON the issue specifies, a printed table, a sidecar.

``build_report(measured, floor)`` returns exactly ``TOP_FIELDS`` (``platforms``: per
platform, the fields of ``PLATFORM_FIELDS`` that apply to one platform). Units: seconds
of virtual time for ``makespan_s`` and ``floor_s``; ``efficiency`` = floor_s /
makespan_s (None when nothing ran); ``requests`` counts every call the sandboxes served
(token calls included), ``requests_minimal`` the calls the floor counts (no token calls).
``sidecar(...)`` holds what the report has no field for: the floors bucket by bucket
(Tributary's with every bulk path a platform offers — the report's ``floor_s`` —, with
the bulk paths its planner takes, and the per-record strategy's), the devhost counters,
unexpected records, whether the run was cut (``cut``: then every makespan of a platform
with an unfinished onboarding is a lower bound) and the use and shares of the
application-wide quotas (``application_quotas``, see ``bench.quotas``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bench.floor import Floor
from bench.run import Measured, measured_summary

TOP_FIELDS = (
    "scenario",
    "faults",
    "strategy",
    "makespan_s",
    "floor_s",
    "efficiency",
    "requests",
    "requests_minimal",
    "http_429",
    "faults_injected",
    "retries",
    "records_expected",
    "records_stored",
    "missing",
    "duplicates",
    "blocks_parked",
    "alerts",
    "wall_s",
    "cpu_s",
    "peak_rss_mb",
    "history_events_replayed",
    "platforms",
)
PLATFORM_FIELDS = (
    "makespan_s",
    "floor_s",
    "efficiency",
    "requests",
    "requests_minimal",
    "http_429",
    "faults_injected",
    "retries",
    "records_expected",
    "records_stored",
    "missing",
    "duplicates",
    "blocks_parked",
    "alerts",
)


def _efficiency(floor_s: float, makespan_s: float) -> float | None:
    return round(floor_s / makespan_s, 4) if makespan_s > 0 else None


def _platform(m: Measured, floor: Floor, name: str) -> dict[str, Any]:
    t = m.platforms[name]
    floor_s = floor.per_platform_s.get(name, 0.0)
    return {
        "makespan_s": round(t.makespan_s, 1),
        "floor_s": round(floor_s, 1),
        "efficiency": _efficiency(floor_s, t.makespan_s),
        "requests": m.calls.get(name, 0),
        "requests_minimal": floor.calls_per_platform.get(name, 0),
        "http_429": m.http_429.get(name, 0),
        "faults_injected": m.faults_injected.get(name, 0),
        "retries": t.retries,
        "records_expected": t.records_expected,
        "records_stored": t.records_stored,
        "missing": t.missing,
        "duplicates": t.duplicates,
        "blocks_parked": t.blocks_parked,
        "alerts": t.alerts,
    }


def build_report(m: Measured, floor: Floor) -> dict[str, Any]:
    platforms = {name: _platform(m, floor, name) for name in m.platforms}
    makespan = max((t.makespan_s for t in m.platforms.values()), default=0.0)

    def total(key: str) -> int:
        return sum(p[key] for p in platforms.values())

    report = {
        "scenario": m.options.scenario,
        "faults": m.options.faults,
        "strategy": m.options.strategy,
        "makespan_s": round(makespan, 1),
        "floor_s": round(floor.seconds, 1),
        "efficiency": _efficiency(floor.seconds, makespan),
        "requests": total("requests"),
        "requests_minimal": floor.calls,
        "http_429": total("http_429"),
        "faults_injected": total("faults_injected"),
        "retries": total("retries"),
        "records_expected": total("records_expected"),
        "records_stored": total("records_stored"),
        "missing": total("missing"),
        "duplicates": total("duplicates"),
        "blocks_parked": total("blocks_parked"),
        "alerts": total("alerts"),
        "wall_s": round(m.wall_s, 2),
        "cpu_s": round(m.cpu_s, 2),
        "peak_rss_mb": round(m.peak_rss_mb, 1),
        "history_events_replayed": m.history_events_replayed,
        "platforms": platforms,
    }
    assert tuple(report) == TOP_FIELDS
    return report


def _floor_json(floor: Floor) -> dict[str, Any]:
    return {
        "floor_s": round(floor.seconds, 1),
        "binding": asdict(floor.binding) if floor.binding else None,
        "per_platform_s": {k: round(v, 1) for k, v in floor.per_platform_s.items()},
        "calls": floor.calls,
        "buckets": [asdict(b) for b in floor.buckets],
    }


def sidecar(
    m: Measured,
    tributary: Floor,
    per_record: Floor,
    planned: Floor,
    quotas: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "floor_tributary": _floor_json(tributary),
        "floor_per_record": _floor_json(per_record),
        "floor_planned_paths": _floor_json(planned),
        "application_quotas": quotas or {},
        **measured_summary(m),
    }


def cut_note(details: dict[str, Any]) -> str | None:
    """A line saying the run was cut (from a sidecar), or None."""
    cut = details.get("cut")
    if not cut:
        return None
    return (
        f"CUT ({cut['why']}) at {cut['at_virtual_s'] / 3600:.2f} h virtual with "
        f"{cut['unfinished_onboardings']} onboarding(s) unfinished: makespan_s is a lower "
        "bound, efficiency an upper bound"
    )


def _hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def table(report: dict[str, Any], per_record: Floor, planned: Floor | None = None) -> str:
    """The report as a fixed-width table, one row per platform and a total; ``planned``
    (the floor of the bulk paths the planner takes) is noted below when it differs."""
    head = (
        f"{'platform':9} {'makespan':>10} {'floor':>10} {'per-rec':>10} {'eff':>6} "
        f"{'requests':>9} {'minimal':>8} {'429':>5} {'faults':>6} {'retry':>5} "
        f"{'expected':>8} {'stored':>8} {'miss':>5} {'dup':>4} {'park':>4}"
    )
    lines = [
        f"bench {report['scenario']} / faults {report['faults']} / {report['strategy']}",
        head,
        "-" * len(head),
    ]
    rows = [
        (name, p, per_record.per_platform_s.get(name, 0.0))
        for name, p in report["platforms"].items()
    ]
    rows.append(("total", report, per_record.seconds))
    for name, p, rec in rows:
        eff = "-" if p["efficiency"] is None else f"{p['efficiency']:.3f}"
        lines.append(
            f"{name:9} {_hms(p['makespan_s']):>10} {_hms(p['floor_s']):>10} {_hms(rec):>10} "
            f"{eff:>6} {p['requests']:>9} {p['requests_minimal']:>8} {p['http_429']:>5} "
            f"{p['faults_injected']:>6} {p['retries']:>5} {p['records_expected']:>8} "
            f"{p['records_stored']:>8} {p['missing']:>5} {p['duplicates']:>4} "
            f"{p['blocks_parked']:>4}"
        )
    lines.append(
        f"wall {report['wall_s']:.1f} s, cpu {report['cpu_s']:.1f} s, peak RSS "
        f"{report['peak_rss_mb']:.0f} MB, history events replayed "
        f"{report['history_events_replayed']}, alerts {report['alerts']}"
    )
    if planned is not None and round(planned.seconds, 1) != report["floor_s"]:
        binding = planned.binding
        where = f" ({binding.platform} {binding.lane}, {binding.calls} calls)" if binding else ""
        lines.append(
            f"floor of the bulk paths the planner takes: {_hms(planned.seconds)}{where}, "
            f"{planned.calls} calls"
        )
    return "\n".join(lines)
