"""Amazon's wire formats: timestamps, money, marketplaces.

Contracts:
- Internal times are whole epoch seconds (UTC). The API prints them as ISO 8601 UTC with
  a ``Z`` (``2026-10-31T12:34:56Z``) in every JSON payload, whatever the marketplace.
- Flat-file reports print times in the marketplace's local offset (``+00:00`` for the US,
  ``+09:00`` for Japan): a sandbox convention that makes connectors convert to UTC.
- Orders money is ``{"CurrencyCode", "Amount": "<string>"}``; Finances money is
  ``{"CurrencyCode", "CurrencyAmount": <number>}``. JPY has no minor unit (zero decimals).
- Amounts are ``Decimal`` internally; they become JSON numbers only at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class Marketplace:
    marketplace_id: str
    country: str
    currency: str
    sales_channel: str
    utc_offset_hours: int  # what flat-file reports print

    @property
    def exponent(self) -> Decimal:
        return Decimal(1) if self.currency == "JPY" else Decimal("0.01")


US = Marketplace("ATVPDKIKX0DER", "US", "USD", "Amazon.com", 0)
JP = Marketplace("A1VC38T7YXB528", "JP", "JPY", "Amazon.co.jp", 9)
MARKETPLACES = {m.marketplace_id: m for m in (US, JP)}
CURRENCY_EXPONENT = {"USD": Decimal("0.01"), "JPY": Decimal(1)}


class BadDate(ValueError):
    """A date parameter that is not ISO 8601."""


def iso(epoch_s: float) -> str:
    """``2026-10-31T12:34:56Z`` (UTC, whole seconds)."""
    return datetime.fromtimestamp(int(epoch_s), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_local(epoch_s: float, offset_hours: int) -> str:
    """``2026-10-31T21:34:56+09:00``: the same instant in a fixed local offset."""
    tz = timezone(timedelta(hours=offset_hours))
    return datetime.fromtimestamp(int(epoch_s), tz).isoformat()


def parse_iso(text: str) -> float:
    """Epoch seconds from an ISO 8601 date or date-time; no offset means UTC.

    Raises ``BadDate`` for anything else (Amazon answers 400 InvalidInput)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadDate(text) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def quantize(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(CURRENCY_EXPONENT[currency], rounding=ROUND_HALF_UP)


def money(amount: Decimal, currency: str) -> dict[str, str]:
    """Orders API Money: the amount is a string (``"11.01"``; ``"1500"`` for JPY)."""
    return {"CurrencyCode": currency, "Amount": str(quantize(amount, currency))}


def currency_amount(amount: Decimal, currency: str, *, exact: bool = False) -> dict[str, object]:
    """Finances API Currency: the amount is a JSON number (``exact``: already quantized)."""
    value = amount if exact else quantize(amount, currency)
    number: float | int = int(value) if currency == "JPY" else float(value)
    return {"CurrencyCode": currency, "CurrencyAmount": number}
