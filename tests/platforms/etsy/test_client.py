"""EtsyConnector's edges: malformed answers raise typed errors, network faults are
transient, and the platform registry builds it from the app's settings."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from shared.errors import ConfigurationError, MalformedPayloadError
from shared.platforms import registry
from shared.platforms.base import Outcome, Window
from shared.platforms.etsy.auth import TokenCache
from shared.platforms.etsy.client import EtsyConnector, build
from shared.settings import Settings
from tests.platforms.etsy import support

CREDS = {"keystring": "k", "shared_secret": "s", "refresh_token": "1.r", "shop_id": "42"}
TOKEN = {
    "access_token": "1.abc",
    "token_type": "Bearer",
    "expires_in": 3600,
    "refresh_token": "1.n",
}


def mocked(answer) -> EtsyConnector:
    """A connector on httpx.MockTransport: the token endpoint works, the API answers
    ``answer(request)``."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(200, json=TOKEN)
        return answer(request)

    return build(
        support.settings(), CREDS, "a", transport=httpx.MockTransport(handler), cache=TokenCache()
    )


@pytest.mark.parametrize(
    ("resource", "body", "field"),
    [
        ("orders", [], "$"),
        ("orders", {"results": []}, "count"),
        ("orders", {"count": "3", "results": []}, "count"),
        ("orders", {"count": True, "results": []}, "count"),
        ("orders", {"count": 1, "results": {"receipt_id": 1}}, "results"),
        ("orders", {"count": 1, "results": [1]}, "results"),
        ("transactions", {"count": 1}, "results"),
    ],
)
async def test_malformed_pages_raise_typed_errors(resource, body, field) -> None:
    conn = mocked(lambda _r: httpx.Response(200, json=body))
    span = Window(start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 1, 2, tzinfo=UTC))
    try:
        with pytest.raises(MalformedPayloadError) as caught:
            await conn.fetch(conn.first_request(resource, span))
    finally:
        await conn.aclose()
    assert (caught.value.platform, caught.value.resource, caught.value.field) == (
        "etsy",
        resource,
        field,
    )


async def test_inventory_page_without_products_is_malformed() -> None:
    conn = mocked(lambda _r: httpx.Response(200, json={"products": None}))
    item = conn.first_request("inventory", None).model_copy(
        update={"step": "page", "path": "/v3/application/listings/1/inventory", "params": {}}
    )
    try:
        with pytest.raises(MalformedPayloadError, match="products"):
            await conn.fetch(item)
    finally:
        await conn.aclose()


async def test_non_json_ok_answer_is_malformed() -> None:
    conn = mocked(lambda _r: httpx.Response(200, text="<html>maintenance</html>"))
    try:
        with pytest.raises(MalformedPayloadError):
            await conn.fetch(conn.first_request("orders", None))
    finally:
        await conn.aclose()


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ReadTimeout])
async def test_network_faults_are_transient(error) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error("boom", request=request)

    conn = mocked(fail)
    request = conn.first_request("orders", None)
    try:
        result = await conn.fetch(request)
    finally:
        await conn.aclose()
    assert result.classified.outcome is Outcome.TRANSIENT and result.classified.status == 0
    assert result.next is None and result.payload is None and result.request == request


async def test_foreign_requests_are_refused() -> None:
    conn = mocked(lambda _r: httpx.Response(200, json={}))
    request = conn.first_request("orders", None).model_copy(update={"platform": "ebay"})
    try:
        with pytest.raises(ConfigurationError):
            await conn.fetch(request)
    finally:
        await conn.aclose()


async def test_registry_builds_the_connector_from_settings() -> None:
    world = support.world()
    settings = Settings(etsy=support.settings())
    creds = world.platforms["etsy"].credentials(support.CLIENT)
    conn = registry.build(
        "etsy",
        settings,
        creds,
        support.ACCOUNT,
        transport=world.transport(),
        clock=lambda: datetime.fromtimestamp(world.clock.now(), UTC),
    )
    assert isinstance(conn, EtsyConnector) and conn.shop_id == creds["shop_id"]
    try:
        result = await conn.fetch(conn.first_request("inventory", None))
    finally:
        await conn.aclose()
    assert result.classified.outcome is Outcome.OK and result.payload["count"] > 0


async def test_a_windowed_bulk_page_out_of_order_is_malformed() -> None:
    rising = {"count": 2, "results": [{"create_timestamp": 1_767_300_000 + n} for n in (0, 5)]}
    conn = mocked(lambda _r: httpx.Response(200, json=rising))
    span = Window(start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 1, 2, tzinfo=UTC))
    try:
        with pytest.raises(MalformedPayloadError, match="not newest first") as caught:
            await conn.fetch(conn.first_request("order_items", span, bulk=True))
        whole = await conn.fetch(conn.first_request("order_items", None, bulk=True))
    finally:
        await conn.aclose()
    assert caught.value.field == "results"
    assert whole.classified.outcome is Outcome.OK and whole.payload == rising


async def test_a_payment_lacking_a_listed_refund_is_retried_not_stored() -> None:
    adjustments = {"n": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/receipts"):
            refunds = [{"created_timestamp": 1_700_000_000}]
            return httpx.Response(
                200, json={"count": 1, "results": [{"receipt_id": 7, "refunds": refunds}]}
            )
        payment = {"payment_id": 70, "receipt_id": 7, "payment_adjustments": []}
        payment["payment_adjustments"] = [{"payment_adjustment_id": 700}] * adjustments["n"]
        return httpx.Response(200, json={"count": 1, "results": [payment]})

    conn = mocked(answer)
    try:
        index = await conn.fetch(conn.first_request("returns", None))
        visit = index.next
        assert visit is not None and visit.path.endswith("/receipts/7/payments")
        lacking = await conn.fetch(visit)
        adjustments["n"] = 1
        complete = await conn.fetch(visit)
    finally:
        await conn.aclose()
    assert lacking.classified.outcome is Outcome.TRANSIENT and lacking.payload is None
    assert "receipt 7" in lacking.classified.reason
    assert complete.classified.outcome is Outcome.OK and complete.payload is not None
