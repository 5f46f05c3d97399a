"""Finances API v0: event groups (payouts) and financial events.

Date rules (financesV0 spec): PostedAfter / FinancialEventGroupStartedAfter must be more
than 2 minutes before now; PostedBefore / ...StartedBefore must be later than the After
and more than 2 minutes before now; PostedBefore needs PostedAfter and defaults to now - 2
min. Violations answer 400 InvalidInput. After is inclusive, Before exclusive. When After
and Before are more than 180 days apart the answer is an empty page, not an error; for
groups this applies when both are given (an omitted StartedBefore means "up to now").
Without PostedAfter the window is the 180 days before PostedBefore (a sandbox choice; the
spec does not say). listFinancialEventsByGroupId shows nothing for a group that started more
than two years ago. Pages: MaxResultsPerPage 1-100, default 10 for groups and 100 for
events. The ``empty_finance_page`` fault serves a page with no records whose NextToken
resumes where the page should have started.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sandbox.amazon import paging
from sandbox.amazon.errors import invalid, not_found

if TYPE_CHECKING:
    from sandbox.amazon.app import Call, Reply
    from sandbox.amazon.finance import FinancialEvent

TWO_MINUTES = 120
WINDOW = 180 * 86_400  # seconds
TWO_YEARS = 730 * 86_400
EVENT_LISTS = (
    "ShipmentEventList",
    "ShipmentSettleEventList",
    "RefundEventList",
    "GuaranteeClaimEventList",
    "ChargebackEventList",
    "PayWithAmazonEventList",
    "ServiceProviderCreditEventList",
    "RetrochargeEventList",
    "RentalTransactionEventList",
    "ProductAdsPaymentEventList",
    "ServiceFeeEventList",
    "SellerDealPaymentEventList",
    "DebtRecoveryEventList",
    "LoanServicingEventList",
    "AdjustmentEventList",
    "SAFETReimbursementEventList",
    "SellerReviewEnrollmentPaymentEventList",
    "FBALiquidationEventList",
    "CouponPaymentEventList",
    "ImagingServicesFeeEventList",
    "NetworkComminglingTransactionEventList",
    "AffordabilityExpenseEventList",
    "AffordabilityExpenseReversalEventList",
    "RemovalShipmentEventList",
    "RemovalShipmentAdjustmentEventList",
    "TrialShipmentEventList",
)


def _window(call: Call, *, groups: bool = False, fill_after: bool = False) -> dict[str, Any]:
    """Resolved [after, before) under the spec's rules; ``empty`` marks the 180-day case.

    Events: Before needs After; an explicit After more than 180 days before the (explicit or
    defaulted) Before gives an empty page. Groups: only both given and too far apart do."""
    prefix = "FinancialEventGroupStarted" if groups else "Posted"
    after_name, before_name = f"{prefix}After", f"{prefix}Before"
    after, before = call.date(after_name), call.date(before_name)
    latest = call.now - TWO_MINUTES
    if after is not None and after > latest:
        raise invalid(f"{after_name} must be more than two minutes before the time of request.")
    if before is not None:
        if after is None and not groups:
            raise invalid(f"{before_name} requires {after_name}.")
        if before > latest:
            raise invalid(
                f"{before_name} must be more than two minutes before the time of request."
            )
        if after is not None and before <= after:
            raise invalid(f"{before_name} must be later than {after_name}.")
    explicit_after, explicit_before = after is not None, before is not None
    before = latest if before is None else before
    if after is None:
        after = before - WINDOW if fill_after else 0.0
    wide = before - after > WINDOW and explicit_after
    return {"after": after, "before": before, "empty": wide and (explicit_before or not groups)}


def _events_payload(events: Sequence[FinancialEvent]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in EVENT_LISTS}
    for event in events:
        out[event.list_name].append(event.payload)
    return out


def _event_page(call: Call, operation: str, select, extra: dict[str, Any]) -> Reply:
    token = call.param("NextToken")
    if token:
        state = paging.decode(operation, token)
        q, cursor = state["q"], state["cursor"]
        if state.get("extra") != extra:
            raise invalid("Invalid NextToken: it was issued for other arguments.")
    else:
        q = _window(call, fill_after=operation == "listFinancialEvents")
        q["size"] = call.integer("MaxResultsPerPage", 100, 1, 100)
        cursor = None
    events = [] if q["empty"] else select(q)
    chunk, following = _maybe_empty(call, events, lambda e: (e.posted, e.seq), q["size"], cursor)
    payload: dict[str, Any] = {}
    if following is not None:
        payload["NextToken"] = paging.encode(
            operation, {"q": q, "cursor": following, "extra": extra}
        )
    payload["FinancialEvents"] = _events_payload(chunk)
    return 200, {"payload": payload}


def _maybe_empty(call: Call, rows, key, size: int, cursor):
    """A page of ``rows``, or (fault) an empty page whose token resumes at the same place."""
    start = bisect.bisect_right([key(r) for r in rows], tuple(cursor)) if cursor else 0
    if start < len(rows) and call.roll("empty_finance_page"):
        return [], cursor if cursor is not None else []
    return paging.page(call, rows, key, size, cursor)


def _in_window(q: dict[str, Any], now: float):
    def keep(event: FinancialEvent) -> bool:
        return q["after"] <= event.posted < q["before"] and event.posted <= now

    return keep


def list_events(call: Call) -> Reply:
    ledger = call.data.ledger
    return _event_page(
        call,
        "listFinancialEvents",
        lambda q: [e for e in ledger.events if _in_window(q, call.now)(e)],
        {},
    )


def list_by_group(call: Call) -> Reply:
    group_id = call.path["eventGroupId"]
    group = next((g for g in call.data.ledger.groups if g.group_id == group_id), None)
    if group is None or group.start > call.now:
        raise not_found(f"Invalid FinancialEventGroupId: {group_id}.")
    if group.start < call.now - TWO_YEARS:
        return 200, {"payload": {"FinancialEvents": _events_payload([])}}
    return _event_page(
        call,
        "listFinancialEventsByGroupId",
        lambda q: [e for e in group.events if _in_window(q, call.now)(e)],
        {"group": group_id},
    )


def list_by_order(call: Call) -> Reply:
    order_id = call.path["orderId"]
    events = call.data.ledger.by_order.get(order_id, [])
    return _event_page(
        call,
        "listFinancialEventsByOrderId",
        lambda q: [e for e in events if _in_window(q, call.now)(e)],
        {"order": order_id},
    )


def list_groups(call: Call) -> Reply:
    token = call.param("NextToken")
    if token:
        state = paging.decode("listFinancialEventGroups", token)
        q, cursor = state["q"], state["cursor"]
    else:
        q = _window(call, groups=True)
        q["size"] = call.integer("MaxResultsPerPage", 10, 1, 100)
        cursor = None
    groups = (
        []
        if q["empty"]
        else [g for g in call.data.ledger.groups if q["after"] <= g.start < q["before"]]
    )
    chunk, following = _maybe_empty(
        call, groups, lambda g: (g.start, g.group_id), q["size"], cursor
    )
    payload: dict[str, Any] = {}
    if following is not None:
        payload["NextToken"] = paging.encode(
            "listFinancialEventGroups", {"q": q, "cursor": following}
        )
    payload["FinancialEventGroupList"] = [g.payload(call.now) for g in chunk]
    return 200, {"payload": payload}
