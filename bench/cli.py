"""``python -m bench run``: one benchmark run, its report, table and plot.

    python -m bench run --scenario reference --faults none --strategy tributary \\
        --out bench/out/reference-none-tributary.json
    python -m bench summary bench/out/*.json      # runs side by side, ratios
    python -m bench floor --scenario multi          # both floors, bucket by bucket, no run

Writes the report (``--out``), beside it ``<stem>.details.json`` (both floors bucket by
bucket, devhost counters, errors), ``<stem>.state.json`` (the entities' states and the
unfinished orchestrations as driving stopped, ``bench.final_state``), ``<stem>.png``
(quota use over virtual time) and,
while the run goes, ``<stem>.progress.jsonl`` (set-up stages and a progress row every
``--progress-s`` seconds of wall, ``bench.progress``; also on stderr unless ``--quiet``),
and prints the table. Azurite: ``TRIBUTARY_STORAGE_CONNECTION`` if set, else one answering
on the default ports, else a private in-memory one started for the run. Alerts go to an
SMTP server on loopback started for the run. Exit status 0 when every onboarding ended,
1 otherwise (the report is written either way).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import signal
import sys
from pathlib import Path

from bench.floor import floor
from bench.plot import plot
from bench.quotas import application_quotas, describe
from bench.report import build_report, cut_note, sidecar, table
from bench.run import Options, run_bench
from bench.strategies import STRATEGIES
from sandbox.faults import PROFILES
from sandbox.scenario import SCENARIOS
from shared.ambassador.policies import PlatformPolicy
from shared.ambassador.protocol import PER_APPLICATION
from shared.flows.chains import BULK_HISTORY


def real_policies(platforms, overrides: dict | None = None) -> dict[str, PlatformPolicy]:
    """The platforms' limit policies as Tributary runs them (with a run's ``--app-limits``
    overrides, if any)."""
    return {p: PlatformPolicy.from_settings(p, (overrides or {}).get(p, {})) for p in platforms}


def execute(options: Options, out: Path) -> dict:
    from bench.smtp import SmtpServer
    from devhost.azurite import ensure_azurite

    with ensure_azurite() as azurite, SmtpServer() as smtp:
        measured = asyncio.run(
            run_bench(
                options, connection_string=azurite.connection_string, smtp=(smtp.host, smtp.port)
            )
        )
    policies = real_policies(measured.platforms, options.app_limits)
    tributary = floor(measured.census, policies, bulk=True)
    per_record = floor(measured.census, policies, bulk=False)
    planned = floor(measured.census, policies, bulk=True, only=BULK_HISTORY)
    report = build_report(measured, tributary)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    onboarded: dict[str, list[str]] = {}
    for client, platform in measured.census:
        onboarded.setdefault(platform, []).append(client)
    quotas = application_quotas(
        measured.exchanges,
        policies,
        started_at=measured.started_at,
        stopped_at=measured.stopped_at,
        ended=measured.ended,
        clients=onboarded,
    )
    details = sidecar(measured, tributary, per_record, planned, quotas)
    if options.sandbox_limits or options.app_limits:
        details["limit_overrides"] = {"sandbox": options.sandbox_limits, "app": options.app_limits}
    if options.clients is not None:
        details["clients"] = len({c for c, _ in measured.census})
    out.with_name(out.stem + ".details.json").write_text(
        json.dumps(details, indent=2, default=str) + "\n"
    )
    out.with_name(out.stem + ".state.json").write_text(
        json.dumps(measured.final_state, indent=1, default=str) + "\n"
    )
    clients = len({c for c, _ in measured.census})
    scopes = {p: (1 if p in PER_APPLICATION else clients) for p in measured.platforms}
    title = f"{options.scenario} / {options.faults} / {options.strategy}: quota use"
    plot(
        str(out.with_suffix(".png")),
        measured.exchanges,
        policies,
        measured.started_at,
        report["makespan_s"],
        title,
        scopes,
    )
    print(table(report, per_record, planned))
    overridden = details.get("limit_overrides")
    note = f"LIMITS OVERRIDDEN (floor and quotas use them): {overridden}" if overridden else None
    subset = f"only the first {details['clients']} clients" if "clients" in details else None
    for line in [subset, note, cut_note(details), *describe(quotas)]:
        if line:
            print(line)
    for line in measured.errors[:10]:
        print(f"  ! {line}", file=sys.stderr)
    for name, tally in measured.platforms.items():
        for line in tally.parked[:3]:
            print(f"  parked {name} {line}", file=sys.stderr)
    return report


def _was_cut(report_path: Path) -> bool:
    details = report_path.with_name(report_path.stem + ".details.json")
    return details.exists() and bool(json.loads(details.read_text()).get("cut"))


def summary(paths: list[Path]) -> str:
    """Reports side by side; ``x tributary``: a run's makespan over the makespan of
    tributary on the same scenario and faults. A run whose sidecar says it was cut shows
    ``>=`` before its makespan (a lower bound), ``<=`` before its efficiency, and ratios
    it takes part in are not given (``cut``)."""
    runs = [
        (json.loads(p.read_text()), _was_cut(p))
        for p in paths
        if not p.name.endswith(".details.json")
    ]
    base = {
        (r["scenario"], r["faults"]): (r["makespan_s"], cut)
        for r, cut in runs
        if r["strategy"] == "tributary"
    }
    head = (
        f"{'scenario':9} {'faults':7} {'strategy':18} {'makespan_h':>10} {'floor_h':>8} "
        f"{'eff':>7} {'x trib':>7} {'requests':>8} {'429':>6} {'miss':>6} {'dup':>4} "
        f"{'park':>4} {'wall_s':>7}"
    )
    lines = [head, "-" * len(head)]
    for r, cut in sorted(
        runs, key=lambda rc: (rc[0]["scenario"], rc[0]["faults"], rc[0]["strategy"])
    ):
        trib, trib_cut = base.get((r["scenario"], r["faults"]), (None, False))
        ratio = "cut" if cut or trib_cut else f"{r['makespan_s'] / trib:.1f}" if trib else "-"
        eff = "-" if r["efficiency"] is None else f"{'<=' if cut else ''}{r['efficiency']:.3f}"
        makespan = f"{'>=' if cut else ''}{r['makespan_s'] / 3600:.2f}"
        lines.append(
            f"{r['scenario']:9} {r['faults']:7} {r['strategy']:18} "
            f"{makespan:>10} {r['floor_s'] / 3600:>8.2f} {eff:>7} {ratio:>7} "
            f"{r['requests']:>8} {r['http_429']:>6} {r['missing']:>6} {r['duplicates']:>4} "
            f"{r['blocks_parked']:>4} {r['wall_s']:>7.0f}"
        )
    return "\n".join(lines)


def floors(scenario: str, platforms: tuple[str, ...] | None = None) -> str:
    """Both floors of a scenario (or of some of its platforms), bucket by bucket, without
    running anything: the census is taken where a run starts (``BenchStack``'s quiet
    stretch)."""
    from bench.census import take_census
    from bench.stack import QUIET_FOR_S, _platforms_of
    from sandbox.scenario import load
    from sandbox.world import World
    from shared.flows.chains import SETTLE

    spec = load(scenario)
    platforms = platforms or _platforms_of(spec)
    world = World(spec, platforms=platforms)
    quiet = QUIET_FOR_S.get(scenario, 600.0)
    world.clock.set(world.quiet_start(spec.now, quiet, SETTLE.total_seconds()))
    census = take_census(world, platforms)
    policies = real_policies(platforms)
    lines = []
    kinds = (
        ("tributary (every bulk path)", True, None),
        ("tributary's planned paths", True, BULK_HISTORY),
        ("per record", False, None),
    )
    for label, bulk, only in kinds:
        f = floor(census, policies, bulk=bulk, only=only)
        lines.append(f"{scenario}: floor of {label}: {f.seconds / 3600:.2f} h, {f.calls} calls")
        for b in sorted(f.buckets, key=lambda b: -b.seconds)[:8]:
            lines.append(
                f"  {b.platform:8} {b.lane:30} {b.scope:12} calls {b.calls:>7} units "
                f"{b.units:>8} {b.seconds / 3600:>8.2f} h"
            )
    return "\n".join(lines)


def _json_object(text: str) -> dict:
    """A JSON object of platform -> overrides (argparse type)."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise argparse.ArgumentTypeError('expected {"platform": {"key": value, ...}, ...}')
    return value


def _positive(text: str) -> float:
    """A positive number of seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="one run: report JSON, table, plot")
    run.add_argument("--scenario", choices=sorted(SCENARIOS), default="tiny")
    run.add_argument("--faults", choices=sorted(PROFILES), default="none")
    run.add_argument("--strategy", choices=list(STRATEGIES), default="tributary")
    run.add_argument("--out", type=Path, default=Path("report.json"))
    run.add_argument("--platforms", help="comma-separated subset (default: all)")
    run.add_argument("--max-virtual-h", type=float, help="stop after this much virtual time")
    run.add_argument("--max-wall-s", type=float, help="stop after this much wall time")
    run.add_argument("--profile", type=Path, help="write a cProfile of the run here")
    run.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    run.add_argument(
        "--progress-s",
        type=_positive,
        default=60.0,
        help="wall seconds between progress rows (stderr and <stem>.progress.jsonl)",
    )
    run.add_argument("--clients", type=int, help="only the scenario's first N clients")
    run.add_argument(
        "--sandbox-limits",
        type=_json_object,
        help='sandbox limit overrides, JSON: {"etsy": {"qpd": 1000}} (scaled quotas)',
    )
    run.add_argument(
        "--app-limits",
        type=_json_object,
        help='Settings.<platform>.limits overrides, JSON: {"etsy": {"qpd": 1000}}',
    )
    summ = sub.add_parser("summary", help="reports of several runs side by side")
    summ.add_argument("reports", nargs="+", type=Path)
    fl = sub.add_parser("floor", help="a scenario's floors, bucket by bucket (no run)")
    fl.add_argument("--scenario", choices=sorted(SCENARIOS), default="reference")
    fl.add_argument("--platforms", help="comma-separated subset (default: all)")
    args = parser.parse_args(argv)
    if args.command == "floor":
        print(floors(args.scenario, tuple(args.platforms.split(",")) if args.platforms else None))
        return 0
    if args.command == "summary":
        print(summary(args.reports))
        return 0
    options = Options(
        scenario=args.scenario,
        faults=args.faults,
        strategy=args.strategy,
        platforms=tuple(args.platforms.split(",")) if args.platforms else None,
        progress=not args.quiet,
        progress_path=args.out.with_name(args.out.stem + ".progress.jsonl"),
        progress_every_s=args.progress_s,
        max_virtual_s=None if args.max_virtual_h is None else args.max_virtual_h * 3600,
        max_wall_s=args.max_wall_s,
        sandbox_limits=args.sandbox_limits,
        app_limits=args.app_limits,
        clients=args.clients,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up Azurite on a kill
    if args.profile is None:
        report = execute(options, args.out)
    else:
        profiler = cProfile.Profile()
        try:
            report = profiler.runcall(execute, options, args.out)
        finally:
            profiler.dump_stats(str(args.profile))
    finished = report["missing"] == 0 and report["records_expected"] > 0
    return 0 if finished else 1
