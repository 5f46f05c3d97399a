"""Finances API v1: getTransactions, getPayouts, getPayout.

getTransactions (``GET /sell/finances/v1/transaction``), newest first (transactionDate
descending, then transactionId descending):

    filter   transactionDate:[start..end?] (an omitted end means start + 90 days, or now
             if sooner), transactionType:{SALE|REFUND|CREDIT|DISPUTE|NON_SALE_CHARGE|
             SHIPPING_LABEL|TRANSFER}, transactionStatus:{PAYOUT|FUNDS_PROCESSING|
             FUNDS_AVAILABLE_FOR_PAYOUT|FUNDS_ON_HOLD|COMPLETED|FAILED}, payoutId:{…},
             orderId:{…}, transactionId:{…} (needs transactionType, else 135009);
             criteria may be comma-separated or in repeated ``filter`` parameters; other
             names are ignored. Without a date or id criterion: the last 90 days.
    limit    1..1000 (``transactions_max_limit``), default 20; offset >= 0; else 135003.
             With a payoutId, orderId or transactionId criterion limit is ignored and
             every match is returned.
    No match -> 204 No Content. Bad date 135008, type 135006, status 135007.

getPayouts (``GET /sell/finances/v1/payout``), oldest first unless ``sort=payoutDate``
(then newest first, as the method's documentation describes; any other sort 135005):

    filter   payoutDate:[start..end?] (135004 when bad), payoutStatus:{one status}
             (135002); without a date criterion: the last 90 days
    limit    1..200, default 20; offset >= 0; else 135003. No match -> 204 No Content.

getPayout (``/payout/{payout_Id}``): the payout, or 404 errorId 135001.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

from sandbox.ebay.data import DAY
from sandbox.ebay.errors import EbayError, finances
from sandbox.ebay.filters import Choice, FilterSyntax, Range, parse
from sandbox.ebay.formats import BadDate, parse_iso
from sandbox.ebay.paging import integer, links, page
from sandbox.ebay.views import payout_payload, transaction_payload

if TYPE_CHECKING:
    from sandbox.ebay.app import Call, Reply
    from sandbox.ebay.finance import Payout, Txn

TYPES = ("SALE", "REFUND", "CREDIT", "DISPUTE", "NON_SALE_CHARGE", "SHIPPING_LABEL", "TRANSFER")
STATUSES = (
    "PAYOUT",
    "FUNDS_PROCESSING",
    "FUNDS_AVAILABLE_FOR_PAYOUT",
    "FUNDS_ON_HOLD",
    "COMPLETED",
    "FAILED",
)
PAYOUT_STATUSES = ("INITIATED", "SUCCEEDED", "RETRYABLE_FAILED", "TERMINAL_FAILED", "REVERSED")
_ID_FILTERS = ("payoutId", "orderId", "transactionId")


def _criteria(call: Call, error_id: int, what: str) -> dict[str, Range | Choice]:
    try:
        return parse(call.query.getlist("filter"))
    except FilterSyntax as exc:
        raise finances(
            error_id, f"The value of {what} filter is invalid.", ("filter", exc.name)
        ) from exc


def _range(call: Call, value: Range | Choice, error: EbayError) -> tuple[float, float]:
    if not isinstance(value, Range) or value.start is None:
        raise error
    try:
        start = parse_iso(value.start)
        end = parse_iso(value.end) if value.end else min(start + 90 * DAY, call.now)
    except BadDate as exc:
        raise error from exc
    if start > end:
        raise error
    return start, end


def _one_of(value: Range | Choice, allowed: tuple[str, ...], error: EbayError) -> str:
    if not isinstance(value, Choice) or len(value.values) != 1 or value.values[0] not in allowed:
        raise error
    return value.values[0]


def _ids(value: Range | Choice) -> set[str]:
    return set(value.values) if isinstance(value, Choice) else set()


def _pagination(call: Call, default: int, high: int) -> tuple[int, int]:
    def bad(_v: str) -> EbayError:
        return finances(135003, "The value of pagination is invalid.")

    limit = integer(call.query.get("limit"), default, 1, high, bad)
    offset = integer(call.query.get("offset"), 0, 0, 10**9, bad)
    return limit, offset


def _visible_txns(call: Call, start: float, end: float) -> list[Txn]:
    ledger, dates = call.data.ledger, call.data.txn_dates
    lo = bisect.bisect_left(dates, start)
    hi = bisect.bisect_right(dates, min(end, call.now))
    return ledger.transactions[lo:hi]


def _select_txns(call: Call, criteria: dict[str, Range | Choice]) -> list[Txn]:
    bad_date = finances(135008, "The value of transaction date filter is invalid.")
    if "transactionDate" in criteria:
        start, end = _range(call, criteria["transactionDate"], bad_date)
    elif any(name in criteria for name in _ID_FILTERS):
        start, end = float("-inf"), call.now
    else:
        start, end = call.now - call.sandbox.policy.default_window_days * DAY, call.now
    txns = _visible_txns(call, start, end)
    kind = None
    if "transactionType" in criteria:
        bad = finances(135006, "The value of transaction type filter is invalid.")
        kind = _one_of(criteria["transactionType"], TYPES, bad)
        txns = [t for t in txns if t.kind == kind]
    if "transactionStatus" in criteria:
        bad = finances(135007, "The value of transaction status filter is invalid.")
        status = _one_of(criteria["transactionStatus"], STATUSES, bad)
        txns = [t for t in txns if t.status(call.now) == status]
    if "transactionId" in criteria:
        if kind is None:
            raise finances(135009, "Transaction type filter is missing.")
        wanted = _ids(criteria["transactionId"])
        txns = [t for t in txns if t.transaction_id in wanted]
    if "orderId" in criteria:
        wanted = _ids(criteria["orderId"])
        txns = [t for t in txns if t.order is not None and t.order.order_id in wanted]
    if "payoutId" in criteria:
        wanted = _ids(criteria["payoutId"])
        txns = [
            t
            for t in txns
            if t.payout is not None and t.payout.date <= call.now and t.payout.payout_id in wanted
        ]
    return sorted(txns, key=lambda t: (t.date, t.transaction_id), reverse=True)


def get_transactions(call: Call) -> Reply:
    criteria = _criteria(call, 135008, "transaction date")
    max_limit = call.sandbox.policy.transactions_max_limit
    limit, offset = _pagination(call, 20, max_limit)
    txns = _select_txns(call, criteria)
    if not txns:
        return 204, None
    if any(name in criteria for name in _ID_FILTERS):
        limit, offset = max(len(txns), 1), 0
    chosen = page(call, txns, offset, limit)
    body: dict[str, Any] = links(call, offset, limit, len(txns), chosen.lost_next)
    body["transactions"] = [transaction_payload(t, call.now) for t in chosen.records]
    return 200, body


def _visible_payouts(call: Call) -> list[Payout]:
    payouts = call.data.ledger.payouts
    return payouts[: bisect.bisect_right(call.data.payout_dates, call.now)]


def get_payouts(call: Call) -> Reply:
    criteria = _criteria(call, 135004, "payout date")
    limit, offset = _pagination(call, 20, call.sandbox.policy.payouts_max_limit)
    sort = call.query.get("sort")
    if sort not in (None, "", "payoutDate"):
        raise finances(135005, "The value of sorting is invalid.", ("sort", sort))
    if "payoutDate" in criteria:
        bad = finances(135004, "The value of payout date filter is invalid.")
        start, end = _range(call, criteria["payoutDate"], bad)
    else:
        start, end = call.now - call.sandbox.policy.default_window_days * DAY, call.now
    payouts = [p for p in _visible_payouts(call) if start <= p.date <= end]
    if "payoutStatus" in criteria:
        bad = finances(135002, "The value of payout status filter is invalid.")
        status = _one_of(criteria["payoutStatus"], PAYOUT_STATUSES, bad)
        payouts = [p for p in payouts if p.status(call.now) == status]
    if sort == "payoutDate":
        payouts = payouts[::-1]
    if not payouts:
        return 204, None
    chosen = page(call, payouts, offset, limit)
    body: dict[str, Any] = links(call, offset, limit, len(payouts), chosen.lost_next)
    body["payouts"] = [payout_payload(p, call.now) for p in chosen.records]
    return 200, body


def get_payout(call: Call) -> Reply:
    payout_id = call.request.path_params["payout_Id"]
    for payout in _visible_payouts(call):
        if payout.payout_id == payout_id:
            return 200, payout_payload(payout, call.now)
    raise EbayError(404, 135001, "API_FINANCES", "REQUEST", "The payout id was not found.")
