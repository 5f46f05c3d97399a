"""Seeded, reproducible fault decisions.

A decision is a pure function of (seed, platform, kind, key, occurrence): the same
request identity gets the same fate in every run with the same seed, whatever order
concurrent callers arrive in. ``key`` is what identifies the request to the platform
(e.g. the path and the page token); ``occurrence`` counts how often that identity has
been asked about, so a retried request can succeed where the first attempt failed.

``force`` makes a kind hit the requests whose key starts with given parts (an
operation, a path), a number of times or always, whatever the rates say: tests aim a
fault at one listing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, fields, replace

FAULT_KINDS = (
    "server_error",  # 5xx
    "throttle_despite_budget",  # 429 although the bucket had room (other apps contend)
    "slow",  # a response much slower than usual
    "timeout",  # no answer within the client's timeout (served as a long stall)
    "short_page",  # fewer records than the page claims
    "lost_next_token",  # a page that should have a next token has none
    "duplicate",  # a record repeated on the next page
    "ebay_transient",  # eBay 400/404/500 that succeed on retry
    "token_expiry",  # an access token expires early
    "empty_finance_page",  # Amazon finance page with no events but a NextToken
    "updated_during_sync",  # a record changes while a sync runs
)


@dataclass(frozen=True)
class FaultRates:
    """Probability per request (or per page / record where the kind says so)."""

    server_error: float = 0.0
    throttle_despite_budget: float = 0.0
    slow: float = 0.0
    timeout: float = 0.0
    short_page: float = 0.0
    lost_next_token: float = 0.0
    duplicate: float = 0.0
    ebay_transient: float = 0.0
    token_expiry: float = 0.0
    empty_finance_page: float = 0.0
    updated_during_sync: float = 0.0

    def scaled(self, factor: float) -> FaultRates:
        return replace(
            self, **{f.name: min(1.0, getattr(self, f.name) * factor) for f in fields(self)}
        )


_DEFAULT = FaultRates(
    server_error=0.01,
    throttle_despite_budget=0.01,
    slow=0.02,
    timeout=0.002,
    short_page=0.005,
    lost_next_token=0.003,
    duplicate=0.01,
    ebay_transient=0.02,
    token_expiry=0.002,
    empty_finance_page=0.05,
    updated_during_sync=0.001,
)

PROFILES: dict[str, FaultRates] = {
    "none": FaultRates(),
    "default": _DEFAULT,
    "harsh": _DEFAULT.scaled(5.0),
}


class Faults:
    """Decides, reproducibly, whether a fault of a kind hits a request."""

    def __init__(
        self,
        profile: str | FaultRates = "none",
        seed: int = 0,
        per_platform: dict[str, FaultRates] | None = None,
    ) -> None:
        if isinstance(profile, str):
            if profile not in PROFILES:
                raise ValueError(f"unknown fault profile {profile!r}; expected {sorted(PROFILES)}")
            profile = PROFILES[profile]
        self.rates = profile
        self.seed = seed
        self.per_platform = dict(per_platform or {})
        self._occurrences: Counter = Counter()
        self._forced: list[Forced] = []

    def force(self, platform: str, kind: str, *key: object, times: int | None = 1) -> Forced:
        """Make ``kind`` hit the next ``times`` rolls (None: every roll) of ``platform``
        whose key starts with ``key``; the returned rule counts its ``hits``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        rule = Forced(platform, kind, tuple(map(str, key)), times)
        self._forced.append(rule)
        return rule

    def rate(self, platform: str, kind: str) -> float:
        return getattr(self.per_platform.get(platform, self.rates), kind)

    def roll(self, platform: str, kind: str, *key: object) -> bool:
        """True if the fault ``kind`` hits this occurrence of the request ``key``."""
        parts = tuple(map(str, key))
        for rule in self._forced:
            if rule.take(platform, kind, parts):
                return True
        p = self.rate(platform, kind)
        if p <= 0.0:
            return False
        identity = (platform, kind, *map(str, key))
        n = self._occurrences[identity]
        self._occurrences[identity] += 1
        return self.uniform(*identity, n) < p

    def uniform(self, *key: object) -> float:
        """A reproducible number in [0, 1) for ``key`` under this seed."""
        digest = hashlib.blake2b(
            repr((self.seed, *key)).encode(), digest_size=8, person=b"tribsbx"
        ).digest()
        return int.from_bytes(digest, "big") / 2**64


@dataclass
class Forced:
    """A fault forced on the rolls whose key starts with ``key`` (``Faults.force``)."""

    platform: str
    kind: str
    key: tuple[str, ...]
    times: int | None
    hits: int = 0

    def take(self, platform: str, kind: str, key: tuple[str, ...]) -> bool:
        """Whether this rule hits the roll (counted if so)."""
        if (platform, kind) != (self.platform, self.kind) or key[: len(self.key)] != self.key:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        self.hits += 1
        return True
