"""Etsy's getShopReceipts narrowed by bisection over creation times answers exactly what
a scan of every visible receipt with the documented inclusive filters answers."""

from __future__ import annotations

from functools import cache
from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from sandbox.clock import ManualClock
from sandbox.etsy import api
from sandbox.etsy.app import Call
from sandbox.scenario import load
from sandbox.world import World

CLIENT = "c-tiny"


@cache
def _world() -> World:
    scenario = load("tiny")
    return World(scenario, clock=ManualClock(scenario.now), platforms=("etsy",))


def _call(now: float, **query: object) -> Call:
    scope = {"type": "http", "query_string": urlencode(query).encode(), "path_params": {}}
    sandbox = _world().platforms["etsy"]
    return Call(sandbox, CLIENT, now, Request(scope), ("test",))


def _scanned(now: float, bounds: dict[str, int], shipped: bool | None) -> list[int]:
    data = _world().platforms["etsy"].data(CLIENT)
    kept = []
    for receipt in data.history.receipts:
        modified = receipt.last_modified(now) if receipt.created <= now else None
        is_shipped = receipt.shipped is not None and receipt.shipped <= now
        if (
            receipt.created <= now
            and bounds.get("min_created", receipt.created) <= receipt.created
            and receipt.created <= bounds.get("max_created", receipt.created)
            and bounds.get("min_last_modified", modified) <= modified
            and modified <= bounds.get("max_last_modified", modified)
            and (shipped is None or shipped == is_shipped)
        ):
            kept.append(receipt)
    kept.sort(key=lambda r: (r.created, r.receipt_id), reverse=True)
    return [r.receipt_id for r in kept]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_receipts_filtered_by_creation_modification_and_shipping_as_a_scan_finds_them(
    data: st.DataObject,
) -> None:
    receipts = _world().platforms["etsy"].data(CLIENT).history.receipts
    created = [r.created for r in receipts]
    end = created[-1]
    now = data.draw(st.sampled_from([end, created[len(created) // 2], created[0] - 1]))
    moments = st.sampled_from(created) | st.integers(created[0] - 5, end + 5)
    bounds = {
        name: data.draw(moments)
        for name in ("min_created", "max_created", "min_last_modified", "max_last_modified")
        if data.draw(st.booleans())
    }
    bounds = {k: max(v, api.EARLIEST) for k, v in bounds.items()}
    shipped = data.draw(st.none() | st.booleans())
    query = {**bounds, "limit": 100}
    if shipped is not None:
        query["was_shipped"] = "true" if shipped else "false"
    served, offset = [], 0
    while True:
        status, body = api.get_receipts(_call(now, **query, offset=offset))
        assert status == 200
        served += [r["receipt_id"] for r in body["results"]]
        offset += 100
        if offset >= body["count"]:
            break
    assert served == _scanned(now, bounds, shipped)
