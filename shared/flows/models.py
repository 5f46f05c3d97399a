"""Messages between the flows' orchestrators and activities: plain JSON, no secrets.

Each activity takes one input model (``model_dump(mode="json")`` on the way in,
``model_validate`` inside) so fields can be added later. Windows are half-open
``[start, end)`` in UTC.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.platforms.base import Outcome, PageRequest, Window

Tier = Literal["demo", "daily", "backfill"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ConnectionRef(_Model):
    """Which account of a client to load; the credentials stay in the ledger."""

    platform: str
    account: str
    history_start: AwareDatetime | None = None


class SyncRequest(_Model):
    """Input of ``sync_client``: one run (onboarding, daily sync or demo) of a client.

    ``run_id`` names the run (it is part of every child instance id). ``resources``
    narrows the resources loaded (None: every resource of each platform)."""

    client: str
    tier: Tier
    run_id: str
    connections: list[ConnectionRef]
    resources: list[str] | None = None
    now: AwareDatetime | None = None  # the run's planning instant (default: its start)


class ResourceRun(_Model):
    """Input of ``sync_resource``: load one resource of one account."""

    client: str
    platform: str
    account: str
    resource: str
    tier: Tier
    run_id: str
    now: AwareDatetime
    history_start: AwareDatetime | None = None


class BlockSpec(_Model):
    """One block to load: its ledger identity, its window and how to load it.

    ``advances_watermark``: once verified, the resource's watermark moves to
    ``window.end`` (the newest block of a backfill, every daily block).

    ``heals``: the block whose failed link check asked for this one (a new generation
    of a done block on the other end of the link, ``shared.flows.generations.reopen``)
    to be loaded again; None for the blocks of a plan. A re-load makes one attempt per
    ask and is neither retried nor parked on its own: the asking block retries (asking
    again) and is parked, with its one alert, if the link never heals."""

    client: str
    platform: str
    account: str
    resource: str
    block_id: str
    window: Window
    tier: Tier = "backfill"
    phase: str = ""
    bulk: bool = False
    advances_watermark: bool = False
    heals: str | None = None


class BlockProgress(BaseModel):
    """Where a block's current attempt is; carried across ``continue_as_new``. Mutable:
    the block orchestrator updates it in place within one execution."""

    model_config = ConfigDict(extra="ignore")

    attempt: int = 0  # 0: not started
    failures: int = 0  # failed attempts in this run
    pages: int = 0  # pages stored by this attempt (the next page's number)
    records: int = 0
    chain: list[PageRequest] = Field(default_factory=list)  # a stack: the last runs next
    requests: int = 0  # counters of this execution (written to the progress table)
    throttled: int = 0
    retries: int = 0
    transient_in_a_row: int = 0
    throttled_in_a_row: int = 0
    failed_runs_in_a_row: int = 0  # the fetch activity raised (storage down, a bug)
    pacing: str = "ambassador"  # from Begun: "reactive" is the benchmark's no-pacing loop
    execution: int = 0  # continue_as_new generation, for idempotent progress rows
    pace: dict[str, float] = Field(default_factory=dict)  # route -> response time (s)
    last_error: str | None = None


class BlockRun(_Model):
    """Input of ``load_block``."""

    spec: BlockSpec
    progress: BlockProgress = Field(default_factory=BlockProgress)


class FetchRun(_Model):
    """Input of ``fetch_pages``: run a block's chain on a batch of permits.

    ``chain`` is the block's request stack (the last runs next); ``permits`` the granted
    times for ``(route, cost)``, each usable in ``[time, time + lease_s)``; ``page`` is
    the number the next data page gets in Blob storage. The activity stops at the first
    request it may not make with these permits (another route, a ``not_before_s``, a
    permit further off than ``max_wait_s``), at the first outcome that is not ok, or
    when the chain ends."""

    spec: BlockSpec
    attempt: int
    page: int
    chain: list[PageRequest]
    route: str
    cost: int = 1
    permits: list[AwareDatetime]
    lease_s: float = 0.0
    max_wait_s: float = 0.0
    observe: bool = True  # collect the limit feedback of each response


class Observation(_Model):
    """One response's limit feedback: the ``ObserveRequest`` fields
    (``shared.ambassador.headers.feedback``) with the request's send and answer times."""

    route: str
    request_at: AwareDatetime
    at: AwareDatetime
    charged: int
    feedback: dict[str, Any] = Field(default_factory=dict)


class FetchSummary(_Model):
    """What one request did, without the payload (that went to Blob and Table)."""

    outcome: Outcome
    status: int
    reason: str = ""
    retry_after_s: float | None = None
    stored_page: int | None = None
    records: int = 0
    reported_count: int | None = None
    next: PageRequest | None = None
    dependent: PageRequest | None = None  # a driver page's chain (see activities.fetch_pages)
    feedback: dict[str, Any] = Field(default_factory=dict)
    actual_cost: int | None = None
    withheld: bool = False  # auth refused, token refreshed, no permit left to resend it


class FetchRunResult(_Model):
    """What ``fetch_pages`` did: the chain left, pages and records stored, permits
    used (``used``: how many of the batch's times were spent or expired, in order),
    requests made, and ``stopped``: the last request's summary when it was not ok
    (None: the run stopped for lack of permits, a route change or the chain's end)."""

    chain: list[PageRequest]
    pages: int = 0
    records: int = 0
    used: int = 0
    requests: int = 0
    observations: list[Observation] = Field(default_factory=list)
    stopped: FetchSummary | None = None
    expired: list[AwareDatetime] = Field(default_factory=list)
    """The permits among ``used`` whose lease ran out before they could be sent."""


class VerifyInput(_Model):
    """Input of ``verify_block``: check the attempt's stored pages, record the verdict.

    ``heal``: the block is retried if this attempt fails, so a failed link may plan the
    re-load of its other end (``Verdict.reload``), loaded before that retry."""

    spec: BlockSpec
    attempt: int
    pages: int
    now: AwareDatetime
    heal: bool = False


class Verdict(_Model):
    """``reload``: when a link check failed, the blocks on its other end to load again
    before the retry (new generations, planned in the ledger; see ``BlockSpec.heals``)."""

    ok: bool
    problems: list[str] = Field(default_factory=list)
    records: int = 0
    pages: int = 0
    reload: list[BlockSpec] = Field(default_factory=list)


class BeginInput(_Model):
    spec: BlockSpec
    now: AwareDatetime


class Begun(_Model):
    """``attempt`` started with ``request`` first (attempt 0 with ``state`` when the block
    needs no loading; ``error`` when its chain cannot even start)."""

    attempt: int
    state: str
    request: PageRequest | None = None
    error: str | None = None
    pacing: str = "ambassador"  # Settings.pacing, read by the activity


class ParkInput(_Model):
    spec: BlockSpec
    attempt: int
    error: str
    now: AwareDatetime


class ProgressInput(_Model):
    """Counters of one execution of a block orchestration (idempotent per key)."""

    spec: BlockSpec
    attempt: int
    execution: int
    requests: int
    throttled: int
    retries: int
    now: AwareDatetime


class PlanInput(_Model):
    """Input of ``plan_resource``. ``stage``: ``full`` plans at once (default density);
    ``recent`` hands out only the recent-day block of a backfill not planned yet (its
    density is measured on it); ``rest`` plans the backfill with the density the recent
    day showed, leaving out ``loaded`` (block ids this run loaded already)."""

    run: ResourceRun
    stage: Literal["full", "recent", "rest"] = "full"
    loaded: list[str] = Field(default_factory=list)


class PreviewInput(_Model):
    client: str
    connections: list[ConnectionRef]
    limit: int = 20
