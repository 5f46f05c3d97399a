"""Shopify access tokens against the sandbox: exchange, cache, refresh once, no leaks."""

from __future__ import annotations

import logging

import pytest

from shared.errors import ConfigurationError
from shared.platforms.base import Outcome
from shared.platforms.shopify.auth import REFRESH_MARGIN_S, ShopifyAuth
from shared.platforms.shopify.client import build
from tests.platforms.shopify.support import account, credentials, make_world, settings


def token_calls(world) -> int:
    return sum(n for (p, e), n in world.accounting.calls.items() if p == "shopify" and "oauth" in e)


def connector(world, creds):
    return build(
        settings(), creds, account(world), transport=world.transport(), now=world.clock.now
    )


def secrets(creds: dict[str, str]) -> list[str]:
    return [creds[k] for k in ("access_token", "refresh_token", "client_secret") if k in creds]


async def fetch_orders(conn):
    return await conn.fetch(conn.first_request("payouts", None))


async def test_exchange_then_cache_until_shortly_before_expiry() -> None:
    world = make_world()
    creds = {k: v for k, v in credentials(world).items() if k != "access_token"}
    conn = connector(world, creds)
    try:
        first = await fetch_orders(conn)
        assert first.classified.outcome is Outcome.OK and token_calls(world) == 1
        issued = conn.credentials()
        assert issued["refresh_token"] != creds["refresh_token"]  # rotated on use
        assert issued["api_version"] == creds["api_version"]  # other keys kept
        expires_at = float(issued["expires_at"])
        assert expires_at == pytest.approx(world.clock.now() + 3600, abs=5)
        world.clock.set(expires_at - REFRESH_MARGIN_S - 1)  # still good: the cache holds
        assert (await fetch_orders(conn)).classified.outcome is Outcome.OK
        assert token_calls(world) == 1
        world.clock.set(expires_at - REFRESH_MARGIN_S + 1)  # about to expire: refresh first
        again = await fetch_orders(conn)
        assert again.classified.outcome is Outcome.OK and not again.refreshed_token
        assert token_calls(world) == 2
        assert conn.credentials()["access_token"] != issued["access_token"]
    finally:
        await conn.aclose()


async def test_an_expired_token_is_refreshed_once_and_the_call_retried_once() -> None:
    world = make_world()
    conn = connector(world, {**credentials(world), "expires_at": str(world.clock.now() + 7200)})
    sandbox_auth = world.platforms["shopify"].auth  # type: ignore[attr-defined]
    try:
        sandbox_auth.expire(conn.credentials()["access_token"], world.clock.now())  # mid-run
        result = await fetch_orders(conn)
        assert result.classified.outcome is Outcome.OK and result.refreshed_token
        assert token_calls(world) == 1
        calls = world.accounting.summary("shopify")["calls"]
        assert calls == 3  # the refused call, the token refresh, the retry
    finally:
        await conn.aclose()


async def test_a_refused_refresh_is_auth_expired_without_secrets(caplog) -> None:
    world = make_world()
    creds = {**credentials(world), "refresh_token": "shprt_not_valid_anymore"}
    conn = connector(world, creds)
    sandbox_auth = world.platforms["shopify"].auth  # type: ignore[attr-defined]
    sandbox_auth.expire(creds["access_token"], world.clock.now())
    caplog.set_level(logging.DEBUG)
    try:
        result = await fetch_orders(conn)
    finally:
        await conn.aclose()
    assert result.classified.outcome is Outcome.AUTH_EXPIRED
    assert "invalid_grant" in result.classified.reason
    dumped = result.model_dump_json()
    for secret in secrets(creds):
        assert secret not in dumped and secret not in caplog.text
        assert secret not in repr(conn) and secret not in result.classified.reason


async def test_without_a_refresh_token_a_401_is_returned_as_is() -> None:
    world = make_world()
    creds = {k: v for k, v in credentials(world).items() if k != "refresh_token"}
    conn = connector(world, creds)
    world.platforms["shopify"].auth.expire(creds["access_token"], world.clock.now())  # type: ignore[attr-defined]
    try:
        result = await fetch_orders(conn)
    finally:
        await conn.aclose()
    assert result.classified.outcome is Outcome.AUTH_EXPIRED and not result.refreshed_token
    assert token_calls(world) == 0


async def test_secrets_stay_out_of_logs_reprs_and_requests(caplog) -> None:
    world = make_world()
    # without its expiry the connector learns of the expired token from the 401
    creds = {k: v for k, v in credentials(world).items() if k != "expires_at"}
    caplog.set_level(logging.DEBUG)
    conn = connector(world, creds)
    try:
        world.platforms["shopify"].auth.expire(creds["access_token"], world.clock.now())  # type: ignore[attr-defined]
        result = await fetch_orders(conn)  # a refresh happens
        assert result.refreshed_token
        texts = [caplog.text, repr(conn), repr(conn._auth), result.model_dump_json()]
        for secret in secrets(creds) + secrets(conn.credentials()):
            assert not any(secret in t for t in texts)
    finally:
        await conn.aclose()


@pytest.mark.parametrize(
    ("creds", "message"),
    [
        ({"access_token": "shpat_x"}, "'shop' is required"),
        ({"shop": "acme"}, "'access_token' or 'refresh_token'"),
        ({"shop": "acme", "refresh_token": "shprt_x"}, "'client_id' and 'client_secret'"),
        ({"shop": "acme", "access_token": "t", "expires_at": "soon"}, "a number"),
    ],
)
def test_bad_credentials_are_configuration_errors(creds: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as info:
        ShopifyAuth(creds, "http://x/admin/oauth/access_token")
    for value in creds.values():
        if value.startswith("shp"):
            assert value not in str(info.value)
