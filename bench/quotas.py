"""Application-wide quotas in a run: how much of each was used while work waited, and how
it was shared between clients. Pure.

An application-wide bucket is a lane of a ``PER_APPLICATION`` platform's policy (eBay:
one lane per API, each a daily quota; Etsy: one lane, 10 per second and 10,000 per
sliding day). Its calls are the run's exchanges on that lane that the platform counts:
every answer but a 429.

Work waits on a platform from the run's start until its last onboarding ended, or until
the run stopped (``stopped_at``) with onboardings unfinished.

Use. For each *daily* limit of a lane (a window of an hour or more), the run is cut into
quota windows: eBay's fixed windows from the reset time of the policy; for Etsy's
sliding day, consecutive days from the run's start (any day-long stretch counts against
the same limit). Per window: its calls, ``use`` = calls / the platform's limit (the
platform's figure, not the part the ambassador lets a backfill take), and
``waited_through``: work still waited when the window ended. ``use_while_waiting`` sums
calls over limits across the windows work waited through; None when there is none (work
ended inside the first window, so the daily quota never bound, or the run stopped
before a window ended). ``use_of_capacity``: the lane's calls over the most its limits
allowed from the start until work ended (per window, the daily limit or what the short
limits allow in the part of the window inside the stretch, whichever is less).

Shares. In a window work waited through, the clients whose onboarding on the platform
was unfinished at the window's end all had work waiting throughout; the ambassador
shares a lane equally between clients, so their calls should be equal (a client that
finished inside the window needed less than a share and is left out). The same for the
*common stretch*: from the start until the first client's onboarding ended, or the run
stopped (it exists in a cut run too). Per set: ``clients``, ``jain`` = (Σx)² / (n·Σx²)
(1: equal; 1/n: one client took all), ``min_share`` / ``max_share`` = the least / most
calls of a client over the mean. ``clients``: each client's calls on the lane over the
run and when its onboarding ended (None: unfinished). Calls whose client the recorder
could not tell (application tokens) count in the use, not in the shares
(``unattributed_calls``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from bench.recorder import Exchange
from shared.ambassador.policies import LimitSpec, PlatformPolicy
from shared.ambassador.protocol import PER_APPLICATION

DAILY_FROM_S = 3_600.0  # a limit whose window is at least this long is a daily quota


def _window_s(spec: LimitSpec) -> float | None:
    if spec.kind == "daily_quota":
        return float(spec.params.get("window_s", 86_400.0))
    if "window_s" in spec.params:
        return float(spec.params["window_s"])
    return None


def _is_daily(spec: LimitSpec) -> bool:
    window = _window_s(spec)
    return window is not None and window >= DAILY_FROM_S


def _short_cap(specs: Iterable[LimitSpec], seconds: float) -> float:
    """The most calls the short limits allow in ``seconds`` (inf if there are none)."""
    cap = math.inf
    for spec in specs:
        p = spec.params
        if "rate" in p:
            cap = min(cap, float(p["rate"]) * seconds + float(p.get("burst", 1)))
        elif "limit" in p and "window_s" in p:
            cap = min(cap, float(p["limit"]) * (seconds / float(p["window_s"]) + 1))
    return cap


def _windows(spec: LimitSpec, start: float, end: float) -> list[tuple[float, float]]:
    """The quota windows of a daily limit that overlap ``[start, end]``."""
    window = _window_s(spec) or 86_400.0
    if spec.kind in ("daily_quota", "fixed_window"):
        hh, mm = (int(x) for x in str(spec.params.get("reset_utc", "00:00")).split(":"))
        anchor = (hh * 3600 + mm * 60) % window
        first = math.floor((start - anchor) / window)
        t = anchor + first * window
    else:  # sliding: days from the start
        t = start
    out = []
    while t < end or not out:
        out.append((t, t + window))
        t += window
    return out


def _fairness(calls: Mapping[str, int], clients: Iterable[str]) -> dict[str, Any] | None:
    xs = [calls.get(c, 0) for c in clients]
    if not xs:
        return None
    total, squares = sum(xs), sum(x * x for x in xs)
    mean = total / len(xs)
    return {
        "clients": len(xs),
        "calls": total,
        "jain": round(total * total / (len(xs) * squares), 4) if squares else None,
        "min_share": round(min(xs) / mean, 3) if mean else None,
        "max_share": round(max(xs) / mean, 3) if mean else None,
    }


def lane_use(
    exchanges: list[Exchange],
    policy: PlatformPolicy,
    lane: str,
    *,
    started_at: float,
    stopped_at: float,
    ended: Mapping[str, float],
    clients: Iterable[str],
) -> dict[str, Any]:
    """Use and shares of one application-wide lane (see the module docstring);
    ``exchanges``: the platform's exchanges on the lane; ``ended``: client -> virtual end
    of its onboarding on the platform (unfinished clients absent)."""
    clients = sorted(clients)
    counted = [e for e in exchanges if e.status != 429]
    unfinished = [c for c in clients if c not in ended]
    waiting_end = stopped_at if unfinished else max(ended.values(), default=started_at)
    specs = policy.lanes[lane].limits
    daily = [s for s in specs if _is_daily(s)]
    short = [s for s in specs if not _is_daily(s)]

    def ends_after(t: float) -> list[str]:
        return [c for c in clients if ended.get(c, math.inf) > t]

    def per_client(lo: float, hi: float) -> Counter:
        return Counter(e.client for e in counted if lo <= e.at < hi and e.client is not None)

    limits: dict[str, Any] = {}
    capacity = math.inf if daily or short else None
    share_windows: list[dict[str, Any]] = []
    for spec in daily:
        limit = int(spec.params["limit"])
        rows, cap, waited_calls, waited_limit = [], 0.0, 0, 0
        for lo, hi in _windows(spec, started_at, waiting_end):
            n = sum(1 for e in counted if lo <= e.at < hi)
            through = hi <= waiting_end and bool(ends_after(hi))
            inside = max(0.0, min(hi, waiting_end) - max(lo, started_at))
            cap += min(limit, _short_cap(short, inside))
            rows.append(
                {
                    "start_s": round(lo - started_at, 1),
                    "end_s": round(hi - started_at, 1),
                    "calls": n,
                    "use": round(n / limit, 4),
                    "waited_through": through,
                }
            )
            if through:
                waited_calls, waited_limit = waited_calls + n, waited_limit + limit
                if spec is daily[0]:
                    fair = _fairness(per_client(lo, hi), ends_after(hi))
                    if fair is not None:
                        share_windows.append({"start_s": rows[-1]["start_s"], **fair})
        capacity = min(capacity, cap)
        limits[spec.name] = {
            "limit": limit,
            "window_s": _window_s(spec),
            "windows": rows,
            "use_while_waiting": round(waited_calls / waited_limit, 4) if waited_limit else None,
        }
    if not daily and short:
        capacity = _short_cap(short, waiting_end - started_at)
    in_stretch = sum(1 for e in counted if started_at <= e.at <= waiting_end)
    first_end = min([*ended.values(), stopped_at])
    common = _fairness(per_client(started_at, first_end), clients)
    everyone = per_client(-math.inf, math.inf)
    each = {
        c: {
            "calls": everyone.get(c, 0),
            "ended_s": round(ended[c] - started_at, 1) if c in ended else None,
        }
        for c in clients
    }
    return {
        "calls": len(counted),
        "status_429": len(exchanges) - len(counted),
        "unattributed_calls": sum(1 for e in counted if e.client is None),
        "waiting_s": round(waiting_end - started_at, 1),
        "work_ended": not unfinished,
        "capacity": None if capacity in (None, math.inf) else round(capacity),
        "use_of_capacity": (
            round(in_stretch / capacity, 4) if capacity not in (None, math.inf, 0) else None
        ),
        "limits": limits,
        "shares": {
            "common_stretch": None
            if common is None
            else {"end_s": round(first_end - started_at, 1), **common},
            "windows": share_windows,
        },
        "clients": each,
    }


def application_quotas(
    exchanges: list[Exchange],
    policies: Mapping[str, PlatformPolicy],
    *,
    started_at: float,
    stopped_at: float,
    ended: Mapping[tuple[str, str], float],
    clients: Mapping[str, Iterable[str]],
) -> dict[str, dict[str, Any]]:
    """platform -> lane -> ``lane_use`` for every application-wide platform of the run
    and every lane that served a call; ``clients``: platform -> the clients onboarded on
    it; ``ended``: (client, platform) -> virtual end of that onboarding."""
    out: dict[str, dict[str, Any]] = {}
    for platform, policy in policies.items():
        if platform not in PER_APPLICATION:
            continue
        mine = [e for e in exchanges if e.platform == platform]
        ends = {c: t for (c, p), t in ended.items() if p == platform}
        for lane in policy.lanes:
            on_lane = [e for e in mine if e.bucket == lane]
            if not on_lane:
                continue
            out.setdefault(platform, {})[lane] = lane_use(
                on_lane,
                policy,
                lane,
                started_at=started_at,
                stopped_at=stopped_at,
                ended=ends,
                clients=clients.get(platform, ()),
            )
    return out


def describe(quotas: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per application-wide lane, for the printed table."""
    lines = []
    for platform, lanes in quotas.items():
        for lane, u in lanes.items():
            parts = [f"{platform} {lane}: {u['calls']} calls in {u['waiting_s'] / 3600:.2f} h"]
            if u["use_of_capacity"] is not None:
                parts.append(f"{u['use_of_capacity']:.3f} of capacity")
            for name, lim in u["limits"].items():
                through = [w for w in lim["windows"] if w["waited_through"]]
                if lim["use_while_waiting"] is None:
                    parts.append(f"{name}: no window waited through")
                else:
                    parts.append(
                        f"{name}: {lim['use_while_waiting']:.3f} used in {len(through)} "
                        "window(s) work waited through"
                    )
            common = u["shares"]["common_stretch"]
            if common and common["jain"] is not None:
                parts.append(
                    f"shares of {common['clients']} clients to {common['end_s'] / 3600:.2f} h: "
                    f"Jain {common['jain']:.3f}, min/max {common['min_share']:.2f}/"
                    f"{common['max_share']:.2f} of mean"
                )
            lines.append("; ".join(parts))
    return lines
