"""Block states and the forward-only rule for changing them. Pure: no I/O, no clock.

Theory of operation
-------------------
A block is one (client, platform, account, resource, window) unit of loading. Its ledger
row moves through these states; ``advance`` decides every change, and the ledger stores
the result with an ETag condition, so a change is always decided on the state it will
replace::

    planned ──▶ running ──▶ done                      (terminal)
       │        │   ▲  │
       │        │   │  └──▶ failed ──▶ running         (the next attempt)
       │        │   │                 └──▶ parked      (terminal: alert, operator)
       └────────┴───┴──────────────────▶ parked

Attempts are numbered from 1. Entering ``running`` from ``planned`` or ``failed`` starts
attempt ``attempts + 1`` (or the ``attempt`` the caller names, which must be higher).
While running, an update naming the current attempt (or none) records progress; one
naming a later attempt restarts the block (the earlier worker died); one naming an
earlier attempt comes from a stale worker and is rejected, as is any change out of
``done`` or ``parked``. Repeating the change that produced the current state (done ->
done, parked -> parked, failed -> failed for the same attempt) is a no-op, so retried
activities are harmless. Counts given with an update replace the stored ones; starting an
attempt resets the counts the caller does not give.

Windows are half-open ``[window_start, window_end)`` in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.errors import TributaryError


class BlockState(StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    PARKED = "parked"


TERMINAL = frozenset({BlockState.DONE, BlockState.PARKED})
ALLOWED: dict[BlockState, frozenset[BlockState]] = {
    BlockState.PLANNED: frozenset({BlockState.RUNNING, BlockState.PARKED}),
    BlockState.RUNNING: frozenset(
        {BlockState.RUNNING, BlockState.DONE, BlockState.FAILED, BlockState.PARKED}
    ),
    BlockState.FAILED: frozenset({BlockState.RUNNING, BlockState.PARKED}),
    BlockState.DONE: frozenset(),
    BlockState.PARKED: frozenset(),
}
"""State -> the states a change may lead to (repeats of the current state aside)."""


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware (UTC)")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


class BlockRejected(TributaryError):
    """A block change lost: the stored state is ahead of it (done, parked, or a later
    attempt). Do not retry the change; re-read the block and act on ``current``."""

    def __init__(self, current: Block, target: BlockState, reason: str) -> None:
        super().__init__(
            f"block {current.block_id!r} is {current.state} (attempt {current.attempts}); "
            f"cannot become {target}: {reason}"
        )
        self.current = current
        self.target = target


@dataclass(frozen=True)
class BlockKey:
    """Identity of a block in the ledger."""

    client: str
    platform: str
    account: str
    resource: str
    block_id: str


class Block(BaseModel):
    """One ledger row. ``reported`` is the record count the platform states for the
    window, where it states one; ``records`` / ``pages`` what the current attempt loaded."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    client: str
    platform: str
    account: str
    resource: str
    block_id: str = Field(min_length=1)
    window_start: AwareDatetime
    window_end: AwareDatetime
    state: BlockState = BlockState.PLANNED
    attempts: int = Field(default=0, ge=0)
    pages: int = Field(default=0, ge=0)
    records: int = Field(default=0, ge=0)
    reported: int | None = None
    last_error: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @property
    def key(self) -> BlockKey:
        return BlockKey(self.client, self.platform, self.account, self.resource, self.block_id)


class BlockUpdate(BaseModel):
    """A requested change: the target state, the attempt the writer works on (None: the
    current one, or the next when starting), and counts / error to record."""

    model_config = ConfigDict(frozen=True)

    state: BlockState
    attempt: int | None = Field(default=None, ge=1)
    pages: int | None = Field(default=None, ge=0)
    records: int | None = Field(default=None, ge=0)
    reported: int | None = Field(default=None, ge=0)
    error: str | None = None


def _is_repeat(current: Block, update: BlockUpdate) -> bool:
    if update.state != current.state or current.state == BlockState.RUNNING:
        return False
    return update.attempt is None or update.attempt == current.attempts


def _next_attempt(current: Block, update: BlockUpdate) -> int:
    """The attempt the block will be on after ``update``; raises BlockRejected if stale."""
    starting = update.state == BlockState.RUNNING and current.state != BlockState.RUNNING
    if starting:
        attempt = update.attempt or current.attempts + 1
        if attempt <= current.attempts:
            raise BlockRejected(current, update.state, f"attempt {attempt} already ran")
        return attempt
    if update.attempt is not None and update.attempt < current.attempts:
        raise BlockRejected(current, update.state, f"attempt {update.attempt} is stale")
    ending = update.state != BlockState.RUNNING
    if ending and update.attempt is not None and update.attempt > current.attempts:
        raise BlockRejected(current, update.state, f"attempt {update.attempt} never started")
    return update.attempt or current.attempts


def advance(current: Block, update: BlockUpdate, now: datetime) -> Block | None:
    """The block after ``update`` at ``now``, or None if ``update`` repeats the current
    state (nothing to write). Raises BlockRejected if the change would move the block
    backwards (see the module docstring)."""
    _aware(now)
    if _is_repeat(current, update):
        return None
    if update.state not in ALLOWED[current.state]:
        raise BlockRejected(current, update.state, "blocks only move forward")
    attempt = _next_attempt(current, update)
    fresh = attempt != current.attempts
    changes = {
        "state": update.state,
        "attempts": attempt,
        "pages": _pick(update.pages, 0 if fresh else current.pages),
        "records": _pick(update.records, 0 if fresh else current.records),
        "reported": _pick(update.reported, current.reported),
        "last_error": _pick(update.error, current.last_error),
        "updated_at": now,
    }
    return current.model_copy(update=changes)


def _pick(given: int | str | None, otherwise: int | str | None) -> int | str | None:
    return given if given is not None else otherwise
