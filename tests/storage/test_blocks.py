from datetime import UTC, datetime, timedelta

import pytest

from shared.storage.blocks import Block, BlockRejected, BlockState, BlockUpdate, advance

T0 = datetime(2024, 6, 1, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)
P, R, D, F, K = (
    BlockState.PLANNED,
    BlockState.RUNNING,
    BlockState.DONE,
    BlockState.FAILED,
    BlockState.PARKED,
)


def block(state: BlockState = P, attempts: int = 0, **extra) -> Block:
    return Block(
        client="c1",
        platform="etsy",
        account="shop",
        resource="orders",
        block_id="2024-05",
        window_start=T0 - timedelta(days=31),
        window_end=T0,
        state=state,
        attempts=attempts,
        created_at=T0,
        updated_at=T0,
        **extra,
    )


# (state, attempts, update) -> (state, attempts) afterwards
MOVES = [
    (P, 0, BlockUpdate(state=R), (R, 1)),
    (P, 0, BlockUpdate(state=R, attempt=1), (R, 1)),
    (R, 1, BlockUpdate(state=R, records=10), (R, 1)),
    (R, 1, BlockUpdate(state=R, attempt=2), (R, 2)),
    (R, 1, BlockUpdate(state=D, attempt=1), (D, 1)),
    (R, 1, BlockUpdate(state=F, error="boom"), (F, 1)),
    (F, 1, BlockUpdate(state=R), (R, 2)),
    (F, 3, BlockUpdate(state=K), (K, 3)),
    (P, 0, BlockUpdate(state=K), (K, 0)),
]


@pytest.mark.parametrize(("state", "attempts", "update", "after"), MOVES)
def test_forward_moves(state, attempts, update, after) -> None:
    moved = advance(block(state, attempts), update, LATER)
    assert moved is not None
    assert (moved.state, moved.attempts, moved.updated_at) == (*after, LATER)


REPEATS = [
    (D, 1, BlockUpdate(state=D)),
    (D, 1, BlockUpdate(state=D, attempt=1)),
    (K, 3, BlockUpdate(state=K)),
    (F, 2, BlockUpdate(state=F, attempt=2)),
    (P, 0, BlockUpdate(state=P)),
]


@pytest.mark.parametrize(("state", "attempts", "update"), REPEATS)
def test_repeats_are_no_ops(state, attempts, update) -> None:
    assert advance(block(state, attempts), update, LATER) is None


REJECTED = [
    (D, 1, BlockUpdate(state=R)),  # done is never moved back to running
    (D, 1, BlockUpdate(state=F)),
    (K, 3, BlockUpdate(state=R)),
    (R, 1, BlockUpdate(state=P)),
    (P, 0, BlockUpdate(state=D)),  # never ran
    (R, 2, BlockUpdate(state=D, attempt=1)),  # a stale worker
    (R, 2, BlockUpdate(state=R, attempt=1)),
    (R, 1, BlockUpdate(state=D, attempt=2)),  # attempt 2 never started
    (F, 2, BlockUpdate(state=R, attempt=2)),  # attempt 2 already ran
    (F, 2, BlockUpdate(state=D)),
]


@pytest.mark.parametrize(("state", "attempts", "update"), REJECTED)
def test_backward_or_stale_moves_are_rejected(state, attempts, update) -> None:
    current = block(state, attempts)
    with pytest.raises(BlockRejected) as caught:
        advance(current, update, LATER)
    assert caught.value.current == current


def test_counts_carry_over_within_an_attempt_and_reset_on_a_new_one() -> None:
    running = block(R, 1, pages=3, records=300, reported=900, last_error="429")
    progressed = advance(running, BlockUpdate(state=R, pages=4), LATER)
    assert (progressed.pages, progressed.records, progressed.reported) == (4, 300, 900)
    restarted = advance(running, BlockUpdate(state=R, attempt=2), LATER)
    assert (restarted.pages, restarted.records, restarted.reported) == (0, 0, 900)
    assert restarted.last_error == "429"


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError):
        advance(block(), BlockUpdate(state=R), datetime(2024, 1, 1))
