"""A bounded memo of ``normalize`` results, keyed by the exact content of the payload.

Why: a block's pages are normalized when they are fetched and again when the block is
verified (the check reads the raw pages back from Blob storage, the audit trail, and
normalizes what it finds). In one process the second pass meets the very same content
the first one normalized moments before: a third of all normalizing in a bench run.

Contract: ``normalize`` is pure (no I/O, clock or settings), so its records are a
function of (platform, resource, account, scope, payload). The key holds the normalizer
itself, those four and a 128-bit BLAKE2b digest of the payload's text: a ``str`` payload
as given, a ``dict`` as its compact JSON (``json.dumps`` with ``ensure_ascii=False`` and no
whitespace: the text ``RawPageStore`` stores, so a page read back and decoded gives the
same key), with a flag telling the two kinds apart (a text payload may be a report or a
JSON Lines file). Content that differs in any byte, or a dict JSON cannot encode, misses
and is normalized afresh. Records are frozen models; a hit returns a new list of the
same records. Only successful results are kept; errors are raised again every time.

Bounds: at most ``MAX_RECORDS`` records are held, oldest first out; an entry is dropped
when it is read (a page is usually verified once; a second check normalizes again, with
the same result). In a Functions worker where fetch and verify run in different
processes the memo only misses: it never changes what ``normalize`` returns.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from shared.models import Record

MAX_RECORDS = 60_000

Key = tuple[Callable[..., Any], str, str, str, str, str, bytes]


def key_of(
    function: Callable[..., Any],
    platform: str,
    resource: str,
    account: str,
    scope: str,
    payload: Any,
) -> Key | None:
    """The memo key of one call of ``function`` (the registered normalizer: a swapped
    one never meets another's results), or None when the payload has no canonical text."""
    if isinstance(payload, str):
        kind, text = "s", payload
    else:
        try:
            text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError):  # not plain JSON (Decimal, NaN …): no memo
            return None
        kind = "d"
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return (function, platform, resource, account, scope, kind, digest)


class Memo:
    """Records per key, at most ``max_records`` of them in all (oldest dropped first)."""

    def __init__(self, max_records: int = MAX_RECORDS) -> None:
        self.max_records = max_records
        self._entries: OrderedDict[Key, tuple[Record, ...]] = OrderedDict()
        self._held = 0
        self._paused = 0
        self.hits = 0
        self.misses = 0

    @property
    def active(self) -> bool:
        return self._paused == 0

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Inside, ``normalize`` neither reads nor fills the memo (payloads that never
        come back, such as a bench's ground truth: no digest is worth computing)."""
        self._paused += 1
        try:
            yield
        finally:
            self._paused -= 1

    def __len__(self) -> int:
        return len(self._entries)

    def take(self, key: Key) -> list[Record] | None:
        """The records stored under ``key`` (and forget them), or None."""
        found = self._entries.pop(key, None)
        if found is None:
            self.misses += 1
            return None
        self._held -= len(found)
        self.hits += 1
        return list(found)

    def put(self, key: Key, records: list[Record]) -> None:
        if len(records) > self.max_records:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._held -= len(old)
        self._entries[key] = tuple(records)
        self._held += len(records)
        while self._held > self.max_records:
            _, dropped = self._entries.popitem(last=False)
            self._held -= len(dropped)

    def clear(self) -> None:
        self._entries.clear()
        self._held = 0
