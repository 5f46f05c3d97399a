"""The contract every platform connector meets, so that one block loop drives all five.

A connector never sleeps and never loops over pages by itself. The block orchestrator
drives it one request at a time, because every request needs an ambassador permit::

    request = connector.first_request(resource, window)      # pure, no I/O
    while request is not None:
        ... ask the ambassador for request.cost permits on request.route ...
        result = await connector.fetch(request)              # exactly one API call
        ... classify-driven decision: store result.payload, wait result.retry_after_s ...
        request = result.next

- ``PageRequest`` is plain JSON (``model_dump(mode="json")``) and holds **no secrets**: it
  crosses durable boundaries and lands in histories. Credentials are given to the
  connector's constructor inside an activity only.
- ``route`` names the limit bucket the request draws on, as the ambassador's policy for
  the platform names it (Amazon operation names such as ``getOrders``; ``rest`` /
  ``graphql`` for Shopify; the eBay API family; ``api`` for Etsy and Quiltt).
- ``cost`` is the number of permits the request needs (1, or Shopify's estimated GraphQL
  cost); ``FetchResult.actual_cost`` corrects it where the platform reports one.
- Bulk paths (Amazon reports, Shopify Bulk Operations) are chains of requests too:
  create → poll (``not_before_s`` tells when polling makes sense again) → download.
  The job id travels in ``PageRequest.state`` so a retried block resumes the same job.
- A token refresh is part of ``fetch`` (refresh once on an auth-expired answer, retry
  once); it is not a separate step for the caller. The retry is a request on the same
  limit bucket as the first, so it needs a permit too: a connector asks ``may_resend()``
  before it, and the caller's gate (``resend_gate``: the fetch activity's takes its
  batch's next permit, waiting for its time) may say no. The fetch then ends with the
  refused answer and ``resend_withheld``: the token is fresh, the request was not sent
  again, and the caller sends it with its next permit.

Time windows are half-open ``[start, end)`` in UTC. ``payload`` is the page exactly as the
platform returned it (parsed JSON, or text for report / bulk files): what goes to Blob
storage and what ``shared.normalize.normalize`` takes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Outcome(StrEnum):
    """What the caller must do with a response (see ``shared.errors`` for the same tree)."""

    OK = "ok"
    THROTTLED = "throttled"  # wait retry_after_s (or the policy's wait), then the same request
    TRANSIENT = "transient"  # retry the same request after a backoff
    PERMANENT = "permanent"  # do not retry; park the block with the reason
    AUTH_EXPIRED = "auth_expired"  # refresh credentials once, then retry (fetch does this)


class Window(BaseModel):
    """A half-open time window ``[start, end)``, UTC."""

    model_config = ConfigDict(frozen=True)

    start: AwareDatetime
    end: AwareDatetime


class PageRequest(BaseModel):
    """One API call to make. Plain JSON, no secrets."""

    model_config = ConfigDict(frozen=True)

    platform: str
    resource: str
    route: str
    method: str = "GET"
    path: str
    params: dict[str, Any] = Field(default_factory=dict)
    body: Any = None
    cost: int = 1
    window: Window | None = None
    step: str = "page"  # page | bulk_create | bulk_poll | bulk_download | token
    state: dict[str, Any] = Field(default_factory=dict)  # cursor, job id, page number …
    not_before_s: float = 0.0  # seconds to wait before this request is worth making
    page_number: int = 0  # 0-based position in the block's page chain
    calls_ahead: int | None = None
    """At least this many requests on ``route``, this one included, come next in the
    chain before it ends or changes route (a report step: 1; an Amazon group list: the
    groups left); None: not known. The block loop asks for no more permits at once."""


class Classified(BaseModel):
    """A response mapped to an outcome through a platform's classification table."""

    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    status: int
    reason: str = ""
    retry_after_s: float | None = None
    limit_headers: dict[str, str] = Field(default_factory=dict)


class FetchResult(BaseModel):
    """What one ``fetch`` produced."""

    request: PageRequest
    classified: Classified
    payload: Any = None  # the page as the platform returned it (only when outcome is ok)
    next: PageRequest | None = None  # None: the chain is complete (only when outcome is ok)
    reported_count: int | None = None  # records the API says this page / window holds
    actual_cost: int | None = None
    refreshed_token: bool = False
    resend_withheld: bool = False  # the token was refreshed; the request not sent again
    sent_at: datetime | None = None
    """When the call went out, at the latest (where the connector records it): with the
    time the result is read, the span in which the platform answered."""


ResendGate = Callable[[], Awaitable[bool]]
_RESEND_GATE: ContextVar[ResendGate | None] = ContextVar("resend_gate", default=None)


class ResendWithheld(Exception):
    """Raised inside a connector when ``may_resend()`` said no; carries the refused
    answer's classification."""

    def __init__(self, classified: Classified) -> None:
        super().__init__(classified.reason)
        self.classified = classified


async def may_resend() -> bool:
    """Whether a connector may send its request again within one fetch (after
    refreshing a refused token): yes, unless the running task's gate says no."""
    gate = _RESEND_GATE.get()
    return True if gate is None else await gate()


@contextlib.contextmanager
def resend_gate(gate: ResendGate) -> Iterator[None]:
    """Within this block (this task and tasks it starts), ``may_resend()`` asks ``gate``."""
    token = _RESEND_GATE.set(gate)
    try:
        yield
    finally:
        _RESEND_GATE.reset(token)


def withheld(request: PageRequest, classified: Classified) -> FetchResult:
    """The result of a fetch whose resend was withheld: the refused answer, the token
    refreshed."""
    reason = f"{classified.reason} (token refreshed; sent again with the next permit)"
    return FetchResult(
        request=request,
        classified=classified.model_copy(update={"reason": reason.strip()}),
        refreshed_token=True,
        resend_withheld=True,
    )


class Connector(Protocol):
    platform: str

    def first_request(
        self, resource: str, window: Window | None, *, bulk: bool = False
    ) -> PageRequest:
        """The first request of a window's chain; pure. Raises ConfigurationError for a
        resource the platform does not have or a bulk path it does not offer."""
        ...

    async def fetch(self, request: PageRequest) -> FetchResult:
        """Make exactly the one call (plus at most one token refresh and retry)."""
        ...

    async def ready(self) -> None:
        """Get what the next call needs before its permit's time comes (an access token
        about to be asked for), so ``fetch`` sends at that time, not a token call later:
        a permit is good for its lease (Etsy: 0.25 s) and a call that goes out after it
        may be counted in the platform's next second. Never raises: what fails here
        ``fetch`` meets again and reports."""
        ...

    async def aclose(self) -> None: ...


async def ready_quietly(get: Callable[[], Awaitable[Any]]) -> None:
    """Run ``get`` (a connector's token getter) for ``Connector.ready``; its failure is
    left to the ``fetch`` that follows, which meets it again and classifies it."""
    with contextlib.suppress(Exception):
        await get()


def utc_iso(value: datetime) -> str:
    """``2024-01-02T03:04:05Z``: the form every platform accepts for a UTC instant."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: every time in Tributary is UTC-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
