"""What every platform sandbox offers the world it lives in.

Each ``sandbox/<platform>/__init__.py`` exposes ``build(world) -> PlatformSandbox``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from sandbox.world import World


@dataclass(frozen=True)
class PayoutFact:
    """A payout a marketplace sent to the seller's bank: what Quiltt later shows as a deposit."""

    client_id: str
    platform: str
    payout_id: str
    paid_at: float  # epoch seconds, UTC
    amount: Decimal
    currency: str


class PlatformSandbox(Protocol):
    name: str
    resources: tuple[str, ...]

    def app(self) -> ASGIApp:
        """The platform's ASGI app, serving the platform's own paths (no prefix)."""
        ...

    def ground_truth(self, client_id: str, resource: str) -> list[dict[str, Any]]:
        """Exactly the records of ``resource`` this sandbox holds for the client, as of now."""
        ...

    def credentials(self, client_id: str) -> dict[str, str]:
        """What a connect request for this client carries on this platform."""
        ...

    def payouts(self, client_id: str) -> list[PayoutFact]:
        """Payouts to the bank (empty for Quiltt itself)."""
        ...


def quiet_after(times: list[int], after: float, duration: float, margin: float) -> float:
    """The first instant ``t >= after`` with no time of ``times`` (sorted) in
    ``[t - margin, t + duration]``: the search every sandbox's ``quiet_time`` runs."""
    t = after
    while True:
        i = bisect.bisect_left(times, t - margin)
        if i == len(times) or times[i] > t + duration:
            return t
        t = times[i] + margin + 1


def build_platform(name: str, world: World) -> PlatformSandbox:
    from importlib import import_module

    return import_module(f"sandbox.{name}").build(world)
