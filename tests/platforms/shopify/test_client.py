"""The connector's wiring: URLs from settings, what each request carries, odd answers."""

from __future__ import annotations

import httpx
import pytest

from shared.errors import ConfigurationError, MalformedPayloadError
from shared.platforms.base import Outcome
from shared.platforms.shopify.auth import TOKEN_HEADER
from shared.platforms.shopify.client import build
from shared.settings import PlatformSettings
from tests.platforms.shopify.support import (
    Stats,
    account,
    credentials,
    drive,
    make_world,
    settings,
    windows,
)

CREDS = {"shop": "acme", "access_token": "shpat_fake_token"}


class Spy(httpx.AsyncBaseTransport):
    """Records every request on its way to the real sandbox transport."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.requests = inner, []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


@pytest.mark.parametrize(
    ("base", "auth", "acct", "want_base", "want_token"),
    [
        (
            "https://{shop}.myshopify.com",
            "",
            "acme.myshopify.com",
            "https://acme.myshopify.com",
            "https://acme.myshopify.com/admin/oauth/access_token",
        ),
        (
            "http://sandbox/shopify",
            "",
            "acme",
            "http://sandbox/shopify/acme",
            "http://sandbox/shopify/acme/admin/oauth/access_token",
        ),
        (
            "https://{shop}.myshopify.com/",
            "https://{shop}.myshopify.com/admin/oauth/access_token",
            "https://acme.myshopify.com",
            "https://acme.myshopify.com",
            "https://acme.myshopify.com/admin/oauth/access_token",
        ),
    ],
)
def test_urls_come_from_settings(
    base: str, auth: str, acct: str, want_base: str, want_token: str
) -> None:
    conn = build(PlatformSettings(base_url=base, auth_url=auth), {"access_token": "t"}, acct)
    assert conn.base_url == want_base and conn._auth._token_url == want_token
    assert conn.version == "2025-10"
    assert (
        build(PlatformSettings(base_url=base), {**CREDS, "api_version": "2026-01"}, acct).version
        == "2026-01"
    )


def test_unknown_paths_are_configuration_errors() -> None:
    conn = build(settings(), CREDS, "acme")
    with pytest.raises(ConfigurationError):
        conn.first_request("bank_transactions", None)
    with pytest.raises(ConfigurationError):
        conn.first_request("payouts", None, bulk=True)
    with pytest.raises(ConfigurationError):
        conn.first_request("inventory", None, rest=True)


async def test_api_calls_carry_the_token_and_the_bulk_file_download_does_not() -> None:
    world = make_world()
    spy = Spy(world.transport())
    conn = build(settings(), credentials(world), account(world), transport=spy, now=world.clock.now)
    try:
        first = conn.first_request("orders", windows(world, parts=1)[0], bulk=True)
        payloads = await drive(conn, world.clock, first, Stats())
    finally:
        await conn.aclose()
    assert payloads and isinstance(payloads[0], str)
    files = [r for r in spy.requests if "bulk-results" in r.url.path]
    api = [r for r in spy.requests if "/admin/api/" in r.url.path]
    assert len(files) == 1 and api
    assert TOKEN_HEADER.lower() not in {k.lower() for k in files[0].headers}
    assert all(r.headers.get(TOKEN_HEADER) for r in api)
    assert all(r.method == "POST" and r.url.path.endswith("/graphql.json") for r in api)


async def test_a_2xx_that_is_not_json_is_malformed() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="<html>hi</html>"))
    conn = build(settings(), CREDS, "acme", transport=transport)
    try:
        with pytest.raises(MalformedPayloadError) as info:
            await conn.fetch(conn.first_request("payouts", None))
    finally:
        await conn.aclose()
    assert info.value.platform == "shopify" and info.value.resource == "payouts"


async def test_network_faults_are_transient_without_secrets() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    conn = build(settings(), CREDS, "acme", transport=httpx.MockTransport(refuse))
    try:
        result = await conn.fetch(conn.first_request("orders", None))
    finally:
        await conn.aclose()
    assert (
        result.classified.outcome is Outcome.TRANSIENT
        and "ConnectError" in result.classified.reason
    )
    assert CREDS["access_token"] not in result.model_dump_json()
