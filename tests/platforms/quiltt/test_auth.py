"""Quiltt Session tokens against the sandbox: issued once and reused (issuance is capped at
10/h and 20/day), cached until shortly before expiry, re-issued once on a refusal, the
issuance cap and bad credentials classified, and no secret in any repr, log or error."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from shared.errors import ConfigurationError
from shared.platforms.base import Outcome
from shared.platforms.quiltt.auth import (
    EXPIRY_MARGIN_S,
    QuilttAuth,
    SessionCache,
    TokenRefused,
)
from shared.platforms.quiltt.classify import ISSUANCE_WAIT_S
from shared.platforms.quiltt.client import build
from tests.platforms.quiltt import support
from tests.platforms.quiltt.support import CLIENT, ISSUE_CALL


class FakeNow:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _sessions(world) -> list:
    auth = world.platforms["quiltt"].auth
    return [s for history in auth._issued.values() for s in history]


async def test_one_session_for_many_fetches_and_connectors() -> None:
    world = support.world()
    cache = SessionCache()
    for _ in range(3):  # a connector per activity call: the token is still reused
        conn = support.connector(world, cache=cache, page_size=10)
        try:
            request = conn.first_request("bank_transactions", None)
            for _ in range(4):
                result = await conn.fetch(request)
                assert result.classified.outcome is Outcome.OK
                request = result.next
        finally:
            await conn.aclose()
    assert world.accounting.calls[ISSUE_CALL] == 1 and cache.issued == 1


async def test_cached_until_shortly_before_expiration() -> None:
    world = support.world()
    creds = world.platforms["quiltt"].credentials(CLIENT)
    now = FakeNow(world.clock.now())
    auth = QuilttAuth(support.SESSIONS, creds, cache=SessionCache(), now=now)
    async with httpx.AsyncClient(transport=world.transport()) as http:
        first = await auth.session_token(http)
        (session,) = _sessions(world)
        assert auth.cached().expires_at == int(session.expiration)  # from the answer
        now.t = session.expiration - EXPIRY_MARGIN_S - 1
        assert await auth.session_token(http) == first
        now.t += 2
        world.clock.set(now.t)
        second = await auth.session_token(http)
    assert second != first and world.accounting.calls[ISSUE_CALL] == 2


async def test_revoked_session_is_replaced_once_and_the_fetch_retried() -> None:
    world = support.world()
    conn = support.connector(world)
    request = conn.first_request("accounts", None)
    try:
        first = await conn.fetch(request)
        (session,) = _sessions(world)
        world.platforms["quiltt"].auth.revoke(session)
        second = await conn.fetch(request)
        third = await conn.fetch(request)
    finally:
        await conn.aclose()
    assert not first.refreshed_token and second.refreshed_token and not third.refreshed_token
    assert first.payload == second.payload == third.payload
    assert world.accounting.calls[ISSUE_CALL] == 2


async def test_session_dying_early_is_replaced() -> None:
    """The sandbox's token_expiry fault: a token dies hours before its ``expiration``."""
    from sandbox.faults import FaultRates, Faults

    world = support.world(
        Faults("none", seed=3, per_platform={"quiltt": FaultRates(token_expiry=1.0)})
    )
    conn = support.connector(world)
    request = conn.first_request("accounts", None)
    try:
        assert (await conn.fetch(request)).classified.outcome is Outcome.OK
        (session,) = _sessions(world)
        world.clock.set(session.dies + 1)  # still far from the expiration it announced
        assert session.expiration - world.clock.now() > EXPIRY_MARGIN_S
        later = await conn.fetch(request)
    finally:
        await conn.aclose()
    assert later.classified.outcome is Outcome.OK and later.refreshed_token


class Unauthenticated(httpx.AsyncBaseTransport):
    """The sandbox, except that GraphQL answers as for a dead session (200 + auth error
    ``times`` times, then 401 ever after when ``forever``)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, times: int, forever: bool = False):
        self.inner, self.times, self.forever = inner, times, forever
        self.graphql_calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/graphql"):
            self.graphql_calls += 1
            if self.forever:
                return httpx.Response(401, json={"message": "Not Authenticated"})
            if self.graphql_calls <= self.times:
                body = {
                    "data": None,
                    "errors": [
                        {"message": "Not Authenticated", "extensions": {"code": "UNAUTHENTICATED"}}
                    ],
                }
                return httpx.Response(200, json=body)
        return await self.inner.handle_async_request(request)


async def test_graphql_auth_error_in_a_200_reissues_and_retries() -> None:
    world = support.world()
    transport = Unauthenticated(world.transport(), times=1)
    creds = world.platforms["quiltt"].credentials(CLIENT)
    conn = build(
        support.settings(),
        creds,
        "a",
        transport=transport,
        clock=support.clock_of(world),
        cache=SessionCache(),
    )
    try:
        result = await conn.fetch(conn.first_request("accounts", None))
    finally:
        await conn.aclose()
    assert result.classified.outcome is Outcome.OK and result.refreshed_token
    assert transport.graphql_calls == 2 and world.accounting.calls[ISSUE_CALL] == 2


async def test_reissue_is_tried_once_only() -> None:
    world = support.world()
    transport = Unauthenticated(world.transport(), times=0, forever=True)
    creds = world.platforms["quiltt"].credentials(CLIENT)
    conn = build(
        support.settings(),
        creds,
        "a",
        transport=transport,
        clock=support.clock_of(world),
        cache=SessionCache(),
    )
    try:
        result = await conn.fetch(conn.first_request("accounts", None))
    finally:
        await conn.aclose()
    assert result.classified.outcome is Outcome.AUTH_EXPIRED and result.refreshed_token
    assert transport.graphql_calls == 2 and world.accounting.calls[ISSUE_CALL] == 2


async def test_concurrent_refusals_reissue_once() -> None:
    world = support.world()
    creds = world.platforms["quiltt"].credentials(CLIENT)
    auth = QuilttAuth(support.SESSIONS, creds, cache=SessionCache(), now=FakeNow(world.clock.now()))
    async with httpx.AsyncClient(transport=world.transport()) as http:
        old = await auth.session_token(http)
        fresh = await asyncio.gather(*(auth.session_token(http, stale=old) for _ in range(6)))
    assert len(set(fresh)) == 1 and fresh[0] != old
    assert world.accounting.calls[ISSUE_CALL] == 2


async def test_issuance_cap_is_throttled_with_a_long_wait() -> None:
    world = support.world(sessions_per_hour=1)
    transport = Unauthenticated(world.transport(), times=1)  # the first session is refused
    creds = world.platforms["quiltt"].credentials(CLIENT)
    conn = build(
        support.settings(),
        creds,
        "a",
        transport=transport,
        clock=support.clock_of(world),
        cache=SessionCache(),
    )
    try:
        refused = await conn.fetch(conn.first_request("accounts", None))
    finally:
        await conn.aclose()
    c = refused.classified
    assert c.outcome is Outcome.THROTTLED and c.status == 429
    assert c.retry_after_s == ISSUANCE_WAIT_S and "issuance" in c.reason
    assert world.accounting.calls[ISSUE_CALL] == 2  # one issued, one refused


async def test_bad_secret_and_unknown_profile_are_permanent() -> None:
    world = support.world()
    creds = world.platforms["quiltt"].credentials(CLIENT)
    for bad, status in (
        ({**creds, "api_secret_key": "qltt_wrong"}, 401),
        ({**creds, "profile_id": "p_nobody"}, 404),
    ):
        conn = build(
            support.settings(),
            bad,
            "a",
            transport=world.transport(),
            clock=support.clock_of(world),
            cache=SessionCache(),
        )
        try:
            result = await conn.fetch(conn.first_request("accounts", None))
        finally:
            await conn.aclose()
        assert result.classified.outcome is Outcome.PERMANENT and result.classified.status == status


def test_missing_credentials_are_configuration_errors() -> None:
    good = {"profile_id": "p_1", "api_secret_key": "qltt_x"}
    for missing in good:
        with pytest.raises(ConfigurationError, match=missing):
            build(support.settings(), {**good, missing: ""}, "a")
    with pytest.raises(ConfigurationError, match="auth_url"):
        build(support.settings().model_copy(update={"auth_url": ""}), good, "a")
    with pytest.raises(ConfigurationError, match="base_url"):
        build(support.settings().model_copy(update={"base_url": ""}), good, "a")


async def test_secrets_never_in_repr_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    world = support.world()
    creds = world.platforms["quiltt"].credentials(CLIENT)
    cache = SessionCache()
    conn = support.connector(world, cache=cache, page_size=20)
    texts = [repr(conn), repr(conn._auth), repr(cache)]
    try:
        request = conn.first_request("bank_transactions", None)
        texts.append(request.model_dump_json())
        while request is not None:
            result = await conn.fetch(request)
            texts += [result.classified.reason, result.model_dump_json(exclude={"payload"})]
            request = result.next
        world.platforms["quiltt"].auth.revoke(_sessions(world)[0])
        result = await conn.fetch(conn.first_request("accounts", None))
        assert result.refreshed_token
    finally:
        await conn.aclose()
    bad = QuilttAuth(
        support.SESSIONS,
        {**creds, "api_secret_key": creds["api_secret_key"] + "x"},
        cache=SessionCache(),
        now=world.clock.now,
    )
    async with httpx.AsyncClient(transport=world.transport()) as http:
        with pytest.raises(TokenRefused) as caught:
            await bad.session_token(http)
    texts += [str(caught.value), repr(caught.value)]
    tokens = [s.token for s in _sessions(world)]
    assert len(tokens) == 2 and caplog.records
    haystack = "\n".join([*texts, caplog.text])
    for secret in [creds["api_secret_key"], *tokens]:
        assert secret not in haystack


async def test_issuance_is_paced_per_second_across_profiles_of_one_secret() -> None:
    """The API secret's issuances share Quiltt's 25 a second: past the cache's pace, one
    more — for any Profile of that secret — is refused here, sending nothing, as throttled
    until just after the second ends; then it goes out."""
    world = support.world(sessions_per_hour=50, sessions_per_day=50)
    creds = world.platforms["quiltt"].credentials(CLIENT)
    cache = SessionCache(issuance_per_s=3)
    now = FakeNow(world.clock.now() // 1 + 0.25)
    world.clock.set(now.t)
    auth = QuilttAuth(support.SESSIONS, creds, cache=cache, now=now)
    other = QuilttAuth(support.SESSIONS, {**creds, "profile_id": "p_other"}, cache=cache, now=now)
    async with httpx.AsyncClient(transport=world.transport()) as http:
        token = None
        for _ in range(3):  # a refused token replaced, again and again
            token = await auth.session_token(http, stale=token)
        for paced in (other, auth):
            with pytest.raises(TokenRefused) as refused:
                await paced.session_token(http, stale=token)
            classified = refused.value.classified
            assert classified.outcome is Outcome.THROTTLED and classified.status == 0
            assert classified.retry_after_s == pytest.approx(0.76)
        assert world.accounting.calls[ISSUE_CALL] == 3
        now.t += classified.retry_after_s
        world.clock.set(now.t)
        assert await auth.session_token(http, stale=token) != token
    assert world.accounting.calls[ISSUE_CALL] == 4 and cache.issued == 4
    assert sum(world.accounting.throttled.values()) == 0


async def test_a_throttled_issuance_comes_back_as_a_throttled_fetch() -> None:
    world = support.world()
    cache = SessionCache(issuance_per_s=0)  # nothing may be issued this second
    conn = support.connector(world, cache=cache)
    try:
        result = await conn.fetch(conn.first_request("accounts", None))
    finally:
        await conn.aclose()
    assert result.classified.outcome is Outcome.THROTTLED
    assert 0 < result.classified.retry_after_s <= 1.01
    assert "paced" in result.classified.reason and world.accounting.calls[ISSUE_CALL] == 0
