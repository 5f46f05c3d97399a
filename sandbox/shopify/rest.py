"""REST Admin ``GET /admin/api/{version}/orders.json`` (S-ORD, S-PAG).

Parameters: ``status`` (``open`` default, ``closed``, ``cancelled``, ``any``),
``created_at_min/max``, ``updated_at_min/max``, ``processed_at_min/max`` (ISO 8601; a
value without an offset is shop-local; min and max are both inclusive, as Shopify
documents "at or after" / "at or before"), ``financial_status``, ``fulfillment_status``
(``shipped``/``unshipped``/``any``), ``ids`` (comma-separated), ``since_id``, ``limit``
(1-250, default 50), ``fields`` (comma-separated keys to keep), ``order``
(``created_at|updated_at|processed_at|id`` + `` asc|desc``, default ``created_at desc``)
and ``page_info``.

Paging is by ``Link`` header: ``<…orders.json?limit=N&page_info=…>; rel="next"`` (and
``rel="previous"`` past the first page); no ``Link`` when everything fit on one page.
``page_info`` is opaque (base64 JSON of the original filters and the last record's sort
key): a request carrying it may only add ``limit`` and ``fields``; any other parameter
answers 400 ``{"errors": {"<param>": "<param> cannot be passed when page_info is
present."}}``. Bad values answer 400 ``{"errors": {"<param>": "…"}}``.

Faults, keyed by the request: ``duplicate`` (the previous page's last order repeated at
the top), ``short_page`` (a quarter of the page missing, the next link continuing after
the last order shown), ``lost_next_token`` (no ``rel="next"`` although more follow).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sandbox.shopify import views
from sandbox.shopify.data import Order

if TYPE_CHECKING:
    from starlette.datastructures import URL, QueryParams

    from sandbox.shopify.facade import ClientData

FILTERS = (
    "status",
    "created_at_min",
    "created_at_max",
    "updated_at_min",
    "updated_at_max",
    "processed_at_min",
    "processed_at_max",
    "financial_status",
    "fulfillment_status",
    "ids",
    "since_id",
    "order",
)
PAGING_ALLOWED = {"limit", "fields", "page_info"}
Reply = tuple[int, Any, dict[str, str]]


class BadParam(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name, self.message = name, message


def _time(name: str, value: str) -> float:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadParam(name, "Invalid value.") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=views.SHOP_ZONE)
    return moment.timestamp()


def _sort(order_param: str, now: float) -> tuple[Callable[[Order], tuple[Any, int]], bool]:
    field, _, direction = order_param.strip().partition(" ")
    getters = {
        "created_at": lambda o: (o.created, o.order_id),
        "processed_at": lambda o: (o.created, o.order_id),
        "updated_at": lambda o: (o.updated_at(now), o.order_id),
        "id": lambda o: (o.order_id, o.order_id),
    }
    if field not in getters or direction.strip().lower() not in ("", "asc", "desc"):
        raise BadParam("order", "Invalid value.")
    return getters[field], direction.strip().lower() != "asc"


def _keep(order: Order, f: dict[str, str], now: float) -> bool:
    status = f.get("status", "open")
    closed = order.closed is not None and order.closed <= now
    cancelled = order.cancelled is not None and order.cancelled <= now
    if status == "open" and (closed or cancelled):
        return False
    if status == "closed" and not closed:
        return False
    if status == "cancelled" and not cancelled:
        return False
    for name, value in (
        ("created_at", order.created),
        ("processed_at", order.created),
        ("updated_at", order.updated_at(now)),
    ):
        if f.get(f"{name}_min") and value < _time(f"{name}_min", f[f"{name}_min"]):
            return False
        if f.get(f"{name}_max") and value > _time(f"{name}_max", f[f"{name}_max"]):
            return False
    wanted = f.get("financial_status")
    if wanted not in (None, "", "any") and views.financial_status(order, now).lower() != wanted:
        return False
    shipped = f.get("fulfillment_status")
    if shipped == "shipped" and not views.fulfilled(order, now):
        return False
    if shipped == "unshipped" and views.fulfilled(order, now):
        return False
    if f.get("ids") and str(order.order_id) not in f["ids"].split(","):
        return False
    return not (f.get("since_id") and order.order_id <= int(f["since_id"]))


def _validate(f: dict[str, str]) -> None:
    if f.get("status", "open") not in ("open", "closed", "cancelled", "any"):
        raise BadParam("status", "Invalid value.")
    for name in FILTERS:
        if name.endswith(("_min", "_max")) and f.get(name):
            _time(name, f[name])
    if f.get("since_id") and not f["since_id"].isdigit():
        raise BadParam("since_id", "Invalid value.")
    if f.get("fulfillment_status") not in (None, "", "any", "shipped", "unshipped", "partial"):
        raise BadParam("fulfillment_status", "Invalid value.")


def _encode(state: dict[str, Any]) -> str:
    return (
        base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode())
        .decode()
        .rstrip("=")
    )


def _decode(text: str) -> dict[str, Any]:
    try:
        state = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        assert isinstance(state, dict) and isinstance(state["filters"], dict)
        assert state["direction"] in ("next", "prev")
        return state
    except (
        binascii.Error,
        ValueError,
        KeyError,
        TypeError,
        AssertionError,
        UnicodeDecodeError,
    ) as exc:
        raise BadParam("page_info", "Invalid value.") from exc


def orders(
    data: ClientData, now: float, query: QueryParams, url: URL, roll: Callable[[str], bool]
) -> Reply:
    try:
        return _orders(data, now, query, url, roll)
    except BadParam as exc:
        return 400, {"errors": {exc.name: exc.message}}, {}


def _orders(
    data: ClientData, now: float, query: QueryParams, url: URL, roll: Callable[[str], bool]
) -> Reply:
    raw_limit = query.get("limit", "50")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 250:
        raise BadParam("limit", "Invalid value.")
    limit = int(raw_limit)
    state: dict[str, Any] | None = None
    if "page_info" in query:
        for name in query:
            if name not in PAGING_ALLOWED:
                raise BadParam(name, f"{name} cannot be passed when page_info is present.")
        state = _decode(query["page_info"])
        filters = {k: str(v) for k, v in state["filters"].items() if k in FILTERS}
    else:
        filters = {k: query[k] for k in FILTERS if k in query}
    _validate(filters)
    key, descending = _sort(filters.get("order", "created_at desc"), now)
    chosen = sorted(
        (o for o in data.orders_at(now) if _keep(o, filters, now)), key=key, reverse=descending
    )
    keys = [list(key(o)) for o in chosen]
    start, end = 0, len(chosen)
    if state is not None:
        mark = list(state["last"])
        after = [i for i, k in enumerate(keys) if (k < mark if descending else k > mark)]
        before = [i for i, k in enumerate(keys) if (k > mark if descending else k < mark)]
        if state["direction"] == "next":
            start = after[0] if after else len(chosen)
        else:
            end = before[-1] + 1 if before else 0
            start = max(0, end - limit)
    end = min(end, start + limit) if state is None or state["direction"] == "next" else end
    shown = chosen[start:end]
    more = end < len(chosen)
    if start > 0 and len(shown) > 1 and roll("duplicate"):
        shown = [chosen[start - 1], *shown[:-1]]
        end -= 1
    if len(shown) > 1 and more and roll("short_page"):
        shown = shown[: max(1, len(shown) * 3 // 4)]
        end = start + len(shown)
    if more and roll("lost_next_token"):
        more = False
    body = [views.rest_order(o, now) for o in shown]
    fields = [f for f in query.get("fields", "").split(",") if f]
    if fields:
        body = [{k: v for k, v in o.items() if k in fields} for o in body]
    links = []
    page_keys = [list(key(o)) for o in shown]
    extra = {"limit": str(limit)} | ({"fields": query["fields"]} if fields else {})
    if start > 0 and page_keys:
        prev = _encode({"filters": filters, "last": page_keys[0], "direction": "prev"})
        links.append(
            f'<{url.replace(query=urlencode({**extra, "page_info": prev}))}>; rel="previous"'
        )
    if more and page_keys:
        nxt = _encode({"filters": filters, "last": page_keys[-1], "direction": "next"})
        links.append(f'<{url.replace(query=urlencode({**extra, "page_info": nxt}))}>; rel="next"')
    headers = {"Link": ", ".join(links)} if links else {}
    return 200, {"orders": body}, headers
