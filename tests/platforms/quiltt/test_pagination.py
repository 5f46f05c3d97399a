"""Quiltt chains, pure: date filters for windows, cursors, repeats, short pages, probes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.errors import ConfigurationError
from shared.platforms.base import PageRequest, Window
from shared.platforms.quiltt.pagination import (
    PAGE_CAP,
    date_filter,
    first_request,
    next_request,
    short_page,
)

PATH = "/v1/graphql"


def conn(count: int, cursors: list[str], has_next: bool, end: str | None = "auto") -> dict:
    edges = [{"cursor": c, "node": {"id": f"txn_{c}"}} for c in cursors]
    end_cursor = (cursors[-1] if cursors else None) if end == "auto" else end
    info = {"hasNextPage": has_next, "endCursor": end_cursor}
    return {"data": {"transactions": {"count": count, "edges": edges, "pageInfo": info}}}


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (
            datetime(2026, 1, 1, tzinfo=UTC),
            datetime(2026, 2, 1, tzinfo=UTC),
            ("2026-01-01", "2026-02-01"),
        ),
        (
            datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC),
            datetime(2026, 2, 1, 0, 0, 1, tzinfo=UTC),
            ("2026-01-02", "2026-02-02"),
        ),
        (  # +09:00: 2026-01-01 09:00 local is 00:00 UTC
            datetime(2026, 1, 1, 9, tzinfo=timezone(timedelta(hours=9))),
            datetime(2026, 1, 3, 8, tzinfo=timezone(timedelta(hours=9))),
            ("2026-01-01", "2026-01-03"),
        ),
        (
            datetime(2026, 1, 1, 12, tzinfo=UTC),
            datetime(2026, 1, 1, 18, tzinfo=UTC),
            ("2026-01-02", "2026-01-02"),  # holds no whole day: an empty date range
        ),
    ],
)
def test_windows_become_the_days_whose_midnight_they_hold(start, end, expected) -> None:
    flt = date_filter(Window(start=start, end=end))
    assert (flt["date_gte"], flt["date_lt"]) == expected


def test_first_requests() -> None:
    span = Window(start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 2, 1, tzinfo=UTC))
    request = first_request(PATH, "bank_transactions", span)
    variables = request.body["variables"]
    assert request.method == "POST" and request.route == "api" and request.path == PATH
    assert variables == {
        "first": PAGE_CAP,
        "after": None,
        "sort": "DATE_ASC",
        "filter": {"date_gte": "2026-01-01", "date_lt": "2026-02-01"},
    }
    assert "filter" not in first_request(PATH, "bank_transactions", None).body["variables"]
    accounts = first_request(PATH, "accounts", None)
    assert "accounts" in accounts.body["query"] and next_request(accounts, {}) is None
    assert PageRequest.model_validate_json(request.model_dump_json()) == request


@pytest.mark.parametrize(
    ("resource", "kwargs", "problem"),
    [
        ("balances", {}, "no resource"),
        ("bank_transactions", {"bulk": True}, "no bulk"),
        ("bank_transactions", {"first": 101}, "page size"),
        ("bank_transactions", {"first": 0}, "page size"),
    ],
)
def test_bad_requests_are_refused(resource, kwargs, problem) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        first_request(PATH, resource, None, **kwargs)
    end = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ConfigurationError, match="empty window"):
        first_request(PATH, "bank_transactions", Window(start=end, end=end))


def test_cursor_chain_counts_distinct_records() -> None:
    request = first_request(PATH, "bank_transactions", None, first=2)
    second = next_request(request, conn(5, ["a", "b"], True))
    assert second.body["variables"]["after"] == "b" and second.state == {"seen": 2}
    # a page repeating the record it was asked to start after
    third = next_request(second, conn(5, ["b", "c", "d"], True))
    assert third.body["variables"]["after"] == "d" and third.state == {"seen": 4}
    assert next_request(third, conn(5, ["e"], False)) is None
    assert [r.page_number for r in (request, second, third)] == [0, 1, 2]


def test_a_lost_has_next_page_gets_one_probe() -> None:
    request = first_request(PATH, "bank_transactions", None, first=2)
    second = next_request(request, conn(5, ["a", "b"], True))
    probe = next_request(second, conn(5, ["c", "d"], False))  # 4 of 5 seen, no next page
    assert probe is not None and probe.state == {"seen": 4, "probe": True}
    assert probe.body["variables"]["after"] == "d"
    assert next_request(probe, conn(5, [], False, end=None)) is None  # nothing more
    found = next_request(probe, conn(6, ["e"], False))  # the probe found records
    assert found is not None and found.state == {"seen": 5, "probe": True}
    assert next_request(found, conn(6, ["f"], False)) is None


def test_empty_history_ends_at_once() -> None:
    request = first_request(PATH, "bank_transactions", None)
    assert next_request(request, conn(0, [], False, end=None)) is None


@pytest.mark.parametrize(
    ("cursors", "end", "short"),
    [
        (["a", "b"], "b", False),
        (["a", "b"], "c", True),  # records left out between the last edge and endCursor
        ([], None, False),
        (["a"], None, False),
    ],
)
def test_short_pages_are_spotted(cursors, end, short) -> None:
    request = first_request(PATH, "bank_transactions", None)
    assert (short_page(request, conn(9, cursors, True, end=end)) is not None) is short
