"""Check a block's stored pages (``shared.integrity``) and record the verdict.

Reads the attempt's raw pages back from Blob storage (``shared.flows.pages``), checks
them — and, when they pass, the block's links to other resources (orders with their
items, payouts with their transactions: ``shared.flows.verdicts.linked``) — and moves
the ledger row: done (counts recorded; the watermark advanced to the
window's end when the spec says so — only ever after the check passed) or failed with
the problems as its error. A block found done already (a repeated activity) is ok.

A failed link check with ``VerifyInput.heal`` plans new generations of the done blocks
on the link's other end that may hold the hole (``Links.suspects``,
``shared.flows.generations.reopen``) and returns them as ``Verdict.reload``: the block
orchestration loads them before its retry, so the retry re-checks against a fresh
other end.
"""

from __future__ import annotations

import logging

import azure.durable_functions as df

from shared.flows.generations import reopen
from shared.flows.models import BlockSpec, Verdict, VerifyInput
from shared.flows.pages import read_pages
from shared.flows.verdicts import check, linked
from shared.settings import get_settings
from shared.storage.blocks import BlockKey, BlockRejected, BlockState, BlockUpdate
from shared.storage.ledger import Ledger

bp = df.Blueprint()
NAME = "verify_block"
MAX_ERROR = 900
log = logging.getLogger(__name__)


@bp.activity_trigger(input_name="payload", activity=NAME)
async def verify_block(payload: dict) -> dict:
    task = VerifyInput.model_validate(payload)
    spec, settings = task.spec, get_settings()
    pages = await read_pages(settings, spec)
    problems, records, reported = check(spec, pages, task.pages)
    reload: list[BlockSpec] = []
    if not problems:
        links = await linked(settings, spec, [r for p in pages for r in p.records], now=task.now)
        problems += links.problems
        if links.counts:
            log.info("links of %s %s: %s", spec.resource, spec.block_id, links.counts)
        if links.problems and task.heal:
            reload = await reopen(settings, spec, task.attempt, links.suspects, task.now)
            if reload:
                names = [s.block_id for s in reload]
                log.info("links of %s %s: re-loading %s", spec.resource, spec.block_id, names)
    key = BlockKey(spec.client, spec.platform, spec.account, spec.resource, spec.block_id)
    ledger = Ledger(settings)
    ok = not problems
    update = BlockUpdate(
        state=BlockState.DONE if ok else BlockState.FAILED,
        attempt=task.attempt,
        pages=len(pages),
        records=records,
        reported=reported,
        error=None if ok else "; ".join(problems)[:MAX_ERROR],
    )
    try:
        await ledger.update_block(key, update, now=task.now)
    except BlockRejected as exc:
        if exc.current.state != BlockState.DONE:
            raise
        ok, problems, reload = True, [], []
    if ok and spec.advances_watermark:
        await ledger.advance_watermark(
            spec.client, spec.platform, spec.account, spec.resource, spec.window.end, now=task.now
        )
    verdict = Verdict(ok=ok, problems=problems, records=records, pages=len(pages), reload=reload)
    return verdict.model_dump(mode="json")
