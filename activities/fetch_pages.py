"""Run a block's request chain on a batch of permits; store what it brings; summarize.

One call makes up to one request per permit of the batch the orchestrator took from
the ambassador (``FetchRun``): the chain's top request, at its permit's time, then the
next one the response leads to, and so on. Sub-second pacing between a batch's permits
happens here, bounded by ``max_wait_s`` (the permits were granted for these times, and a
durable timer per request would cost more than the wait on a real host); anything the
platform makes us wait — a 429's Retry-After, a quota used up, a bulk job still running
— goes back to the orchestrator, which waits it out with a durable timer. The run stops
at the first response that is not ok, at a request of another route or cost (it needs
other permits), at a request with ``not_before_s``, at a permit further off than
``max_wait_s``, or at the chain's end.

The payloads never enter orchestration history: a data page (a ``page`` or
``bulk_download`` step of the block's own resource) goes to Blob storage as raw page
``page`` of the block, its write overlapping the next request, and its normalized
records into the run's ``RecordBuffer`` (``shared.storage.record_buffer``), which writes
a partition's records to Table storage once they fill a transaction (100 rows: a
transaction per page and partition carried 64 rows on average) and the rest at the
run's end. Every write is done before the activity returns, and only then does the
run report its pages: a run that dies with records still buffered reports nothing and
is run again from the chain it was given, fetching those pages again. A write that
fails for a moment (a dropped storage connection) is made again in place
(``shared.flows.storage_retry``), so the page is not fetched again. A driver page
(another resource leading to the block's pages, see ``shared.flows.chains``) is not
stored; its dependent chain goes on the stack above the driver's next page (walked
first), or below it for the driver routes a connector names in
``drivers_listed_first``: the driver's pages are then all listed first and the
dependent chains follow one another on their route. Amazon lists its settlement groups
first, so a window's groups' events run on the listFinancialEventsByGroupId lane with
no groups call in between (one ends the run and hands the lane's planned permits back
unused); its orders are not (getOrders allows a page a minute after a burst of 20,
the items of a page take 200 s: listing all pages first would idle the items lane).
What comes back is the chain left, counts, each response's limit feedback, and the
summary of a response that stopped the run. Credentials are resolved here from the ledger.

A run that dies halfway (the worker crashed) is simply run again from the same chain:
pages are stored under the same numbers and records upserted by their natural keys
(some of its records may have been written, none is claimed stored).

Page metadata in Blob (strings): ``step``, ``format`` (json/text/empty), ``cursor``,
``has_next``, ``records``, ``reported`` (the API's count, "" if none), ``status``,
``route``, ``scope``; where the request's state names them, ``listing`` (which repeat
of a listing the page belongs to: ``shared.integrity``, repeated listings) and
``running`` (an open settlement group's running total as its groups page showed it,
JSON: ``shared.integrity.running_totals_off``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from shared.ambassador.headers import feedback
from shared.errors import ConfigurationError, MalformedPayloadError
from shared.flows import clock
from shared.flows.connections import connector_for
from shared.flows.models import (
    BlockSpec,
    FetchRun,
    FetchRunResult,
    FetchSummary,
    Observation,
)
from shared.flows.storage_retry import retried
from shared.normalize import normalize
from shared.platforms.base import Outcome, PageRequest, resend_gate
from shared.settings import get_settings
from shared.storage.raw_pages import RawPageStore
from shared.storage.record_buffer import RecordBuffer
from shared.storage.records import RecordStore

bp = df.Blueprint()
NAME = "fetch_pages"
DATA_STEPS = frozenset({"page", "bulk_download"})


def _feedback(platform: str, result: Any) -> dict[str, Any]:
    c = result.classified
    body = result.payload if isinstance(result.payload, dict) else None
    out = feedback(platform, c.status, c.limit_headers, body)
    if c.outcome is Outcome.THROTTLED:
        out["throttled"] = True
        if out.get("retry_after_s") is None:
            out["retry_after_s"] = c.retry_after_s
    out["readings"] = [r.model_dump(mode="json") for r in out.get("readings", [])]
    return out


@bp.activity_trigger(input_name="payload", activity=NAME)
async def fetch_pages(payload: dict) -> dict:
    run = FetchRun.model_validate(payload)
    spec, settings = run.spec, get_settings()
    chain = list(run.chain)
    out: dict[str, Any] = {"pages": 0, "records": 0, "used": 0, "requests": 0, "expired": []}
    observations: list[Observation] = []
    try:
        connector = await connector_for(settings, spec.client, spec.platform, spec.account)
    except ConfigurationError as exc:
        stopped = FetchSummary(outcome=Outcome.PERMANENT, status=0, reason=str(exc))
        return _result(chain, out, observations, stopped)
    batch = _Batch(run, out)
    stopped: FetchSummary | None = None
    writes: list[asyncio.Future] = []  # raw pages
    buffer = RecordBuffer(RecordStore(settings), spec.client, write=retried)
    resent: list = []  # the permit times a connector's retries after a token refresh took

    async def resend_permit() -> bool:
        resent.append(await batch.take())
        return resent[-1] is not None

    while chain:
        request = chain[-1]
        if (request.route, request.cost) != (run.route, run.cost) or request.not_before_s > 0:
            break
        await connector.ready()  # a token call now, not after the permit's time
        sent_at = await batch.take()
        if sent_at is None:
            break
        last = len(chain) == 1  # the chain ends if this request leads nowhere
        resent.clear()
        with resend_gate(resend_permit):
            summary = await _fetch_one(
                connector, settings, spec, run, request, out, last, (writes, buffer)
            )
        if resent and resent[-1] is not None:
            sent_at = resent[-1]  # the answer is the resent request's
        if run.observe and (summary.status or summary.feedback):
            fields = dict(summary.feedback)
            if summary.actual_cost is not None:
                fields.setdefault("actual", summary.actual_cost)
            observations.append(
                Observation(
                    route=request.route,
                    request_at=sent_at,
                    at=max(sent_at, clock.utcnow()),
                    charged=request.cost,
                    feedback=fields,
                )
            )
        if summary.outcome is not Outcome.OK:
            stopped = summary
            break
        chain.pop()
        listed_first = request.route in getattr(connector, "drivers_listed_first", ())
        if summary.dependent is not None and listed_first:  # below the driver's next page
            chain.append(summary.dependent)
        if summary.next is not None:
            chain.append(summary.next)
        if summary.dependent is not None and not listed_first:
            chain.append(summary.dependent)
        if summary.stored_page is not None:
            out["pages"] += 1
            out["records"] += summary.records
    await _flush(writes, buffer)  # before anything is reported stored
    return _result(chain, out, observations, stopped)


class _Batch:
    """The run's permit times, spent in order (``take``)."""

    def __init__(self, run: FetchRun, out: dict[str, Any]) -> None:
        self.times, self.next = list(run.permits), 0
        self.lease, self.max_wait_s = timedelta(seconds=run.lease_s), run.max_wait_s
        self.out = out

    async def take(self) -> Any:
        """The time the next request goes out at, after waiting for its permit; None
        when no permit is left within ``max_wait_s``. Permits past their lease are
        forfeited on the way: expired unsent, a bucket forgets them with the lease, a
        daily quota is told (``Permits.forfeit``)."""
        while self.next < len(self.times):
            at, now = self.times[self.next], clock.utcnow()
            if at + self.lease <= now and at < now:
                self.next += 1
                self.out["used"] += 1
                self.out["expired"].append(at)
                continue
            wait = (at - now).total_seconds()
            if wait > self.max_wait_s:
                return None
            self.next += 1
            if wait > 0:
                await clock.sleep(wait)
            self.out["used"] += 1
            self.out["requests"] += 1
            return max(at, clock.utcnow())
        return None


async def _flush(writes: list[asyncio.Future], buffer: RecordBuffer) -> None:
    """Write the buffered records and wait for them and every raw page write; the first
    failure fails the run (it is run again from the chain it was given: nothing it
    reported is lost)."""
    results = await asyncio.gather(buffer.flush(), *writes, return_exceptions=True)
    for outcome in results:
        if isinstance(outcome, BaseException):
            raise outcome


def _result(chain, out, observations, stopped) -> dict:
    result = FetchRunResult(chain=chain, observations=observations, stopped=stopped, **out)
    return result.model_dump(mode="json", exclude_none=True)


async def _fetch_one(
    connector, settings, spec: BlockSpec, run: FetchRun, request: PageRequest, out, last, sinks
) -> FetchSummary:
    """Make ``request``; start storing its page when it carries the block's data (or
    when the block's chain ends on it without data: an empty window still leaves one
    page, and a chain whose tail holds no data — an Etsy returns listing whose last
    receipts have no refunds — ends on a page saying so, not on a data page that names a
    next one): the raw page's write goes on ``writes`` and overlaps the next request,
    its records go into ``buffer`` (``sinks`` is both)."""
    writes, buffer = sinks
    try:
        result = await connector.fetch(request)
    except MalformedPayloadError as exc:  # the page cannot be trusted: the attempt fails
        return FetchSummary(outcome=Outcome.PERMANENT, status=0, reason=str(exc)[:300])
    except Exception as exc:  # a connector bug or a broken transport: retry like a 5xx
        reason = f"{type(exc).__name__}: {str(exc)[:300]}"
        return FetchSummary(outcome=Outcome.TRANSIENT, status=0, reason=reason)
    c = result.classified
    summary: dict[str, Any] = {
        "outcome": c.outcome,
        "status": c.status,
        "reason": c.reason,
        "retry_after_s": c.retry_after_s,
        "feedback": _feedback(spec.platform, result),
        "actual_cost": result.actual_cost,
        "reported_count": result.reported_count,
        "withheld": result.resend_withheld,
    }
    if c.outcome is not Outcome.OK:
        return FetchSummary(**summary)
    summary["next"] = result.next
    own = request.resource == spec.resource
    if not own:
        dependent = getattr(connector, "dependent_request", None)
        summary["dependent"] = dependent(result) if dependent is not None else None
    data = own and request.step in DATA_STEPS and result.payload is not None
    ends = result.next is None and summary.get("dependent") is None
    if data or (last and ends):
        page = run.page + out["pages"]
        try:
            stored, metadata, records = _prepare(spec, request, result, empty=not data)
        except MalformedPayloadError as exc:
            summary.update(outcome=Outcome.PERMANENT, reason=str(exc), next=None)
            return FetchSummary(**summary)
        writes.append(asyncio.ensure_future(_write(settings, spec, page, stored, metadata)))
        buffer.add(records)
        summary.update(stored_page=page, records=len({r.natural_key for r in records}))
    return FetchSummary(**summary)


def _prepare(spec: BlockSpec, request: PageRequest, result: Any, *, empty: bool):
    """What a page stores: (payload, metadata, records); or, ``empty``, the marker of a
    chain that ended without data. MalformedPayloadError when it does not normalize."""
    text = isinstance(result.payload, str)
    payload = {"empty": True, "route": request.route, "step": request.step}
    records = []
    if not empty:
        payload = result.payload
        records = normalize(
            spec.platform,
            spec.resource,
            result.payload,
            account=spec.account,
            scope=str(request.state.get("scope", "")),
        )
    following = result.next.model_dump_json() if result.next is not None else ""
    metadata = {
        "step": request.step,
        "format": "empty" if empty else "text" if text else "json",
        "cursor": hashlib.sha256(following.encode()).hexdigest()[:24] if following else "",
        "has_next": "1" if result.next is not None else "0",
        "records": str(len(records)),
        "reported": "" if result.reported_count is None else str(result.reported_count),
        "status": str(result.classified.status),
        "route": request.route,
        "scope": str(request.state.get("scope", "")),
    }
    for name in ("listing", "running"):  # a repeated listing; an open group's total
        if request.state.get(name):
            metadata[name] = _text(request.state[name])
    return payload, metadata, records


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


async def _write(settings, spec: BlockSpec, page: int, payload, metadata) -> None:
    """The raw page to Blob. Idempotent, so a transient storage failure is retried here
    (``storage_retry``); if it still fails the run fails and is run again."""
    await retried(
        lambda: RawPageStore(settings).put(
            spec.client,
            spec.platform,
            spec.account,
            spec.resource,
            spec.block_id,
            page,
            payload,
            metadata=metadata,
        )
    )
