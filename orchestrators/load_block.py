"""One block: permits, fetch page by page, verify; retry, park after three failures.

Loop per *turn* over the block's chain (a stack: a driver page pushes its dependent
chain on top, see ``shared.flows.chains``): wait ``not_before_s`` if the top request
says so, take a batch of permits for its route from the ambassador
(``shared.flows.permits``: durable timers until the ask-again time, and until the
batch's first time when that is more than ``INLINE_WAIT`` off), run ``fetch_pages`` on
the batch (it walks the chain one request per permit, pacing the permits' times
inline up to ``INLINE_WAIT``, stores pages and records and returns counts and the chain
left: payloads never enter this history), feed the responses' limit headers back to
the ambassador in one signal, and act on the response that stopped the run, if any:
throttled -> wait Retry-After, ask again; transient -> back off and retry (at most
``MAX_TRANSIENT`` in a row); permanent -> the attempt fails. A run whose activity
failed (storage unreachable) is run again from the same chain after a backoff, up to
``MAX_FAILED_RUNS`` times in a row. One turn costs about three
episodes however many pages it fetched (a page per turn cost seven).

Pacing ``reactive`` (``Settings.pacing``, via ``begin_block``; the benchmark's
reactive-backoff strategy): no observation goes back to the ambassador, and a 429 waits
``REACTIVE_BACKOFF_S`` doubled per 429 in a row (at most ``REACTIVE_CAP_S``), whatever
Retry-After says.

At the chain's end ``verify_block`` checks the stored pages and marks the block done.
A failed attempt is retried after ``RETRY_WAITS`` (a minute after the first failure: a
page a platform served short or without its next token once is served whole again at
once; ten after the second: a lasting fault has time to pass); the third failure parks
the block and alerts client support (``park_block``). A failed link's other end
(``Verdict.reload``: new generations of done blocks of another resource) is loaded
first, as sub-orchestrations of this one, so the retry checks against it; such a re-load
(``BlockSpec.heals``) makes one attempt and ends ``failed`` instead of retrying or
parking: the block that asked retries and parks. A re-load whose fetch failed before any
verdict records its row failed (``fail_block``), so no row is left running. Every
``TURNS_PER_EXECUTION`` turns, ``WAITS_PER_EXECUTION`` permit waits (a block waiting
long on a busy lane, e.g. for Shopify's cost bucket, each wait replaying the whole
history: cost quadratic in its length) or ``PAGES_PER_EXECUTION`` requests, and before
each new attempt, the orchestration continues as new, so its history stays short (the
turn and wait limits wait while the batch still holds usable permits, up to twice the
turns: continuing would hand them back and ask again).

Output: ``{"block_id", "state": done|parked|capped|skipped|failed, "records", "pages",
"attempts", "error"}``.
"""

from __future__ import annotations

from datetime import timedelta

import azure.durable_functions as df

from activities import (
    begin_block,
    fail_block,
    fetch_pages,
    park_block,
    record_progress,
    verify_block,
)
from shared.flows.models import (
    BeginInput,
    Begun,
    BlockProgress,
    BlockRun,
    BlockSpec,
    FetchRun,
    FetchRunResult,
    FetchSummary,
    ParkInput,
    ProgressInput,
    Verdict,
    VerifyInput,
)
from shared.flows.permits import Permits, Refused
from shared.platforms.base import Outcome

bp = df.Blueprint()
NAME = "load_block"
PAGES_PER_EXECUTION = 400
TURNS_PER_EXECUTION = 10  # 25 -> 10: history events replayed -49 %, CPU -8.6 % (Etsy + Amazon)
WAITS_PER_EXECUTION = 2  # 4 -> 2: a wait replays about half the history
INLINE_WAIT = timedelta(seconds=2)
MAX_TRANSIENT = 6
MAX_FAILED_RUNS = 20  # the fetch activity itself failed (storage unreachable): more patience
MAX_FAILURES = 3
# the wait before the retry after the first, second failure (was 5 and 10 minutes: under
# the default faults a short page's retry held Amazon's whole load 5 minutes past its end)
RETRY_WAITS = (timedelta(minutes=1), timedelta(minutes=10))
BACKOFF_CAP_S = 60.0
REACTIVE_BACKOFF_S = 1.0
REACTIVE_CAP_S = 300.0


def _result(spec: BlockSpec, state: str, p: BlockProgress, error: str | None = None) -> dict:
    return {
        "block_id": spec.block_id,
        "state": state,
        "records": p.records,
        "pages": p.pages,
        "attempts": p.attempt,
        "error": error,
    }


def _status(context, spec: BlockSpec, p: BlockProgress, phase: str) -> None:
    context.set_custom_status(
        {
            "phase": phase,
            "block": spec.block_id,
            "attempt": p.attempt,
            "pages": p.pages,
            "records": p.records,
        }
    )


def _progress(context, spec: BlockSpec, p: BlockProgress):
    message = ProgressInput(
        spec=spec,
        attempt=p.attempt,
        execution=p.execution,
        requests=p.requests,
        throttled=p.throttled,
        retries=p.retries,
        now=context.current_utc_datetime,
    )
    return context.call_activity(record_progress.NAME, message.model_dump(mode="json"))


def _next_execution(p: BlockProgress, **changes) -> BlockProgress:
    fresh = {"requests": 0, "throttled": 0, "retries": 0, "execution": p.execution + 1}
    return p.model_copy(update={**fresh, **changes})


def _wait(context, seconds: float):
    return context.create_timer(context.current_utc_datetime + timedelta(seconds=seconds))


def _full(context, p: BlockProgress, permits: Permits, turns: int) -> bool:
    """The execution should continue as new before its next turn. Not while the batch
    still holds permits the next turn can use (up to twice the turns): continuing
    would release them, and the next execution would ask the ambassador again."""
    if p.requests >= PAGES_PER_EXECUTION or turns >= 2 * TURNS_PER_EXECUTION:
        return True
    if turns < TURNS_PER_EXECUTION and permits.waits < WAITS_PER_EXECUTION:
        return False
    now = context.current_utc_datetime
    return not any(at + permits.lease > now for at in permits.times)


def _fetch_pages(context, spec: BlockSpec, p: BlockProgress, permits: Permits):
    """Generator: run the chain until it ends, fails or the execution is full.
    Returns (error or None, full)."""
    turns = 0
    while p.chain:
        if _full(context, p, permits, turns):
            return None, True
        turns += 1
        request = p.chain[-1]
        if request.not_before_s > 0:
            yield _wait(context, request.not_before_s)
            request = request.model_copy(update={"not_before_s": 0.0})
            p.chain[-1] = request
        try:
            times = yield from permits.batch(request)
        except Refused as exc:
            return f"{exc.code}: {exc}", False
        if not times:
            continue
        if times[0] > context.current_utc_datetime + INLINE_WAIT:
            yield context.create_timer(times[0])
        task = FetchRun(
            spec=spec,
            attempt=p.attempt,
            page=p.pages,
            chain=p.chain,
            route=request.route,
            cost=request.cost,
            permits=times,
            lease_s=permits.lease.total_seconds(),
            max_wait_s=INLINE_WAIT.total_seconds(),
            observe=p.pacing != "reactive",
        )
        try:
            raw = yield context.call_activity(fetch_pages.NAME, task.model_dump(mode="json"))
            run = FetchRunResult.model_validate(raw)
        except Exception as exc:  # the activity failed (storage down, a bug): run it again
            p.retries += 1
            p.failed_runs_in_a_row += 1
            if p.failed_runs_in_a_row > MAX_FAILED_RUNS:
                return f"gave up after {MAX_FAILED_RUNS} failed fetch runs: {str(exc)[:300]}", False
            permits.spend(len(permits.times))  # maybe used: never reused, left to expire
            yield _wait(context, min(BACKOFF_CAP_S, 2.0 ** min(p.failed_runs_in_a_row, 6)))
            continue
        p.failed_runs_in_a_row = 0
        permits.forfeit(run.expired)
        permits.spend(run.used)
        permits.observe(run.observations)
        p.chain = list(run.chain)
        p.pages += run.pages
        p.records += run.records
        p.requests += run.requests
        if run.requests > (run.stopped is not None):  # some response was ok
            p.transient_in_a_row = p.throttled_in_a_row = 0
        if run.stopped is not None:
            error = yield from _act(context, p, permits, run.stopped)
            if error is not None:
                return error, False
        _status(context, spec, p, "loading")
    return None, False


def _act(context, p: BlockProgress, permits: Permits, summary: FetchSummary):
    """Generator: act on the response that stopped a run (not ok); an error or None."""
    if summary.outcome is Outcome.THROTTLED:
        p.throttled += 1
        permits.release()
        if p.pacing == "reactive":
            p.throttled_in_a_row += 1
            backoff = REACTIVE_BACKOFF_S * 2.0 ** (p.throttled_in_a_row - 1)
            yield _wait(context, min(REACTIVE_CAP_S, backoff))
        else:
            yield _wait(context, summary.retry_after_s or 1.0)
        return None
    if summary.outcome in (Outcome.TRANSIENT, Outcome.AUTH_EXPIRED):
        p.retries += 1
        p.transient_in_a_row += 1
        if p.transient_in_a_row > MAX_TRANSIENT:
            return f"gave up after {MAX_TRANSIENT} transient failures: {summary.reason}"
        if not summary.withheld:  # else: the token is fresh, the next permit resends
            yield _wait(context, min(BACKOFF_CAP_S, 2.0**p.transient_in_a_row))
        return None
    return f"permanent: {summary.status} {summary.reason}"


def _heal(context, p: BlockProgress, specs: list[BlockSpec]):
    """Generator: load the other ends of a failed link again, side by side; their
    outcomes (none if one crashed: the retry then finds the link as it stands)."""
    tasks = [
        context.call_sub_orchestrator(
            NAME,
            BlockRun(spec=s).model_dump(mode="json"),
            f"{context.instance_id}|heal{p.failures}|{s.block_id}",
        )
        for s in specs
    ]
    try:
        return (yield context.task_all(tasks))
    except Exception:
        return []


@bp.orchestration_trigger(context_name="context", orchestration=NAME)
def load_block(context: df.DurableOrchestrationContext):
    run = BlockRun.model_validate(context.get_input())
    spec, p = run.spec, run.progress
    error: str | None = None
    if p.attempt == 0:
        begin = BeginInput(spec=spec, now=context.current_utc_datetime)
        begun = Begun.model_validate(
            (yield context.call_activity(begin_block.NAME, begin.model_dump(mode="json")))
        )
        if begun.attempt == 0:
            return _result(spec, "skipped" if begun.state == "done" else begun.state, p)
        p = p.model_copy(
            update={
                "attempt": begun.attempt,
                "pages": 0,
                "records": 0,
                "chain": [begun.request] if begun.request else [],
                "transient_in_a_row": 0,
                "pacing": begun.pacing,
            }
        )
        error = begun.error
    _status(context, spec, p, "loading")
    permits = Permits(context, spec, p.pace)
    if error is None:
        error, full = yield from _fetch_pages(context, spec, p, permits)
        if full:
            permits.release()
            if p.requests or p.retries or p.throttled:  # else it only waited: nothing to record
                yield _progress(context, spec, p)
            context.continue_as_new(
                BlockRun(spec=spec, progress=_next_execution(p)).model_dump(mode="json")
            )
            return None
    permits.complete()
    if error is not None and error.startswith("demo_cap") and spec.tier == "demo":
        yield _progress(context, spec, p)
        return _result(spec, "capped", p, error)
    reload: list[BlockSpec] = []
    verified = False
    if error is None:
        _status(context, spec, p, "verifying")
        retried = spec.heals is None and p.failures + 1 < MAX_FAILURES
        check = VerifyInput(
            spec=spec,
            attempt=p.attempt,
            pages=p.pages,
            now=context.current_utc_datetime,
            heal=retried,
        )
        try:
            raw = yield context.call_activity(verify_block.NAME, check.model_dump(mode="json"))
            verdict = Verdict.model_validate(raw)
            verified = True
        except Exception as exc:  # the check could not run (storage down, a bug)
            verdict = Verdict(ok=False, problems=[f"check failed to run: {str(exc)[:300]}"])
        if verdict.ok:
            p.records = verdict.records
            yield _progress(context, spec, p)
            _status(context, spec, p, "done")
            return _result(spec, "done", p)
        error = "integrity: " + "; ".join(verdict.problems)
        reload = verdict.reload
    p.failures += 1
    p.last_error = error
    yield _progress(context, spec, p)
    if spec.heals is not None:  # a re-load: the block that asked for it retries
        if not verified:  # no verdict moved its row off running
            failed = ParkInput(
                spec=spec, attempt=p.attempt, error=error, now=context.current_utc_datetime
            )
            yield context.call_activity(fail_block.NAME, failed.model_dump(mode="json"))
        _status(context, spec, p, "failed")
        return _result(spec, "failed", p, error)
    if p.failures >= MAX_FAILURES:
        park = ParkInput(
            spec=spec, attempt=p.attempt, error=error, now=context.current_utc_datetime
        )
        yield context.call_activity(park_block.NAME, park.model_dump(mode="json"))
        _status(context, spec, p, "parked")
        return _result(spec, "parked", p, error)
    if reload:
        _status(context, spec, p, "healing")
        yield from _heal(context, p, reload)
    _status(context, spec, p, "retry-wait")
    yield _wait(context, RETRY_WAITS[min(p.failures, len(RETRY_WAITS)) - 1].total_seconds())
    retry = _next_execution(p, attempt=0, chain=[], pages=0, records=0)
    context.continue_as_new(BlockRun(spec=spec, progress=retry).model_dump(mode="json"))
    return None
