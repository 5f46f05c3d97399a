"""Quota use over virtual time per platform, as a PNG (matplotlib, Agg backend).

Use of a bucket in a time bin = units it served in the bin (calls; Shopify GraphQL: cost
points) / what its limits admit in a bin of that length at their sustained rate over the
run (a token bucket's rate; a window's limit over its length, or over the run when the
run is shorter: a daily quota does not bind a two-minute run, Etsy's 10/s does). Per
platform, the (at most three) buckets that served the most units are drawn; 1.0 is the
limit's sustained rate (a burst can lift a bin above it).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from bench.recorder import Exchange
from shared.ambassador.policies import LaneSpec, PlatformPolicy

SKIP = {"auth", "download", "other"}


def sustained_rate(lane: LaneSpec, horizon_s: float | None = None) -> float:
    """Units per second the lane admits over ``horizon_s`` (None: in the long run), by
    its tightest limit; a window longer than the horizon admits its limit within it."""
    rates = []
    for spec in lane.limits:
        p = spec.params
        if "rate" in p:
            rates.append(float(p["rate"]))
        elif "limit" in p:
            window = float(p.get("window_s", 86_400.0))
            span = window if horizon_s is None else min(window, max(horizon_s, 1.0))
            rates.append(float(p["limit"]) / span)
    return min(rates) if rates else float("inf")


def use_series(
    exchanges: Iterable[Exchange],
    policies: Mapping[str, PlatformPolicy],
    start: float,
    bin_s: float,
    scopes: Mapping[str, int] | None = None,
    horizon_s: float | None = None,
) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """platform -> bucket -> [(hours since start, use)]. ``scopes``: per platform, how
    many independent buckets of each lane there are (clients, for per-account limits);
    ``horizon_s``: the run's length (see ``sustained_rate``)."""
    served: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for e in exchanges:
        if e.bucket in SKIP or e.status == 429:
            continue
        served[(e.platform, e.bucket)][int((e.at - start) // bin_s)] += e.cost
    out: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(dict)
    for (platform, bucket), bins in served.items():
        policy = policies[platform]
        try:
            lane = policy.lanes[policy.lane_of(bucket)]
        except Exception:  # a bucket the policy does not name: nothing to compare with
            continue
        capacity = sustained_rate(lane, horizon_s) * bin_s * (scopes or {}).get(platform, 1)
        last = max(bins)
        out[platform][bucket] = [
            ((i + 0.5) * bin_s / 3600, bins.get(i, 0) / capacity) for i in range(last + 1)
        ]
    return dict(out)


def plot(
    path: str,
    exchanges: list[Exchange],
    policies: Mapping[str, PlatformPolicy],
    start: float,
    makespan_s: float,
    title: str,
    scopes: Mapping[str, int] | None = None,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bin_s = max(1.0, makespan_s / 100)
    series = use_series(exchanges, policies, start, bin_s, scopes, horizon_s=makespan_s)
    names = sorted(series)
    fig, axes = plt.subplots(
        max(1, len(names)), 1, figsize=(10, 2.2 * max(1, len(names))), sharex=True
    )
    axes = axes if hasattr(axes, "__len__") else [axes]
    for ax, name in zip(axes, names, strict=False):
        buckets = sorted(series[name], key=lambda b: -sum(u for _, u in series[name][b]))[:3]
        for bucket in buckets:
            xs, ys = zip(*series[name][bucket], strict=True)
            ax.plot(xs, ys, label=bucket, linewidth=1)
        ax.axhline(1.0, color="grey", linewidth=0.5, linestyle="--")
        ax.set_ylabel(f"{name}\nuse")
        ax.legend(loc="upper right", fontsize=7)
    axes[-1].set_xlabel(f"virtual time since start (h), bins of {bin_s:.0f} s")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
