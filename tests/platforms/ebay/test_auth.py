"""eBay OAuth against the sandbox: refresh grant with Basic auth, cache until shortly before
expiry, refresh once on a 401, no secret in reprs, logs or errors; 204 pages."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from sandbox.faults import FaultRates, Faults
from shared.errors import ConfigurationError
from shared.normalize import normalize
from shared.platforms.base import Outcome, Window
from shared.platforms.ebay.auth import REFRESH_MARGIN_S, EbayCredentials
from shared.platforms.ebay.client import build
from shared.settings import PlatformSettings
from tests.platforms.ebay.support import AUTH_URL, BASE_URL, EbayEnv

TTL = 7200.0


def recent(env: EbayEnv) -> Window:
    return Window(start=env.now() - timedelta(days=5), end=env.now())


async def test_token_is_cached_until_shortly_before_expiry() -> None:
    env = EbayEnv(quiet_for=None)
    connector = env.connector()
    request = connector.first_request("orders", recent(env))
    assert (await connector.fetch(request)).classified.outcome is Outcome.OK
    env.clock.advance(TTL - REFRESH_MARGIN_S - 5)
    assert (await connector.fetch(request)).classified.outcome is Outcome.OK
    assert connector.auth.exchanges == 1
    env.clock.advance(10)
    result = await connector.fetch(request)
    assert result.classified.outcome is Outcome.OK and not result.refreshed_token
    assert connector.auth.exchanges == 2
    await connector.aclose()


async def test_app_keys_may_come_from_settings() -> None:
    env = EbayEnv(quiet_for=None)
    settings = PlatformSettings(
        base_url=BASE_URL,
        auth_url=AUTH_URL,
        client_id=env.credentials["client_id"],
        client_secret=env.credentials["client_secret"],
    )
    creds = {k: v for k, v in env.credentials.items() if k not in ("client_id", "client_secret")}
    connector = build(settings, creds, env.account, transport=env.world.transport(), clock=env.now)
    result = await connector.fetch(connector.first_request("payouts", recent(env)))
    assert result.classified.outcome is Outcome.OK
    await connector.aclose()


async def test_an_expired_token_is_refreshed_once_and_the_call_retried() -> None:
    faults = Faults(per_platform={"ebay": FaultRates(token_expiry=1.0)}, seed=1)
    env = EbayEnv(faults=faults, quiet_for=None)
    connector = env.connector()
    result = await connector.fetch(connector.first_request("orders", recent(env)))
    # every admitted call ends its token, the refreshed one too: refreshed once, then
    # still refused -> permanent, not an endless refresh loop
    assert result.refreshed_token
    assert result.classified.outcome is Outcome.PERMANENT
    assert "after a token refresh" in result.classified.reason
    assert connector.auth.exchanges == 2
    env.world.faults.per_platform["ebay"] = FaultRates(token_expiry=0.0)
    result = await connector.fetch(connector.first_request("orders", recent(env)))
    assert result.classified.outcome is Outcome.OK and result.refreshed_token
    await connector.aclose()


async def test_refused_refresh_is_permanent_and_never_echoed(caplog) -> None:
    env = EbayEnv(quiet_for=None)
    wrong = "v^1.1#i^1#r^1#not-the-refresh-token"
    env.credentials = {**env.credentials, "refresh_token": wrong}
    caplog.set_level(logging.DEBUG)
    connector = env.connector()
    result = await connector.fetch(connector.first_request("orders", recent(env)))
    assert result.classified.outcome is Outcome.PERMANENT
    assert "invalid_grant" in result.classified.reason
    for secret in (wrong, env.credentials["client_secret"]):
        assert secret not in result.classified.reason and secret not in caplog.text
    await connector.aclose()


async def test_secrets_stay_out_of_reprs_logs_and_results(caplog) -> None:
    env = EbayEnv(quiet_for=None)
    caplog.set_level(logging.DEBUG)
    connector = env.connector()
    result = await connector.fetch(connector.first_request("transactions", recent(env)))
    token = await connector.auth.token(connector._http)
    texts = [
        repr(connector),
        repr(connector.auth),
        repr(EbayCredentials.from_mapping(env.credentials)),
        caplog.text,
        result.model_dump_json(),
    ]
    for text in texts:
        for secret in (env.credentials["client_secret"], env.credentials["refresh_token"], token):
            assert secret not in text
    await connector.aclose()


def test_missing_credentials_are_named_not_shown() -> None:
    with pytest.raises(ConfigurationError) as info:
        EbayCredentials.from_mapping({"client_secret": "PRD-s3cr3t"})
    assert "client_id" in str(info.value) and "refresh_token" in str(info.value)
    assert "PRD-s3cr3t" not in str(info.value)


@pytest.mark.parametrize("resource", ["transactions", "payouts"])
async def test_204_is_an_empty_complete_page(resource: str) -> None:
    env = EbayEnv(quiet_for=None)
    connector = env.connector()
    start = env.now() - timedelta(days=3000)
    request = connector.first_request(resource, Window(start=start, end=start + timedelta(days=1)))
    result = await connector.fetch(request)
    assert result.classified.status == 204 and result.classified.outcome is Outcome.OK
    assert result.next is None and result.reported_count == 0
    assert normalize("ebay", resource, result.payload) == []
    await connector.aclose()
