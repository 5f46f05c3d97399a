"""QuilttConnector's edges: malformed answers raise typed errors, network faults are
transient, and the platform registry builds it from the app's settings."""

from __future__ import annotations

import httpx
import pytest

from shared.errors import ConfigurationError, MalformedPayloadError
from shared.platforms import registry
from shared.platforms.base import Outcome
from shared.platforms.quiltt.auth import SessionCache
from shared.platforms.quiltt.client import QuilttConnector, build
from shared.settings import Settings
from tests.platforms.quiltt import support

CREDS = {"profile_id": "p_1", "api_secret_key": "qltt_secret"}
SESSION = {"token": "eyJ.a.b", "userId": "p_1", "expiration": 4_000_000_000}


def mocked(answer) -> QuilttConnector:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/sessions"):
            return httpx.Response(201, json=SESSION)
        return answer(request)

    return build(
        support.settings(), CREDS, "a", transport=httpx.MockTransport(handler), cache=SessionCache()
    )


@pytest.mark.parametrize(
    ("resource", "body", "field"),
    [
        ("bank_transactions", {"data": None}, "data"),
        ("bank_transactions", {"data": {}}, "data.transactions"),
        ("bank_transactions", {"data": {"transactions": {"edges": []}}}, "data.transactions.count"),
        (
            "bank_transactions",
            {"data": {"transactions": {"count": 1, "edges": [{"node": {}}], "pageInfo": {}}}},
            "data.transactions.edges",
        ),
        (
            "bank_transactions",
            {"data": {"transactions": {"count": 1, "edges": []}}},
            "data.transactions.pageInfo",
        ),
        ("accounts", {"data": {"accounts": None}}, "data.accounts"),
        ("accounts", [], "data"),
    ],
)
async def test_malformed_pages_raise_typed_errors(resource, body, field) -> None:
    conn = mocked(lambda _r: httpx.Response(200, json=body))
    try:
        with pytest.raises(MalformedPayloadError) as caught:
            await conn.fetch(conn.first_request(resource, None))
    finally:
        await conn.aclose()
    assert (caught.value.platform, caught.value.resource, caught.value.field) == (
        "quiltt",
        resource,
        field,
    )


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ReadTimeout])
async def test_network_faults_are_transient(error) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error("boom", request=request)

    conn = mocked(fail)
    try:
        result = await conn.fetch(conn.first_request("accounts", None))
    finally:
        await conn.aclose()
    assert result.classified.outcome is Outcome.TRANSIENT and result.classified.status == 0


async def test_session_endpoint_down_is_transient() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"message": "Service Unavailable"})

    conn = build(
        support.settings(), CREDS, "a", transport=httpx.MockTransport(handler), cache=SessionCache()
    )
    try:
        result = await conn.fetch(conn.first_request("accounts", None))
    finally:
        await conn.aclose()
    assert result.classified.outcome is Outcome.TRANSIENT and result.classified.status == 503


async def test_foreign_requests_are_refused() -> None:
    conn = mocked(lambda _r: httpx.Response(200, json={}))
    request = conn.first_request("accounts", None).model_copy(update={"platform": "etsy"})
    try:
        with pytest.raises(ConfigurationError):
            await conn.fetch(request)
    finally:
        await conn.aclose()


async def test_registry_builds_the_connector_from_settings() -> None:
    world = support.world()
    settings = Settings(quiltt=support.settings())
    creds = world.platforms["quiltt"].credentials(support.CLIENT)
    conn = registry.build(
        "quiltt",
        settings,
        creds,
        support.ACCOUNT,
        transport=world.transport(),
        clock=support.clock_of(world),
    )
    assert isinstance(conn, QuilttConnector)
    try:
        result = await conn.fetch(conn.first_request("bank_transactions", None))
    finally:
        await conn.aclose()
    assert result.classified.outcome is Outcome.OK and result.reported_count > 0
