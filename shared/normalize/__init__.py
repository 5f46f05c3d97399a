"""The one entry point from platform payloads to canonical records.

``normalize(platform, resource, payload, *, account="", scope="")`` turns one API
response page or one report / bulk file, exactly as the platform returned it, into
canonical records (``shared.models``). It is pure: no I/O, no clock, no settings.

- ``payload`` is the parsed JSON page (``dict``) or text: a report (Amazon flat files), a
  bulk JSONL file (Shopify), or a JSON page read back as text (raw pages in Blob storage).
- ``account`` names the seller account (Amazon selling partner, Shopify shop, eBay user,
  Etsy shop, Quiltt profile) the page belongs to; most pages do not say, so the caller
  does. It is stamped on every record and is part of its storage key. ``""`` is allowed.
- ``scope`` is the identity of the request a page answers, for records that have no
  identity of their own. Only Amazon uses it: pass the ``eventGroupId`` of a
  listFinancialEventsByGroupId page. Amazon gives ServiceFee, LoanServicing and
  DebtRecovery events neither an id nor a date, so two months' identical subscription fees
  are byte-identical; the group id tells them apart (see the Amazon module). It is also
  the transactions' ``payout_id``. Etsy order items: the creation bounds of a windowed
  getShopReceiptTransactionsByShop page (its items outside them are left out; see the
  Etsy module). Other platforms ignore it.
- The result holds one record per thing in the page, in page order. Duplicates within a
  page (a platform listing the same object twice, two identical Amazon finance events)
  are returned as they come, with equal natural keys: de-duplication is the loader's
  upsert. An empty page gives ``[]``.
- An unknown (platform, resource) pair raises ``ConfigurationError`` naming the supported
  pairs. A malformed or unexpected payload raises ``MalformedPayloadError`` (a
  ``PermanentError``) naming platform, resource and the field's path; nothing is returned
  then, never a partial list.

``SUPPORTED`` is the registry table; per-platform contracts (inputs, natural keys, money
and time rules) are in each ``shared/platforms/<platform>/normalize.py`` docstring.

Results are memoized by the payload's exact content (``_memo``: a page verified in the
process that fetched it is not normalized twice); the memo never changes a result.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable
from decimal import DecimalException
from typing import Any

from pydantic import ValidationError

from shared.errors import ConfigurationError, MalformedPayloadError
from shared.models import Record
from shared.normalize._common import Context
from shared.normalize._memo import Memo

Normalizer = Callable[[Context, Any], list[Record]]

# (platform, resource) -> function of shared/platforms/<platform>/normalize.py. Resolved on
# use: the platform modules import _common from this package, so importing them here
# would be circular.
SUPPORTED: dict[tuple[str, str], str] = {
    ("amazon", "orders"): "orders",
    ("amazon", "order_items"): "order_items",
    ("amazon", "transactions"): "transactions",
    ("amazon", "payouts"): "payouts",
    ("amazon", "inventory"): "inventory",
    ("amazon", "returns"): "returns",
    ("shopify", "orders"): "orders",
    ("shopify", "order_items"): "order_items",
    ("shopify", "returns"): "returns",
    ("shopify", "transactions"): "transactions",
    ("shopify", "payouts"): "payouts",
    ("shopify", "inventory"): "inventory",
    ("ebay", "orders"): "orders",
    ("ebay", "order_items"): "order_items",
    ("ebay", "returns"): "returns",
    ("ebay", "transactions"): "transactions",
    ("ebay", "payouts"): "payouts",
    ("ebay", "inventory"): "inventory",
    ("etsy", "orders"): "orders",
    ("etsy", "order_items"): "order_items",
    ("etsy", "transactions"): "transactions",
    ("etsy", "payouts"): "payouts",
    ("etsy", "returns"): "returns",
    ("etsy", "inventory"): "inventory",
    ("quiltt", "bank_transactions"): "bank_transactions",
}


MEMO = Memo()


def handler(platform: str, resource: str) -> Normalizer:
    """The normalizer registered for (platform, resource); ConfigurationError if none."""
    name = SUPPORTED.get((platform, resource))
    if name is None:
        pairs = supported(platform) or supported()
        listing = ", ".join(f"{p}/{r}" for p, r in pairs)
        raise ConfigurationError(f"cannot normalize {platform}/{resource}; supported: {listing}")
    module = importlib.import_module(f"shared.platforms.{platform}.normalize")
    return getattr(module, name)


def supported(platform: str | None = None) -> list[tuple[str, str]]:
    """The supported (platform, resource) pairs, optionally of one platform."""
    return [pair for pair in SUPPORTED if platform in (None, pair[0])]


def normalize(
    platform: str,
    resource: str,
    payload: dict[str, Any] | str,
    *,
    account: str = "",
    scope: str = "",
) -> list[Record]:
    """Canonical records of one page / report / bulk file (see the module docstring).

    Raises ConfigurationError for an unsupported (platform, resource) and
    MalformedPayloadError for a payload that cannot be read in full."""
    function = handler(platform, resource)
    _check_names(account, scope)
    if not isinstance(payload, dict | str):
        kind = type(payload).__name__
        raise MalformedPayloadError(platform, resource, "$", f"expected dict or str, got {kind}")
    key, key_s = MEMO.key(function, platform, resource, account, scope, payload)
    if key is not None and (found := MEMO.take(key)) is not None:
        return found
    started = time.process_time()
    try:
        records = function(Context(platform, resource, account, scope), payload)
    except MalformedPayloadError:
        raise
    except (ValidationError, ValueError, TypeError, KeyError, DecimalException) as exc:
        # A shape no getter anticipated: still a typed, permanent error, never a crash.
        problem = f"unexpected payload: {type(exc).__name__}: {exc}"
        raise MalformedPayloadError(platform, resource, "$", problem) from exc
    if key_s:
        MEMO.cost(function, key_s, time.process_time() - started)
    if key is not None:
        MEMO.put(key, records)
    return records


def normalize_stored(
    platform: str,
    resource: str,
    text: str,
    *,
    json_page: bool,
    account: str = "",
    scope: str = "",
) -> list[Record]:
    """``normalize`` of a raw page as ``RawPageStore`` keeps it (``text``, decompressed):
    a JSON page (``json_page``: the compact JSON ``encode_page`` wrote for a dict payload)
    or a text payload (a report, a JSON Lines file). The same records as
    ``normalize(platform, resource, json.loads(text) if json_page else text, ...)``; a
    JSON page whose records the memo holds (this process fetched it) is not even decoded.
    Raises as ``normalize`` does; a JSON page that is not JSON is a MalformedPayloadError."""
    if json_page:
        function = handler(platform, resource)
        _check_names(account, scope)
        key = MEMO.json_text_key(function, platform, resource, account, scope, text)
        if key is not None and (found := MEMO.take(key)) is not None:
            return found
        try:
            payload: dict[str, Any] | str = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MalformedPayloadError(platform, resource, "$", f"not JSON: {exc.msg}") from exc
    else:
        payload = text
    return normalize(platform, resource, payload, account=account, scope=scope)


def _check_names(account: object, scope: object) -> None:
    for name, value in (("account", account), ("scope", scope)):
        if not isinstance(value, str):
            raise ConfigurationError(f"{name} must be a string, got {type(value).__name__}")


__all__ = ["SUPPORTED", "handler", "normalize", "normalize_stored", "supported"]
