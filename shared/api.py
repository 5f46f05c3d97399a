"""Request and response models of the HTTP triggers, and their 4xx messages.

- ``ConnectRequest`` — body of ``POST /api/clients/{client_id}/connect``.
- ``DemoRequest`` — body of ``POST /api/demo``.
- ``StatusReport`` — answer of ``GET /api/clients/{client_id}/status``; ``eta`` is the
  pure estimate it carries.
- ``validation_message`` / ``validation_problems`` — a ``pydantic.ValidationError`` as
  a clear message for a 400 body. They never echo a credential value: a problem under
  ``credentials`` names the key, not what was sent.

Parse bodies with ``Model.model_validate_json(body)``: bad JSON then becomes a
ValidationError too, with the same message path. ``history_start`` is checked against
today (UTC); pass ``context={"today": date}`` to validate against another day (the
virtual clock).

Credentials: each platform's connection needs the seller-specific keys in
``REQUIRED_CREDENTIALS`` (the shape ``python -m sandbox credentials`` prints). App-level
keys (``client_id`` / ``client_secret``, Etsy ``keystring`` / ``shared_secret``) may be
given, or come from the platform's settings. Other keys are passed on to the connector
(``scope``, ``expires_at`` …). Shopify needs ``shop`` and one of ``access_token`` /
``refresh_token``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

Platform = Literal["amazon", "shopify", "ebay", "etsy", "quiltt"]

REQUIRED_CREDENTIALS: dict[str, tuple[str, ...]] = {
    "amazon": ("refresh_token", "selling_partner_id", "marketplace_ids"),
    "shopify": ("shop",),
    "ebay": ("refresh_token",),
    "etsy": ("refresh_token", "shop_id"),
    "quiltt": ("api_secret_key", "profile_id"),
}
"""Platform -> credential keys a connection must carry."""
ONE_OF_CREDENTIALS: dict[str, tuple[str, ...]] = {"shopify": ("access_token", "refresh_token")}
"""Platform -> keys of which a connection must carry at least one."""

MAX_NAME = 128
MAX_CREDENTIAL_KEYS = 20
MAX_CREDENTIAL_VALUE = 4096
MIN_HISTORY_START = date(2000, 1, 1)
_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def _name(value: str) -> str:
    """Trimmed, non-empty, at most MAX_NAME characters, no control characters."""
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if len(value) > MAX_NAME:
        raise ValueError(f"must be at most {MAX_NAME} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise ValueError("must not contain control characters")
    return value


Name = Annotated[str, AfterValidator(_name)]


def validate_client_id(value: str) -> str:
    """A client id from a URL path, checked as ``Name``; raises ValueError."""
    return _name(value)


def _credentials(value: dict[str, str]) -> dict[str, str]:
    if len(value) > MAX_CREDENTIAL_KEYS:
        raise ValueError(f"must have at most {MAX_CREDENTIAL_KEYS} keys")
    bad_keys = sorted(k for k in value if not _KEY_PATTERN.match(k))
    if bad_keys:
        shown = ", ".join(repr(k[:40]) for k in bad_keys)
        raise ValueError(f"keys must be lower-case names like 'refresh_token', not {shown}")
    empty = sorted(k for k, v in value.items() if not v.strip())
    if empty:
        raise ValueError(f"values must not be empty: {', '.join(empty)}")
    long = sorted(k for k, v in value.items() if len(v) > MAX_CREDENTIAL_VALUE)
    if long:
        raise ValueError(f"values must be at most {MAX_CREDENTIAL_VALUE} characters: {long}")
    control = sorted(k for k, v in value.items() if any(ord(c) < 32 or ord(c) == 127 for c in v))
    if control:
        raise ValueError(f"values must not contain control characters: {', '.join(control)}")
    return value


Credentials = Annotated[dict[str, str], AfterValidator(_credentials)]


def missing_credentials(platform: str, credentials: dict[str, str]) -> list[str]:
    """What ``credentials`` lacks for ``platform``: key names, or ``a|b`` for a
    one-of group of which none is present. Empty when complete."""
    missing = [k for k in REQUIRED_CREDENTIALS.get(platform, ()) if k not in credentials]
    group = ONE_OF_CREDENTIALS.get(platform)
    if group and not any(k in credentials for k in group):
        missing.append("|".join(group))
    return missing


class ConnectRequest(BaseModel):
    """Connect one account of a client on one platform. ``history_start`` (a UTC date,
    not in the future) bounds the backfill; None loads everything the platform has."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Platform
    account: Name
    credentials: Credentials = Field(repr=False)
    history_start: date | None = None

    @field_validator("history_start")
    @classmethod
    def _not_in_the_future(cls, value: date | None, info: ValidationInfo) -> date | None:
        if value is None:
            return None
        context = info.context or {}
        today = context.get("today") or datetime.now(UTC).date()
        if value > today:
            raise ValueError(f"must not be in the future (today is {today.isoformat()})")
        if value < MIN_HISTORY_START:
            raise ValueError(f"must be on or after {MIN_HISTORY_START.isoformat()}")
        return value

    @field_validator("credentials")
    @classmethod
    def _complete(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        platform = info.data.get("platform")
        missing = missing_credentials(platform, value) if platform else []
        if missing:
            raise ValueError(f"{platform} credentials lack {', '.join(missing)}")
        return value


class DemoConnection(BaseModel):
    """One marketplace of a demo: the account and its credentials."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account: Name
    credentials: Credentials = Field(repr=False)


class DemoRequest(BaseModel):
    """A demo run for a prospect on one or more platforms."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prospect: Name
    platforms: dict[Platform, DemoConnection] = Field(min_length=1)

    @field_validator("platforms")
    @classmethod
    def _complete(cls, value: dict[str, DemoConnection]) -> dict[str, DemoConnection]:
        problems = [
            f"{p} credentials lack {', '.join(missing)}"
            for p, c in value.items()
            if (missing := missing_credentials(p, c.credentials))
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return value


# --- status --------------------------------------------------------------------------


def eta(done: float, total: float, elapsed_s: float) -> float | None:
    """Seconds until ``total`` units of work are done, at the pace of the ``done`` units
    that took ``elapsed_s``: ``(total - done) * elapsed_s / done``. 0 when nothing is
    left; None when nothing is done yet (no pace to go by). Units are whatever the
    caller counts (blocks, requests); parked blocks should not be counted in ``total``.
    Raises ValueError for negative or non-finite input."""
    for name, value in (("done", done), ("total", total), ("elapsed_s", elapsed_s)):
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if done >= total:
        return 0.0
    if done == 0:
        return None
    return (total - done) * elapsed_s / done


class ResourceStatus(BaseModel):
    """Progress of one resource of one platform (all accounts of the client on it).
    ``phase`` is the phase of the newest block not yet done (None when all are)."""

    model_config = ConfigDict(frozen=True)

    blocks_done: int = Field(default=0, ge=0)
    blocks_total: int = Field(default=0, ge=0)
    blocks_parked: int = Field(default=0, ge=0)
    records_stored: int = Field(default=0, ge=0)
    requests: int = Field(default=0, ge=0)
    http_429: int = Field(default=0, ge=0)
    retries: int = Field(default=0, ge=0)
    phase: str | None = None
    eta_s: float | None = Field(default=None, ge=0)

    @property
    def complete(self) -> bool:
        """Every block is done (parked ones are not)."""
        return self.blocks_done == self.blocks_total

    @property
    def settled(self) -> bool:
        """No block is left to try: each is done or parked."""
        return self.blocks_done + self.blocks_parked >= self.blocks_total


class StatusReport(BaseModel):
    """``GET /api/clients/{client_id}/status``: platform -> resource -> progress."""

    model_config = ConfigDict(frozen=True)

    client: str
    as_of: datetime
    platforms: dict[str, dict[str, ResourceStatus]] = Field(default_factory=dict)

    def totals(self) -> ResourceStatus:
        """Every platform and resource added up (phase None; eta the longest)."""
        rows = [r for resources in self.platforms.values() for r in resources.values()]
        counts = ResourceStatus.model_fields.keys() - {"phase", "eta_s"}
        etas = [r.eta_s for r in rows if r.eta_s is not None]
        return ResourceStatus(
            **{name: sum(getattr(r, name) for r in rows) for name in counts},
            eta_s=max(etas) if etas else None,
        )


# --- 4xx messages --------------------------------------------------------------------

_ECHO_TYPES = (str, int, float, date)
_ECHO_FIELDS = frozenset({"platform", "account", "history_start", "prospect", "[key]"})
"""Fields whose bad value is shown back; any other (credentials above all) never is."""


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


_PLAIN = {"missing": "is required", "extra_forbidden": "is not a known field"}


def _problem(error: Any) -> dict[str, str]:
    loc = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    message = _PLAIN.get(kind) or error.get("msg", "is invalid").removeprefix("Value error, ")
    text = {"field": _where(loc), "problem": message}
    value = error.get("input")
    shown = kind not in _PLAIN and bool(loc) and loc[-1] in _ECHO_FIELDS
    shown = shown and "credentials" not in loc
    if shown and isinstance(value, _ECHO_TYPES) and len(str(value)) <= 60:
        text["problem"] += f" (got {value!r})"
    return text


def validation_problems(exc: ValidationError) -> list[dict[str, str]]:
    """One ``{"field": "a.b", "problem": "..."}`` per error; no credential value."""
    return [_problem(e) for e in exc.errors(include_url=False, include_context=False)]


def validation_message(exc: ValidationError) -> str:
    """Every problem of ``exc`` in one line, e.g. ``platform: Input should be 'amazon',
    … (got 'amazn'); credentials: amazon credentials lack refresh_token``."""
    return "; ".join(f"{p['field']}: {p['problem']}" for p in validation_problems(exc))
