"""Opaque page tokens and keyset paging shared by every paged Amazon endpoint.

A token is URL-safe base64 of compact JSON: the operation, the query the first page was
asked with (dates already resolved, so later pages see the same window) and the sort key
of the last record served. Pages are keyset pages over records sorted by that key, so a
record that changes between pages is neither served twice nor skipped, as long as its
key does not move (the fault kinds below break exactly that, on purpose).

Page faults (rolled per request identity, see ``Call.roll``):
    duplicate        the previous page's last record is served again first
    short_page       a record in the middle of the page is dropped (silently lost)
    lost_next_token  a page that has a successor carries no token
"""

from __future__ import annotations

import base64
import bisect
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sandbox.amazon.errors import invalid

if TYPE_CHECKING:
    from sandbox.amazon.app import Call

T = TypeVar("T")


def encode(operation: str, state: dict[str, Any]) -> str:
    raw = json.dumps({"op": operation, **state}, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(operation: str, token: str, name: str = "NextToken") -> dict[str, Any]:
    """The state inside ``token``; 400 InvalidInput if it is not a token of ``operation``."""
    try:
        padded = token + "=" * (-len(token) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid(f"Invalid {name}.") from exc
    if not isinstance(state, dict) or state.pop("op", None) != operation:
        raise invalid(f"Invalid {name}.")
    return state


def page(
    call: Call,
    rows: Sequence[T],
    key: Callable[[T], tuple[Any, ...]],
    size: int,
    cursor: Sequence[Any] | None,
) -> tuple[list[T], list[Any] | None]:
    """The page after ``cursor`` of ``rows`` (sorted by ``key``) and the next cursor."""
    keys = [key(r) for r in rows]
    start = bisect.bisect_right(keys, tuple(cursor)) if cursor is not None else 0
    chunk = list(rows[start : start + size])
    more = start + size < len(rows)
    following = list(key(chunk[-1])) if more and chunk else None
    if start > 0 and call.roll("duplicate"):
        chunk.insert(0, rows[start - 1])
    if len(chunk) > 2 and call.roll("short_page"):
        del chunk[len(chunk) // 2]
    if following is not None and call.roll("lost_next_token"):
        following = None
    return chunk, following
