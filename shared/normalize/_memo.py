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

Keying a dict costs its compact JSON and a digest. The JSON is not extra: the page is
stored as that very text (below), so a dict page is keyed whatever its normalizer costs.
(The memo used to time each normalizer's first pages and key only the costly ones:
Amazon's finance pages fell out in the reference bench and were normalized twice.)
``cost`` still notes per normalizer what its dict pages cost to key and to normalize,
for the bench's report; it decides nothing. Text payloads (reports, JSON Lines) are
hashed as they are.

The compact JSON of the last ``RECENT_TEXTS`` dict pages keyed is kept, by object, for
the write that follows (``text_of``: ``encode_page`` stores a fetched page as that very
text), so a fetched page is encoded once, not once for its key and again for its blob.

Bounds: at most ``MAX_RECORDS`` records are held, oldest first out; an entry is dropped
when it is read (a page is usually verified once; a second check normalizes again, with
the same result). In a Functions worker where fetch and verify run in different
processes the memo only misses: it never changes what ``normalize`` returns.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from shared import jsontext
from shared.models import Record

MAX_RECORDS = 60_000
RECENT_TEXTS = 8  # dict pages whose compact JSON is kept for the write that follows

Key = tuple[Callable[..., Any], str, str, str, str, str, bytes]


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


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
        found = compact_json(payload)
        if found is None:
            return None
        kind, text = "d", found
    return (function, platform, resource, account, scope, kind, _digest(text))


def compact_json(payload: Any) -> str | None:
    """``payload``'s compact JSON (the text ``RawPageStore`` stores for a dict), or None
    when JSON cannot hold it (a Decimal, a datetime …)."""
    try:
        return jsontext.dumps(payload)
    except (TypeError, ValueError):
        return None


class Memo:
    """Records per key, at most ``max_records`` of them in all (oldest dropped first)."""

    def __init__(self, max_records: int = MAX_RECORDS) -> None:
        self.max_records = max_records
        self._entries: OrderedDict[Key, tuple[Record, ...]] = OrderedDict()
        self._held = 0
        self._paused = 0
        self._costs: dict[Callable[..., Any], list[float]] = {}  # n, key s, normalize s
        self.hits = 0
        self.misses = 0
        self._texts: dict[int, tuple[Any, str]] = {}  # id -> (dict payload, compact JSON)

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

    def key(
        self,
        function: Callable[..., Any],
        platform: str,
        resource: str,
        account: str,
        scope: str,
        payload: Any,
    ) -> tuple[Key | None, float]:
        """``(key, seconds spent keying a dict payload)``; no key while paused, or for a
        dict JSON cannot encode."""
        if self._paused:
            return None, 0.0
        started = time.process_time()
        if isinstance(payload, str):
            return key_of(function, platform, resource, account, scope, payload), 0.0
        text = compact_json(payload)
        if text is None:
            return None, time.process_time() - started
        self._texts[id(payload)] = (payload, text)
        while len(self._texts) > RECENT_TEXTS:
            del self._texts[next(iter(self._texts))]
        key = (function, platform, resource, account, scope, "d", _digest(text))
        return key, time.process_time() - started

    def text_of(self, payload: Any) -> str | None:
        """The compact JSON ``key`` computed for this very dict object (not an equal one)
        among the last ``RECENT_TEXTS`` it keyed, and forget it; else None. A fetched
        page is keyed when it is normalized and then stored (``encode_page``): one
        encoding serves both. The object is held meanwhile, so its id cannot be reused;
        the text is that of the page when it was keyed (normalizers never change their
        payload)."""
        found = self._texts.pop(id(payload), None)
        return found[1] if found is not None and found[0] is payload else None

    def json_text_key(
        self,
        function: Callable[..., Any],
        platform: str,
        resource: str,
        account: str,
        scope: str,
        text: str,
    ) -> Key | None:
        """The key of the dict whose compact JSON is ``text`` (see the module docstring),
        without decoding it; None while paused."""
        if self._paused:
            return None
        return (function, platform, resource, account, scope, "d", _digest(text))

    def cost(self, function: Callable[..., Any], key_s: float, normalize_s: float) -> None:
        """Note what a dict page of ``function`` cost to key and to normalize (reported
        by ``costs``; it decides nothing)."""
        n, k, t = self._costs.get(function, (0, 0.0, 0.0))
        self._costs[function] = [n + 1, k + key_s, t + normalize_s]

    def costs(self) -> dict[str, dict[str, float]]:
        """Per normalizer of dict pages: pages timed, and normalizing over keying time."""
        return {
            f"{fn.__module__.rsplit('.', 2)[-2]}.{fn.__name__}": {
                "pages": n,
                "normalize_over_key": round(t / k, 2) if k else 0.0,
            }
            for fn, (n, k, t) in self._costs.items()
        }

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
