"""Property: paging a result set that only shrinks (records modified out of the window)
with ``pagination.next_request`` reads every record that stays, whatever is removed
between pages and wherever it sat; records that join are not needed for the property
(they only push others later)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.platforms.base import Window
from shared.platforms.ebay import pagination

WINDOW = Window(start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 2, 1, tzinfo=UTC))


def serve(records: list[int], offset: int, limit: int, pages: bool) -> dict:
    first = offset * limit if pages else offset
    return {"items": records[first : first + limit], "total": len(records)}


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(0, 60),
    limit=st.integers(1, 12),
    resource=st.sampled_from(["orders", "inventory"]),
    removals=st.lists(st.lists(st.integers(0, 10**6), max_size=4), max_size=30),
)
def test_every_record_that_stays_is_read(size, limit, resource, removals) -> None:
    records = list(range(size))
    request = pagination.first_request(resource, WINDOW, limit=limit)
    pages = resource == "inventory"
    read: set[int] = set()
    removed: set[int] = set()
    for step in range(10_000):
        page = serve(records, request.params["offset"], limit, pages)
        read |= set(page["items"])
        request = pagination.next_request(request, {"total": page["total"]})
        if request is None:
            break
        for pick in removals[step] if step < len(removals) else []:
            if records:
                removed.add(records.pop(pick % len(records)))
    else:
        raise AssertionError("the chain did not end")
    assert set(range(size)) - removed <= read


def test_the_window_is_written_half_open_in_ebay_syntax() -> None:
    text = pagination.date_range("creationdate", WINDOW)
    assert text == "creationdate:[2026-01-01T00:00:00.000Z..2026-01-31T23:59:59.999Z]"
    later = Window(start=WINDOW.end, end=WINDOW.end + timedelta(days=1))
    assert pagination.date_range("payoutDate", later).startswith(
        "payoutDate:[2026-02-01T00:00:00.000Z"
    )
