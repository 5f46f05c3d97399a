"""Relay connections over sorted records, with Shopify-style opaque keyset cursors.

A cursor is base64 of ``{"last_id": <id>, "last_value": <sort value>}``: it names the
last record seen, not a position, so records inserted or re-sorted between two page
requests never shift a page (a record whose sort value moved past the cursor is seen
again or later, as with Shopify). ``first``/``last`` are required (one of them), at most
``cap`` (250); ``after``/``before`` must be cursors of the same sort.

Faults (keyed by the request's identity, see ``app.py``): ``duplicate`` repeats the
record named by ``after`` at the top of the page; ``short_page`` returns fewer nodes than
asked with ``hasNextPage`` true and the cursors of what was returned; ``lost_next_token``
answers ``hasNextPage: false`` although more records follow.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError

Key = tuple[Any, int]  # (sort value, numeric id)
Roll = Callable[..., bool]


def encode(key: Key) -> str:
    text = json.dumps({"last_id": key[1], "last_value": key[0]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode(cursor: str) -> Key:
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
        return body["last_value"], int(body["last_id"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise GraphQLError("Invalid cursor for current pagination sort.") from exc


@dataclass(frozen=True)
class Args:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None
    reverse: bool = False


def check(args: Args, field: str, cap: int) -> None:
    if args.first is None and args.last is None:
        raise GraphQLError("you must provide one of first or last")
    for name in ("first", "last"):
        value = getattr(args, name)
        if value is not None and not 0 <= value <= cap:
            raise GraphQLError(
                f"The '{name}' argument on the field '{field}' must be between 0 and {cap}."
            )


def page(
    records: Sequence[Any],
    key: Callable[[Any], Key],
    node: Callable[[Any], dict[str, Any]],
    args: Args,
    roll: Roll,
) -> dict[str, Any]:
    """One page of ``records`` (any order) sorted by ``key`` (reversed if asked)."""
    keyed = sorted(((key(r), r) for r in records), key=lambda kr: kr[0], reverse=args.reverse)
    keys = [k for k, _ in keyed]
    sign = -1 if args.reverse else 1

    def order(k: Key) -> tuple:
        return _cmp(k, sign)

    low, high = 0, len(keyed)
    if args.after:  # bisection applies ``order`` to the keys it probes only
        low = bisect.bisect_right(keys, order(decode(args.after)), key=order)
    if args.before:
        high = min(high, bisect.bisect_left(keys, order(decode(args.before)), key=order))
    window = keyed[low:high] if low < high else []
    if args.first is not None:
        chosen, more_after, more_before = window[: args.first], len(window) > args.first, low > 0
    else:
        start = max(0, len(window) - (args.last or 0))
        chosen, more_after, more_before = window[start:], high < len(keyed), low + start > 0
    if args.after and low > 0 and len(chosen) > 1 and roll("duplicate"):
        chosen = [keyed[low - 1], *chosen[:-1]]
    if len(chosen) > 1 and more_after and roll("short_page"):
        chosen = chosen[: max(1, len(chosen) * 3 // 4)]
    if more_after and roll("lost_next_token"):
        more_after = False
    nodes = [node(r) for _, r in chosen]
    cursors = [encode(k) for k, _ in chosen]
    return {
        "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=True)],
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": more_after,
            "hasPreviousPage": more_before,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def everything(
    records: Sequence[Any], key: Callable[[Any], Key], node: Callable[[Any], dict]
) -> dict:
    """The whole connection at once (bulk operations ignore paging)."""
    nodes = [node(r) for r in sorted(records, key=key)]
    return {"edges": [{"cursor": "", "node": n} for n in nodes], "nodes": nodes, "pageInfo": {}}


def _cmp(key: Key, sign: int) -> tuple:
    value, ident = key
    if sign > 0:
        return (value, ident)
    return (_Neg(value), -ident)


class _Neg:
    """Reverses the order of any comparable value."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: _Neg) -> bool:
        return other.v < self.v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Neg) and other.v == self.v

    def __le__(self, other: _Neg) -> bool:
        return other.v <= self.v

    def __gt__(self, other: _Neg) -> bool:
        return other.v > self.v
