"""What the sandbox served: calls per endpoint, 429s, faults injected (for tests and bench)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Accounting:
    calls: Counter = field(default_factory=Counter)  # (platform, endpoint) -> n
    throttled: Counter = field(default_factory=Counter)  # (platform, endpoint) -> 429s served
    faults: Counter = field(default_factory=Counter)  # (platform, fault kind) -> n

    def call(self, platform: str, endpoint: str) -> None:
        self.calls[(platform, endpoint)] += 1

    def throttle(self, platform: str, endpoint: str) -> None:
        self.throttled[(platform, endpoint)] += 1

    def fault(self, platform: str, kind: str) -> None:
        self.faults[(platform, kind)] += 1

    def summary(self, platform: str | None = None) -> dict[str, int]:
        def total(counter: Counter) -> int:
            return sum(n for (p, _), n in counter.items() if platform in (None, p))

        return {
            "calls": total(self.calls),
            "http_429": total(self.throttled),
            "faults_injected": total(self.faults),
        }
