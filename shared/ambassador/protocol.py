"""The ambassador entity's operations: inputs and outputs as pydantic models.

Everything crosses the durable boundary as plain JSON: callers send
``Model(...).model_dump(mode="json")`` and read answers with ``Answer.model_validate``.
Times are ISO 8601 UTC strings on the wire and aware datetimes in Python; ``now`` is
always the *caller's* orchestration time (``context.current_utc_datetime``), never the
entity's clock.

Operations (entity ``ambassador``; key conventions below):

``acquire``  ``AcquireRequest`` -> ``AcquireAnswer``: register demand and ask for up to
             ``want`` permits on a route; idempotent per ``(caller, request_id)``.
``observe``  ``ObserveRequest`` -> ``ObserveAnswer``: feed back what a response said
             (remaining quota, a 429 and its wait, the actual GraphQL cost).
``release``  ``ReleaseRequest`` -> ``ReleaseAnswer``: give back unused permits of the
             caller's latest grant.
``complete`` ``CompleteRequest`` -> ``CompleteAnswer``: the caller's demand is finished.
``snapshot`` ``SnapshotRequest`` -> ``Snapshot``: waiting demand and quota use.

Entity keys: ``<platform>|<account>`` where the platform's limits are per account, the
bare platform where they are per application:

* ``amazon|<selling partner id>`` — token buckets per operation, per seller + app;
* ``shopify|<shop>`` — the shop's REST bucket and GraphQL cost bucket (``<shop>`` is the
  ``*.myshopify.com`` subdomain);
* ``quiltt|<profile id>`` — requests per second per Session token (one per profile);
* ``ebay`` and ``etsy`` — application-wide quotas shared by every client we serve.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Tier = Literal["demo", "daily", "backfill"]
TIERS: tuple[str, ...] = ("demo", "daily", "backfill")  # strict priority, first is highest

# Within a tier and client, resources are served in this order (lower first); resources
# that share a rank share capacity by weight (orders : order items = 1 : 3).
RESOURCE_RANK: dict[str, int] = {
    "orders": 0,
    "order_items": 0,
    "transactions": 1,
    "remains": 2,
    "returns": 3,
    "payouts": 4,
}
OTHER_RANK = 5
RESOURCE_WEIGHT: dict[str, int] = {"order_items": 3}

PER_ACCOUNT = ("amazon", "shopify", "quiltt")
PER_APPLICATION = ("ebay", "etsy")


def entity_key(platform: str, account: str | None = None) -> str:
    """The ambassador entity key for a platform (and account where limits are per account).

    Raises ValueError for an unknown platform, a missing or superfluous account, or an
    account containing ``|``."""
    if platform in PER_APPLICATION:
        if account:
            raise ValueError(f"{platform} limits are per application: no account in the key")
        return platform
    if platform not in PER_ACCOUNT:
        raise ValueError(f"unknown platform {platform!r}")
    if not account or "|" in account:
        raise ValueError(f"{platform} needs an account without '|' in its ambassador key")
    return f"{platform}|{account}"


def split_entity_key(key: str) -> tuple[str, str | None]:
    """``"amazon|A1B2"`` -> ``("amazon", "A1B2")``; ``"ebay"`` -> ``("ebay", None)``."""
    platform, _, account = key.partition("|")
    return platform.lower(), account or None


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AcquireRequest(_Message):
    """Ask for up to ``want`` permits of ``cost`` units each on ``route``.

    ``backlog`` is the number of requests the caller still expects to make on this route
    (including these); it registers the caller's demand and defaults to ``want``.
    ``request_id`` must be unique per acquire of a caller (``context.new_uuid()``); a
    repeated id gets the first answer again and grants nothing new."""

    caller: str = Field(min_length=1, description="orchestration instance id")
    request_id: str = Field(min_length=1)
    route: str = Field(description="Amazon operation, 'rest'/'graphql', eBay API, 'api'")
    client: str = Field(min_length=1, description="the seller company the work is for")
    tier: Tier
    resource: str = "other"
    want: int = Field(ge=1)
    cost: int = Field(default=1, ge=1, description="units per permit (GraphQL points)")
    backlog: int | None = Field(default=None, ge=0)
    now: AwareDatetime


RefusalCode = Literal["demo_cap", "unknown_route", "cost_too_high"]
WaitReason = Literal["priority", "share", "capacity"]


class AcquireAnswer(_Message):
    """``granted`` permits; permit ``i`` may be used in ``[times[i], times[i] + lease_s)``
    (times are non-decreasing, whole milliseconds). Use a permit at most once and never
    after its lease: ask again instead.

    Fewer than asked: ``retry_at`` says when asking again can help and ``waiting_for``
    why (``priority``: a higher class waits; ``share``: others hold their share;
    ``capacity``: the quota is used up to the horizon). ``refused`` (with ``reason``) means
    asking again will not help. ``fair_share``: about how many permits this caller's
    share of the lane's horizon is now; asking for fewer caps its rate below its share.
    ``spacing_s``: the closest the lane plans two such permits once its burst is spent
    (0: a window that admits its units at once; absent: an answer from before it was
    sent); a batch's own gaps can be wider where other callers' permits lie between them."""

    request_id: str
    route: str
    lane: str | None = None
    granted: int = 0
    times: list[AwareDatetime] = Field(default_factory=list)
    cost: int = 1
    lease_s: float = 0.0
    retry_at: AwareDatetime | None = None
    waiting_for: WaitReason | None = None
    refused: RefusalCode | None = None
    reason: str | None = None
    fair_share: int | None = None
    spacing_s: float | None = None
    demo_remaining: int | None = None


class Reading(_Message):
    """One limit's figures as a response reported them (all optional).

    ``limit`` names the lane's limit (``qps``/``qpd`` for Etsy; ``None`` = the lane's
    first limit). ``remaining``: units left after the request; ``capacity``: the limit's
    size (bucket, quota); ``rate``: refill per second; ``reset_at``: when a quota resets."""

    limit: str | None = None
    remaining: float | None = Field(default=None, ge=0)
    capacity: float | None = Field(default=None, gt=0)
    rate: float | None = Field(default=None, gt=0)
    reset_at: AwareDatetime | None = None


class ObserveRequest(_Message):
    """What one response on ``route`` said. ``request_at``: when the request was sent
    (defaults to ``now``); ``throttled``: a 429 (or GraphQL THROTTLED), with the
    platform's ``retry_after_s`` if it sent one; ``charged``/``actual``: the cost units
    the permit spent and the cost the platform finally charged."""

    caller: str = Field(min_length=1)
    request_id: str = Field(min_length=1)
    route: str
    now: AwareDatetime
    request_at: AwareDatetime | None = None
    throttled: bool = False
    retry_after_s: float | None = Field(default=None, ge=0)
    readings: list[Reading] = Field(default_factory=list)
    charged: int | None = Field(default=None, ge=0)
    actual: int | None = Field(default=None, ge=0)


class ObserveMany(_Message):
    """Several responses' ``ObserveRequest``s at once, applied in order (a fetch run)."""

    observations: list[ObserveRequest] = Field(default_factory=list)


class ObserveAnswer(_Message):
    applied: bool  # False: this (caller, request_id) was seen before and is ignored
    blocked_until: AwareDatetime | None = None


class ReleaseRequest(_Message):
    """Give back the last ``unused`` permits of grant ``grant_id`` (the caller's latest
    acquire). Only permits whose time is still ahead are returned. ``expired``: times of
    the grant's permits whose lease ran out before they could be sent (never sent): a
    window limit (a daily quota) stops counting them; a bucket has forgotten them."""

    caller: str = Field(min_length=1)
    request_id: str = Field(min_length=1)
    route: str
    grant_id: str
    unused: int = Field(ge=0)
    now: AwareDatetime
    expired: list[AwareDatetime] = Field(default_factory=list, max_length=1000)


class ReleaseAnswer(_Message):
    returned: int


class CompleteRequest(_Message):
    """The caller has no more demand on ``route`` (every route when ``None``)."""

    caller: str = Field(min_length=1)
    route: str | None = None
    now: AwareDatetime


class CompleteAnswer(_Message):
    completed: int  # registrations closed


class SnapshotRequest(_Message):
    now: AwareDatetime | None = None


class Waiting(_Message):
    caller: str
    client: str
    tier: str
    resource: str
    unmet: int
    retry_at: AwareDatetime | None


class LaneSnapshot(_Message):
    limits: dict[str, dict[str, Any]]
    lease_s: float
    horizon_s: float
    blocked_until: AwareDatetime | None = None
    active: int
    waiting: list[Waiting]
    granted: int
    waits: int
    throttled: int


class Snapshot(_Message):
    """For monitoring: per lane the limits' use, registered demand and what waits."""

    platform: str
    now: AwareDatetime | None
    lanes: dict[str, LaneSnapshot]
    demo_used: dict[str, int]
    registrations: int
