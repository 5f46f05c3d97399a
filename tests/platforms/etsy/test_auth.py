"""Etsy auth against the sandbox: refresh grant, the token cache and its expiry margin,
refresh-once on a 401, rotation, refusals, and no secret in any repr, log or error."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
import pytest

from sandbox.faults import FaultRates, Faults
from shared.errors import ConfigurationError
from shared.platforms.base import Outcome, Window, resend_gate
from shared.platforms.etsy.auth import REFRESH_MARGIN_S, EtsyAuth, TokenCache, TokenRefused
from shared.platforms.etsy.client import build
from tests.platforms.etsy import support

TOKEN_CALL = ("etsy", "POST /v3/public/oauth/token")


def _window(now: float) -> Window:
    return Window(
        start=datetime.fromtimestamp(now - 3 * 86_400, UTC), end=datetime.fromtimestamp(now, UTC)
    )


def _token_calls(world) -> int:
    return world.accounting.calls[TOKEN_CALL]


class FakeNow:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


async def test_exchange_then_cache_until_shortly_before_expiry() -> None:
    world = support.world()
    creds = world.platforms["etsy"].credentials(support.CLIENT)
    now = FakeNow(world.clock.now())
    cache = TokenCache()
    auth = EtsyAuth(support.TOKEN_URL, creds, cache=cache, now=now)
    async with httpx.AsyncClient(transport=world.transport()) as http:
        first = await auth.access_token(http)
        assert first.startswith(creds["user_id"] + ".")  # Etsy prefixes the user id
        assert _token_calls(world) == 1
        now.t += 3600 - REFRESH_MARGIN_S - 1  # still inside the margin: cached
        assert await auth.access_token(http) == first
        assert _token_calls(world) == 1
        now.t += 2  # within the margin before expiry: refreshed
        second = await auth.access_token(http)
        assert second != first and _token_calls(world) == 2
        # a second auth object for the same credentials shares the cache
        other = EtsyAuth(support.TOKEN_URL, creds, cache=cache, now=now)
        assert await other.access_token(http) == second and _token_calls(world) == 2


async def test_rotated_refresh_token_is_kept_and_handed_over() -> None:
    world = support.world()
    creds = world.platforms["etsy"].credentials(support.CLIENT)
    rotated: list[str] = []
    cache = TokenCache()
    auth = EtsyAuth(
        support.TOKEN_URL,
        creds,
        cache=cache,
        now=FakeNow(world.clock.now()),
        on_rotate=rotated.append,
    )
    async with httpx.AsyncClient(transport=world.transport()) as http:
        token = await auth.access_token(http)
        assert len(rotated) == 1 and rotated[0] != creds["refresh_token"]
        (entry,) = cache.entries.values()
        assert entry.refresh.get_secret_value() == rotated[0]
        await auth.access_token(http, stale=token)  # the rotated token is used next
        assert len(rotated) == 2 and rotated[1] != rotated[0]


async def test_stale_token_refreshes_once_for_concurrent_callers() -> None:
    import asyncio

    world = support.world()
    creds = world.platforms["etsy"].credentials(support.CLIENT)
    auth = EtsyAuth(support.TOKEN_URL, creds, cache=TokenCache(), now=FakeNow(world.clock.now()))
    async with httpx.AsyncClient(transport=world.transport()) as http:
        old = await auth.access_token(http)
        fresh = await asyncio.gather(*(auth.access_token(http, stale=old) for _ in range(5)))
    assert len(set(fresh)) == 1 and fresh[0] != old
    assert _token_calls(world) == 2


async def test_expired_mid_run_refreshes_once_and_retries() -> None:
    world = support.world()
    conn = support.connector(world)
    request = conn.first_request("orders", _window(world.clock.now()))
    try:
        first = await conn.fetch(request)
        assert first.classified.outcome is Outcome.OK and not first.refreshed_token
        (entry,) = conn._auth._cache.entries.values()
        world.platforms["etsy"].auth.expire(f"Bearer {entry.access.get_secret_value()}", 0)
        second = await conn.fetch(request)
    finally:
        await conn.aclose()
    assert second.classified.outcome is Outcome.OK and second.refreshed_token
    assert second.payload == first.payload
    assert _token_calls(world) == 2


async def test_refresh_is_tried_once_only() -> None:
    """When every token dies on use, a fetch refreshes once, retries once, and reports
    auth_expired instead of looping."""
    faults = Faults("none", seed=1, per_platform={"etsy": FaultRates(token_expiry=1.0)})
    world = support.world(faults)
    conn = support.connector(world)
    request = conn.first_request("orders", _window(world.clock.now()))
    try:
        result = await conn.fetch(request)
    finally:
        await conn.aclose()
    assert result.classified.outcome is Outcome.AUTH_EXPIRED and result.refreshed_token
    assert result.classified.status == 401
    assert _token_calls(world) == 2  # the first token, and one refresh
    calls = sum(n for (p, e), n in world.accounting.calls.items() if p == "etsy")
    assert calls == 4  # two token grants, two API calls


async def test_refused_refresh_is_permanent_and_token_outage_transient() -> None:
    world = support.world()
    creds = {**world.platforms["etsy"].credentials(support.CLIENT), "refresh_token": "1.bogus"}
    conn = build(
        support.settings(), creds, support.ACCOUNT, transport=world.transport(), cache=TokenCache()
    )
    request = conn.first_request("orders", _window(world.clock.now()))
    try:
        refused = await conn.fetch(request)
    finally:
        await conn.aclose()
    assert refused.classified.outcome is Outcome.PERMANENT and refused.classified.status == 400
    assert "invalid_grant" in refused.classified.reason

    faults = Faults("none", seed=2, per_platform={"etsy": FaultRates(server_error=1.0)})
    world = support.world(faults)
    conn = support.connector(world)
    try:
        outage = await conn.fetch(conn.first_request("orders", _window(world.clock.now())))
    finally:
        await conn.aclose()
    assert outage.classified.outcome is Outcome.TRANSIENT and outage.classified.status == 500


def test_bad_credentials_are_configuration_errors() -> None:
    good = {"keystring": "k", "shared_secret": "s", "refresh_token": "1.r", "shop_id": "42"}
    for missing in ("keystring", "shared_secret", "refresh_token"):
        with pytest.raises(ConfigurationError, match=missing):
            build(support.settings(), {**good, missing: ""}, "a")
    with pytest.raises(ConfigurationError, match="shop_id"):
        build(support.settings(), {**good, "shop_id": "my-shop"}, "a")
    no_url = support.settings().model_copy(update={"auth_url": ""})
    with pytest.raises(ConfigurationError, match="token URL"):
        build(no_url, good, "a")


async def test_secrets_never_in_repr_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    faults = Faults("none", seed=4, per_platform={"etsy": FaultRates(token_expiry=0.5)})
    world = support.world(faults)
    creds = world.platforms["etsy"].credentials(support.CLIENT)
    cache = TokenCache()
    conn = support.connector(world, cache=cache)
    texts = [repr(conn), repr(conn._auth), repr(cache)]
    try:
        for resource in ("orders", "transactions"):
            request = conn.first_request(resource, _window(world.clock.now()))
            texts.append(request.model_dump_json())
            for _ in range(6):
                result = await conn.fetch(request)
                texts += [result.classified.reason, result.model_dump_json(exclude={"payload"})]
    finally:
        await conn.aclose()
    bad = {**creds, "refresh_token": creds["refresh_token"][:-2] + "00"}
    refused = build(support.settings(), bad, "a", transport=world.transport(), cache=TokenCache())
    try:
        async with httpx.AsyncClient(transport=world.transport()) as http:
            with pytest.raises(TokenRefused) as caught:
                await refused._auth.access_token(http)
    finally:
        await refused.aclose()
    texts += [str(caught.value), repr(caught.value)]
    tokens = [e.access.get_secret_value() for e in cache.entries.values()]
    tokens += [e.refresh.get_secret_value() for e in cache.entries.values()]
    secrets = [creds["shared_secret"], creds["refresh_token"], bad["refresh_token"], *tokens]
    assert tokens and caplog.records  # something was logged, and tokens were issued
    haystack = "\n".join([*texts, caplog.text])
    for secret in secrets:
        assert secret not in haystack


async def test_a_resend_the_callers_gate_refuses_is_withheld() -> None:
    """Refused for an expired token with no permit left for a retry: the token is
    refreshed, the request not sent again, and the answer says so; the next fetch (the
    next permit) goes out with the fresh token."""
    world = support.world()
    conn = support.connector(world)
    request = conn.first_request("orders", _window(world.clock.now()))
    asked = []

    async def no_permit_left() -> bool:
        asked.append(True)
        return False

    try:
        first = await conn.fetch(request)
        (entry,) = conn._auth._cache.entries.values()
        world.platforms["etsy"].auth.expire(f"Bearer {entry.access.get_secret_value()}", 0)
        api_calls = world.accounting.calls[("etsy", "GET /v3/application/shops/{shop_id}/receipts")]
        with resend_gate(no_permit_left):
            refused = await conn.fetch(request)
        after = world.accounting.calls[("etsy", "GET /v3/application/shops/{shop_id}/receipts")]
        again = await conn.fetch(request)
    finally:
        await conn.aclose()
    assert asked == [True]
    assert refused.classified.outcome is Outcome.AUTH_EXPIRED and refused.classified.status == 401
    assert refused.resend_withheld and refused.refreshed_token
    assert "next permit" in refused.classified.reason
    assert after == api_calls + 1  # the refused request only
    assert again.classified.outcome is Outcome.OK and not again.refreshed_token
    assert again.payload == first.payload and _token_calls(world) == 2
