"""Scenario presets: which clients exist, how much history each has, and the seeds.

Times are UTC epoch seconds. A scenario's ``now`` is the instant the simulated world
starts at (the sandbox clock and devhost's virtual clock both begin there); every
client's history ends at ``now``.

Volumes are average orders per day per platform; each platform's generator turns that
into orders, items, refunds, fees, payouts, inventory with its own seasonality and bursts.
Quiltt's volume is bank transactions per day besides the deposits matching payouts.

    tiny       1 client, 60 days, a few hundred records: seconds, for unit tests
    reference  1 client, 2 years, about 100,000 records across the five platforms
    multi      50 clients, 1 year each, smaller histories: enough that the
               application-wide daily quotas of eBay and Etsy bind
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

DAY = 86_400.0
WORLD_NOW = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
PLATFORMS = ("amazon", "shopify", "ebay", "etsy", "quiltt")


@dataclass(frozen=True)
class ClientSpec:
    client_id: str
    seed: int
    history_start: float  # epoch seconds, UTC
    history_end: float
    volume: dict[str, float] = field(default_factory=dict)  # platform -> orders (or txns) / day

    def account(self, platform: str) -> str:
        """The client's account (seller id, shop, user, …) on ``platform``; stable per client."""
        return f"{platform}-{self.client_id}"

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(p for p in PLATFORMS if self.volume.get(p, 0) > 0)


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    now: float
    clients: tuple[ClientSpec, ...]

    def client(self, client_id: str) -> ClientSpec:
        for spec in self.clients:
            if spec.client_id == client_id:
                return spec
        raise KeyError(f"scenario {self.name!r} has no client {client_id!r}")


def _client(client_id: str, seed: int, days: float, volume: dict[str, float]) -> ClientSpec:
    return ClientSpec(client_id, seed, WORLD_NOW - days * DAY, WORLD_NOW, volume)


def _tiny() -> Scenario:
    volume = {"amazon": 2, "shopify": 2, "ebay": 2, "etsy": 2, "quiltt": 2}
    return Scenario("tiny", 7, WORLD_NOW, (_client("c-tiny", 7, 60, volume),))


def _reference() -> Scenario:
    volume = {"amazon": 11, "shopify": 9, "ebay": 7, "etsy": 6, "quiltt": 8}
    return Scenario("reference", 42, WORLD_NOW, (_client("c-ref", 42, 730, volume),))


def _multi() -> Scenario:
    clients = tuple(
        _client(
            f"c-{i:02d}",
            1000 + i,
            365,
            {"amazon": 1.5, "shopify": 1.5, "ebay": 2 + i % 3, "etsy": 2 + i % 4, "quiltt": 2},
        )
        for i in range(50)
    )
    return Scenario("multi", 1000, WORLD_NOW, clients)


SCENARIOS = {"tiny": _tiny, "reference": _reference, "multi": _multi}


def load(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; expected one of {sorted(SCENARIOS)}")
    return SCENARIOS[name]()
