"""The comparison strategies really pace as they claim, on the real flows (tiny scenario,
one small platform each, so the runs take seconds)."""

from __future__ import annotations

from itertools import pairwise

from bench.run import Options, run_bench
from bench.smtp import SmtpServer
from bench.strategies import UNIFORM_INTERVAL_S, free_policy, uniform_policy


async def _run(azurite, **options):
    with SmtpServer() as smtp:
        return await run_bench(
            Options(scenario="tiny", progress=False, **options),
            connection_string=azurite.connection_string,
            smtp=(smtp.host, smtp.port),
        )


def _api_times(measured, platform: str) -> list[float]:
    return sorted(
        e.at for e in measured.exchanges if e.platform == platform and e.bucket not in ("auth",)
    )


def test_uniform_policy_puts_every_route_on_one_per_minute_lanes() -> None:
    for platform in ("amazon", "shopify", "ebay", "etsy", "quiltt"):
        policy = uniform_policy(platform)
        assert set(policy.lanes) <= {"uniform", "uniform_points"}
        pace = policy.lanes["uniform"].limits[0].params
        assert pace["rate"] == 1 / UNIFORM_INTERVAL_S and pace["burst"] == 1
    assert uniform_policy("shopify").lane_of("graphql") == "uniform_points"
    assert uniform_policy("amazon").lane_of("getOrderItems") == "uniform"
    assert uniform_policy("ebay").lane_of("order") == "uniform"


def test_free_policy_maps_every_route_to_one_unlimited_lane() -> None:
    policy = free_policy("amazon")
    assert policy.lane_of("getOrderItems") == policy.lane_of("createReport") == "free"


async def test_uniform_worst_case_sends_one_request_a_minute(azurite) -> None:
    measured = await _run(azurite, strategy="uniform-worst-case", platforms=("quiltt",))
    tally = measured.platforms["quiltt"]
    assert tally.missing == 0 and tally.duplicates == 0 and tally.records_expected > 0
    times = _api_times(measured, "quiltt")
    assert len(times) >= 2
    gaps = [b - a for a, b in pairwise(times)]
    assert min(gaps) >= UNIFORM_INTERVAL_S - 2.0, gaps  # a permit's lease is 2 s
    assert tally.makespan_s >= (len(times) - 1) * (UNIFORM_INTERVAL_S - 2.0)


async def test_reactive_backoff_hits_the_limit_and_still_loads_everything(azurite) -> None:
    measured = await _run(azurite, strategy="reactive-backoff", platforms=("shopify",))
    tally = measured.platforms["shopify"]
    assert tally.missing == 0 and tally.duplicates == 0 and tally.records_expected > 0
    assert measured.http_429["shopify"] > 0, "unpaced requests run into Shopify's bucket"
