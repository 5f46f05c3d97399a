"""eBay wire formats: timestamps, amounts and identifiers.

Timestamps are UTC, ``YYYY-MM-DDTHH:MM:SS.sssZ`` (eBay always prints milliseconds); the
sandbox keeps whole epoch seconds internally, so the milliseconds are always ``.000``.
Amounts are ``{"value": "12.34", "currency": "USD"}`` with the value a decimal string.
"""

from __future__ import annotations

import hashlib
import random
import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

CURRENCY = "USD"
MARKETPLACE = "EBAY_US"
CENT = Decimal("0.01")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?Z$")


class BadDate(ValueError):
    """A timestamp that is not ``YYYY-MM-DDTHH:MM:SS[.sss]Z``."""


@lru_cache(maxsize=1 << 16)  # pure; the same instants are printed again and again
def iso(epoch_s: float) -> str:
    """Epoch seconds (UTC) -> ``2026-01-01T07:00:00.000Z``."""
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> float:
    """``YYYY-MM-DDTHH:MM:SS[.fraction]Z`` (UTC) -> epoch seconds; ``BadDate`` otherwise."""
    match = _ISO.match(text.strip())
    if not match:
        raise BadDate(text)
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC
        )
    except ValueError as exc:
        raise BadDate(text) from exc
    return moment.timestamp() + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def amount(value: Decimal) -> dict[str, Any]:
    return {"value": _cents_text(value), "currency": CURRENCY}


@lru_cache(maxsize=65_536, typed=True)  # pure; equal values print alike (1.0 and 1.00 both "1.00")
def _cents_text(value: Decimal) -> str:
    return f"{cents(value):.2f}"


def digits(rng: random.Random, n: int) -> str:
    return f"{rng.randrange(10**n):0{n}d}" if n else ""


def digest(*parts: object, size: int = 16) -> str:
    """A stable hex digest of ``parts`` (fake secrets, tokens)."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=size, person=b"tribebay").hexdigest()


class Ids:
    """Unique identifiers in eBay's shapes, drawn from one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def _fresh(self, make: Any) -> str:
        while True:
            value = make()
            if value not in self.used:
                self.used.add(value)
                return value

    def order(self) -> str:  # 12-34567-89012
        r = self.rng
        return self._fresh(lambda: f"{digits(r, 2)}-{digits(r, 5)}-{digits(r, 5)}")

    def numeric(self, prefix: str, n: int) -> str:
        return self._fresh(lambda: prefix + digits(self.rng, n))
