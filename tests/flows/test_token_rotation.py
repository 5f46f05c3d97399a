"""Rotated refresh tokens are written back to the sealed Connection and survive restarts
and other workers: Shopify and Etsy sandboxes, the real ledger on Azurite.

Both platforms rotate the refresh token on use. Shopify's sandbox stops the old one at
once; Etsy's keeps old ones working, so here it is made strict the way Etsy is reported
to behave (a refresh token is good for one grant): a test that reused one would see
``invalid_grant`` on either platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from sandbox.clock import ManualClock
from sandbox.scenario import load
from sandbox.world import World
from shared.errors import TransientError
from shared.flows.clock import use_clock
from shared.flows.connections import (
    LedgerGrants,
    close_connectors,
    connector_for,
    credentials_of,
    seal_context,
    use_transport,
)
from shared.platforms.base import Outcome, PageRequest, Window
from shared.platforms.etsy import auth as etsy_auth
from shared.platforms.etsy.client import build as etsy_build
from shared.platforms.shopify import auth as shopify_auth
from shared.platforms.shopify.client import build as shopify_build
from shared.settings import PlatformSettings, Settings
from shared.storage.ledger import Connection, Ledger
from shared.vault import generate_key, seal
from tests.platforms.test_token_rotation import Wire

CLIENT = "c-tiny"
BASE = "http://sandbox"
LIFETIME_S = 3600.0
PLATFORMS = ("shopify", "etsy")


class HoldingWire(Wire):
    """A ``Wire`` that can hold token requests until ``n`` have arrived, so that two
    workers certainly present the same refresh token (a real race, made certain)."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self._hold: tuple[int, asyncio.Event] | None = None
        self._arrived = 0

    def hold_tokens(self, n: int) -> None:
        self._hold, self._arrived = (n, asyncio.Event()), 0

    async def handle_async_request(self, request):
        if self._hold is not None and request.url.path.endswith(
            ("/oauth/token", "/oauth/access_token")
        ):
            n, event = self._hold
            self._arrived += 1
            if self._arrived >= n:
                event.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=5.0)
        return await super().handle_async_request(request)

    async def aclose(self) -> None:  # shared by every connector of the test
        pass


class Env:
    def __init__(self, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
        scenario = load("tiny")
        self.world = World(scenario, clock=ManualClock(scenario.now), platforms=PLATFORMS)
        _strict_etsy(self.world, monkeypatch)
        self.settings = settings.model_copy(
            update={
                "credentials_key": SecretStr(generate_key()),
                "shopify": PlatformSettings(base_url=f"{BASE}/shopify"),
                "etsy": PlatformSettings(
                    base_url=f"{BASE}/etsy", auth_url=f"{BASE}/etsy/v3/public/oauth/token"
                ),
            }
        )
        self.wire = HoldingWire(self.world.transport())
        self.ledger = Ledger(self.settings)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.world.clock.now(), UTC)

    def expire(self) -> None:
        self.world.clock.set(self.world.clock.now() + LIFETIME_S + 1)

    def account(self, platform: str) -> str:
        return self.world.scenario.client(CLIENT).account(platform)

    async def connect(self, platform: str) -> dict[str, str]:
        creds = self.world.platforms[platform].credentials(CLIENT)
        return await self.connect_with(platform, creds)

    async def connect_with(self, platform: str, creds: dict[str, str]) -> dict[str, str]:
        """What the connect trigger stores: the credentials sealed on the Connection."""
        row = Connection(
            client=CLIENT,
            platform=platform,
            account=self.account(platform),
            credentials_ref="sealed",
            created_at=self.now(),
            updated_at=self.now(),
        )
        sealed = seal(self.settings.credentials_key, creds, context=seal_context(row))
        await self.ledger.save_connection(row.model_copy(update={"encrypted_credentials": sealed}))
        return creds

    async def stored(self, platform: str) -> dict[str, str]:
        row = await self.ledger.get_connection(CLIENT, platform, self.account(platform))
        assert row is not None
        return credentials_of(self.settings, row)

    def request(self, conn, platform: str) -> PageRequest:
        if platform == "shopify":
            return conn.first_request("payouts", None)
        now = self.now()
        return conn.first_request("orders", Window(start=now - timedelta(days=3), end=now))

    async def activity(self, platform: str):
        """What fetch_page does: the connector from connector_for, one fetch."""
        conn = await connector_for(self.settings, CLIENT, platform, self.account(platform))
        return conn, await conn.fetch(self.request(conn, platform))

    @contextlib.asynccontextmanager
    async def running(self):
        with use_clock(self.now), use_transport(lambda _platform: self.wire):
            try:
                yield self
            finally:
                await close_connectors()

    def worker(self, platform: str, creds: dict[str, str]):
        """A connector as another machine would hold it: its own process-wide token cache,
        the same ledger."""
        store = LedgerGrants(self.settings, CLIENT, platform, self.account(platform))
        if platform == "shopify":
            return shopify_build(
                self.settings.shopify,
                creds,
                self.account(platform),
                transport=self.wire,
                now=self.world.clock.now,
                cache=shopify_auth.TokenCache(),
                store=store,
            )
        return etsy_build(
            self.settings.etsy,
            creds,
            self.account(platform),
            transport=self.wire,
            clock=self.now,
            cache=etsy_auth.TokenCache(),
            store=store,
        )


def _strict_etsy(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox_auth = world.platforms["etsy"].auth  # type: ignore[attr-defined]
    grant = sandbox_auth.grant

    def single_use(form: dict[str, str], now: float) -> dict[str, object]:
        answer = grant(form, now)
        sandbox_auth._refresh.pop(form.get("refresh_token"), None)
        return answer

    monkeypatch.setattr(sandbox_auth, "grant", single_use)


def _restart() -> None:
    """What a new process starts with: no token in memory (as tests/conftest.py does)."""
    for cache in (etsy_auth.PROCESS_CACHE, shopify_auth.PROCESS_CACHE):
        cache.clear()


def _never_twice(wire: Wire) -> None:
    accepted = wire.accepted()
    assert len(accepted) == len(set(accepted)), "a refresh token was accepted twice"


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Env:
    return Env(settings, monkeypatch)


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_eight_activities_at_once_refresh_once_and_write_back(env: Env, platform) -> None:
    creds = await env.connect(platform)
    async with env.running():
        conn, warm = await env.activity(platform)
        assert warm.classified.outcome is Outcome.OK, warm.classified
        env.expire()
        before = len(env.wire.presented)
        done = await asyncio.gather(*(env.activity(platform) for _ in range(8)))
        assert [r.classified.outcome for _, r in done] == [Outcome.OK] * 8
        assert len(env.wire.presented) == before + 1  # one refresh for all eight
        assert {id(c) for c, _ in done} == {id(conn)}  # our own write-back: no rebuild
        stored = await env.stored(platform)
    grant = conn._auth.current()
    assert stored["refresh_token"] == grant.refresh.get_secret_value() != creds["refresh_token"]
    assert stored["access_token"] == grant.access.get_secret_value()
    assert float(stored["expires_at"]) == pytest.approx(env.world.clock.now() + LIFETIME_S, abs=5)
    assert env.wire.presented[-1][1] == 200
    _never_twice(env.wire)


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_restart_after_a_rotation_uses_the_written_back_token(env: Env, platform) -> None:
    await env.connect(platform)
    async with env.running():
        env.expire()  # Shopify's first token may still be live: make the first fetch refresh
        _, first = await env.activity(platform)
        assert first.classified.outcome is Outcome.OK, first.classified
        assert env.wire.presented and env.wire.presented[-1][1] == 200
    written = await env.stored(platform)

    _restart()  # a new process: nothing in memory, connectors built from the ledger
    async with env.running():
        before = len(env.wire.presented)
        _, again = await env.activity(platform)
        assert again.classified.outcome is Outcome.OK, again.classified
        assert len(env.wire.presented) == before  # the stored access token is live: no refresh
        env.expire()
        _, later = await env.activity(platform)
        assert later.classified.outcome is Outcome.OK, later.classified
    assert env.wire.presented[before:] == [(written["refresh_token"], 200)]
    assert (await env.stored(platform))["refresh_token"] != written["refresh_token"]
    _never_twice(env.wire)


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_two_workers_racing_for_one_refresh_both_recover(
    env: Env, platform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    creds = await env.connect(platform)
    async with env.running():
        first = env.worker(platform, creds)
        second = env.worker(platform, creds)  # built from the same (soon stale) row
        try:
            for worker in (first, second):
                warm = await worker.fetch(env.request(worker, platform))
                assert warm.classified.outcome is Outcome.OK, warm.classified
            assert first._auth.current().refresh == second._auth.current().refresh
            env.expire()
            before = len(env.wire.presented)
            env.wire.hold_tokens(2)  # both present the same refresh token
            results = await asyncio.gather(
                *(w.fetch(env.request(w, platform)) for w in (first, second) * 4)
            )
            assert [r.classified.outcome for r in results] == [Outcome.OK] * 8
            race = env.wire.presented[before:]
            assert len(race) == 2 and race[0][0] == race[1][0]  # the same token, twice
            assert sorted(status for _, status in race) == [200, 400]  # one lost: invalid_grant
            stored = await env.stored(platform)
            for worker in (first, second):  # the loser adopted the winner's grant
                assert worker._auth.current().refresh.get_secret_value() == stored["refresh_token"]
                assert worker._auth.current().access.get_secret_value() == stored["access_token"]
            secrets = [stored["access_token"], *(token for token, _ in env.wire.presented)]
            texts = [caplog.text, *(r.model_dump_json(exclude={"payload"}) for r in results)]
            assert caplog.records and not any(s in t for s in secrets for t in texts)
        finally:
            await first.aclose()
            await second.aclose()


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_write_back_that_failed_is_written_at_the_next_fetch(
    env: Env, platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = await env.connect(platform)
    update = Ledger.update_connection
    failures = [TransientError("storage is down")]

    async def flaky(self, *args, **kwargs):
        if failures:
            raise failures.pop()
        return await update(self, *args, **kwargs)

    monkeypatch.setattr(Ledger, "update_connection", flaky)
    async with env.running():
        env.expire()
        conn, first = await env.activity(platform)
        assert first.classified.outcome is Outcome.OK  # the fetch itself went on
        assert (await env.stored(platform))["refresh_token"] == creds["refresh_token"]
        _, second = await env.activity(platform)
        assert second.classified.outcome is Outcome.OK
        stored = await env.stored(platform)
    assert stored["refresh_token"] == conn._auth.current().refresh.get_secret_value()
    assert stored["refresh_token"] != creds["refresh_token"] and not failures


async def test_a_row_that_moved_on_is_left_alone(env: Env) -> None:
    """A second connect with new credentials while a worker holds an old grant: the
    worker's write-back does not overwrite them, and its next connector adopts them."""
    platform = "shopify"
    creds = await env.connect(platform)
    async with env.running():
        conn, _ = await env.activity(platform)
        held = conn._auth.current()
        reconnected = {**creds, "refresh_token": "shprt_from_a_new_connect"}
        row = await env.ledger.get_connection(CLIENT, platform, env.account(platform))
        sealed = seal(env.settings.credentials_key, reconnected, context=seal_context(row))
        await env.ledger.save_connection(row.model_copy(update={"encrypted_credentials": sealed}))
        store = LedgerGrants(env.settings, CLIENT, platform, env.account(platform))
        await store.save(held, replaces=held.refresh)  # the worker's write-back after it
        assert store.writes == 0
        assert (await env.stored(platform))["refresh_token"] == "shprt_from_a_new_connect"
        rebuilt = await connector_for(env.settings, CLIENT, platform, env.account(platform))
        assert rebuilt is not conn
        assert rebuilt._auth.current().refresh.get_secret_value() == "shprt_from_a_new_connect"


async def test_a_dead_refresh_token_is_presented_once_and_a_reconnect_heals(env: Env) -> None:
    """The seller revoked the app: the refused refresh token is not presented again by
    later fetches, and the credentials of a new connect are picked up at once."""
    platform = "shopify"
    creds = env.world.platforms[platform].credentials(CLIENT)
    revoked = {**creds, "access_token": "shpat_revoked", "refresh_token": "shprt_revoked"}
    await env.connect_with(platform, revoked)
    async with env.running():
        _, refused = await env.activity(platform)
        _, again = await env.activity(platform)
        for result in (refused, again):
            assert result.classified.outcome is Outcome.AUTH_EXPIRED
            assert "invalid_grant" in result.classified.reason
        assert env.wire.presented == [("shprt_revoked", 400)]  # presented once only
        sandbox = env.world.platforms[platform]
        shop = sandbox.shop_of(CLIENT)  # type: ignore[attr-defined]
        access, refresh = sandbox.auth.register(shop, env.world.clock.now())  # type: ignore[attr-defined]
        await env.connect_with(
            platform, {**creds, "access_token": access, "refresh_token": refresh}
        )
        _, healed = await env.activity(platform)
        assert healed.classified.outcome is Outcome.OK, healed.classified
        env.expire()
        _, later = await env.activity(platform)
        assert later.classified.outcome is Outcome.OK, later.classified
    assert env.wire.presented[1:] == [(refresh, 200)]
