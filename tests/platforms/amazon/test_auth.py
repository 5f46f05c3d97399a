"""LWA against the sandbox: exchange, cache until shortly before expiry, refresh once on an
expired answer, and no secret in any repr, log line or error."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from sandbox.faults import FaultRates, Faults
from shared.errors import ConfigurationError
from shared.platforms.amazon.auth import REFRESH_MARGIN_S, LwaCredentials
from shared.platforms.base import Outcome, Window
from tests.platforms.amazon.support import AmazonEnv, drive

HOUR = 3600.0


def secrets(env: AmazonEnv) -> list[str]:
    return [env.credentials["client_secret"], env.credentials["refresh_token"]]


async def orders_page(env: AmazonEnv):
    connector = env.connector()
    window = Window(start=env.now() - timedelta(days=3), end=env.now() - timedelta(minutes=3))
    return connector, connector.first_request("orders", window, now=env.now())


async def test_token_is_exchanged_once_and_cached_until_shortly_before_expiry() -> None:
    env = AmazonEnv(quiet_for=None)
    connector, request = await orders_page(env)
    assert (await connector.fetch(request)).classified.outcome is Outcome.OK
    assert connector.auth.exchanges == 1
    env.clock.advance(HOUR - REFRESH_MARGIN_S - 5)  # still inside the cache's margin
    request = connector.first_request("orders", request.window, now=env.now())
    result = await connector.fetch(request)
    assert result.classified.outcome is Outcome.OK and not result.refreshed_token
    assert connector.auth.exchanges == 1
    env.clock.advance(10)  # now within REFRESH_MARGIN_S of expiry: exchange before calling
    result = await connector.fetch(request)
    assert result.classified.outcome is Outcome.OK and not result.refreshed_token
    assert connector.auth.exchanges == 2
    await connector.aclose()


async def test_cache_is_shared_by_connectors_of_the_same_credentials() -> None:
    env = AmazonEnv(quiet_for=None)
    first, request = await orders_page(env)
    await first.fetch(request)
    second = env.connector()
    assert (await second.fetch(request)).classified.outcome is Outcome.OK
    assert second.auth.exchanges == 0
    await first.aclose()
    await second.aclose()


async def test_a_token_that_dies_early_is_refreshed_once_and_the_call_retried() -> None:
    faults = Faults(per_platform={"amazon": FaultRates(token_expiry=1.0)}, seed=4)
    env = AmazonEnv(faults=faults, quiet_for=None)
    connector, request = await orders_page(env)
    assert (await connector.fetch(request)).classified.outcome is Outcome.OK
    env.clock.advance(3400)  # every token dies within 3300 s; the cache still trusts it
    request = connector.first_request("orders", request.window, now=env.now())
    result = await connector.fetch(request)
    assert result.classified.outcome is Outcome.OK
    assert result.refreshed_token
    assert connector.auth.exchanges == 2
    assert env.world.accounting.summary("amazon")["faults_injected"] >= 1
    await connector.aclose()


async def test_refused_credentials_are_permanent_and_never_echoed(caplog) -> None:
    env = AmazonEnv(quiet_for=None)
    env.credentials = {**env.credentials, "client_secret": "amzn1.oa2-cs.v1.not-the-secret"}
    caplog.set_level(logging.DEBUG)
    connector, request = await orders_page(env)
    result = await connector.fetch(request)
    assert result.classified.outcome is Outcome.PERMANENT
    assert "invalid_client" in result.classified.reason
    for secret in [*secrets(env), "not-the-secret"]:
        assert secret not in result.classified.reason
        assert secret not in caplog.text
    await connector.aclose()


async def test_secrets_stay_out_of_reprs_logs_and_requests(caplog) -> None:
    env = AmazonEnv(quiet_for=None)
    caplog.set_level(logging.DEBUG)
    connector, request = await orders_page(env)
    results = await drive(connector, request, env.clock)
    texts = [
        repr(connector),
        repr(connector.auth),
        repr(env.cache),
        repr(LwaCredentials.from_mapping(env.credentials)),
        caplog.text,
        *(r.model_dump_json() for r in results),
    ]
    token = (await connector.auth.token(connector._http)) if results else ""
    for text in texts:
        for secret in [*secrets(env), token]:
            assert secret not in text
    await connector.aclose()


def test_missing_credentials_are_named_not_shown() -> None:
    with pytest.raises(ConfigurationError) as info:
        LwaCredentials.from_mapping({"client_id": "id", "client_secret": "s3cr3t-value"})
    assert "refresh_token" in str(info.value) and "marketplace_ids" in str(info.value)
    assert "s3cr3t-value" not in str(info.value)


async def test_two_minute_rule_is_checked_against_the_callers_now() -> None:
    env = AmazonEnv(quiet_for=None)
    connector = env.connector()
    late = Window(start=env.now() - timedelta(days=1), end=env.now() - timedelta(seconds=90))
    with pytest.raises(ConfigurationError, match="two minutes"):
        connector.first_request("orders", late, now=env.now())
    with pytest.raises(ConfigurationError, match="two minutes"):
        connector.first_request("payouts", late, now=env.now())
    future = Window(start=env.now() - timedelta(days=1), end=env.now() + timedelta(seconds=1))
    with pytest.raises(ConfigurationError, match="future"):
        connector.first_request("returns", future, now=env.now())
    await connector.aclose()
