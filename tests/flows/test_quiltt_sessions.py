"""Quiltt Session tokens are shared by every worker through the sealed Connection: the
in-process Quiltt sandbox (which caps issuance at 10 an hour and 20 a day per Profile)
and the real ledger on Azurite.

Ground truth is the sandbox's own count of issuance calls (``ISSUE_CALL``) and the
tokens it issued; a "worker" is a connector with its own process-wide ``SessionCache``
(what another machine or a restarted host holds) and the same ledger row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from sandbox.clock import ManualClock
from sandbox.scenario import load
from sandbox.world import World
from shared.flows.clock import use_clock
from shared.flows.connections import (
    LedgerSessions,
    close_connectors,
    connector_for,
    credentials_of,
    seal_context,
    use_transport,
)
from shared.platforms.base import Outcome
from shared.platforms.quiltt import auth as quiltt_auth
from shared.platforms.quiltt.auth import CLAIM_KEY, EXPIRES_KEY, TOKEN_KEY, Claim, SessionCache
from shared.platforms.quiltt.client import QuilttConnector, build
from shared.settings import PlatformSettings, Settings
from shared.storage.ledger import Connection, Ledger
from shared.vault import generate_key, seal
from tests.platforms.quiltt.support import CLIENT, ENDPOINT, ISSUE_CALL, SESSIONS, quiet_time

DAY = 86_400.0


class Wire(httpx.AsyncBaseTransport):
    """The sandbox's transport, shared by every connector of a test; it can hold session
    issuance until ``release`` is set (so other workers certainly meet the claim)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.release: asyncio.Event | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.release is not None and request.url.path.endswith("/users/sessions"):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), timeout=5.0)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        pass


class Watched(LedgerSessions):
    """The real ledger store, with what each claim answered kept for the test; ``held``
    is set when a claim found another worker's."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.answers: list[Claim] = []
        self.held = asyncio.Event()

    async def claim(self, **kw) -> Claim:
        answer = await super().claim(**kw)
        self.answers.append(answer)
        if answer.held_until is not None:
            self.held.set()
        return answer


class Env:
    def __init__(self, settings: Settings, **limits) -> None:
        scenario = load("tiny")
        self.world = World(
            scenario,
            clock=ManualClock(scenario.now),
            platforms=("quiltt",),
            limits={"quiltt": limits} if limits else None,
        )
        self.world.clock.set(quiet_time(self.world, scenario.now, 4 * 3600))
        self.settings = settings.model_copy(
            update={
                "credentials_key": SecretStr(generate_key()),
                "quiltt": PlatformSettings(base_url=ENDPOINT, auth_url=SESSIONS),
            }
        )
        self.wire = Wire(self.world.transport())
        self.account = scenario.client(CLIENT).account("quiltt")

    @property
    def issued(self) -> int:
        return self.world.accounting.calls[ISSUE_CALL]

    def tokens(self) -> list:
        return self.world.platforms["quiltt"].auth._issued.get(self.creds["profile_id"], [])

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.world.clock.now(), UTC)

    async def connect(self, **extra: str) -> None:
        """What the connect trigger stores: the credentials sealed on the Connection."""
        self.creds = {**self.world.platforms["quiltt"].credentials(CLIENT), **extra}
        row = Connection(
            client=CLIENT,
            platform="quiltt",
            account=self.account,
            credentials_ref="sealed",
            created_at=self.now(),
            updated_at=self.now(),
        )
        sealed = seal(self.settings.credentials_key, self.creds, context=seal_context(row))
        await Ledger(self.settings).save_connection(
            row.model_copy(update={"encrypted_credentials": sealed})
        )

    async def row(self) -> Connection:
        row = await Ledger(self.settings).get_connection(CLIENT, "quiltt", self.account)
        assert row is not None
        return row

    async def stored(self) -> dict[str, str]:
        return credentials_of(self.settings, await self.row())

    def worker(self, store: LedgerSessions | None = None) -> QuilttConnector:
        """A connector as another machine holds it: its own token cache, the same row."""
        return build(
            self.settings.quiltt,
            self.creds,
            self.account,
            transport=self.wire,
            clock=self.now,
            cache=SessionCache(),
            store=store or LedgerSessions(self.settings, CLIENT, "quiltt", self.account),
        )

    async def fetch(self, conn: QuilttConnector):
        return await conn.fetch(conn.first_request("accounts", None))

    @contextlib.asynccontextmanager
    async def running(self):
        with use_clock(self.now), use_transport(lambda _platform: self.wire):
            try:
                yield self
            finally:
                await close_connectors()


@pytest.fixture
def env(settings: Settings) -> Env:
    return Env(settings)


def _restart() -> None:
    """What a new process starts with: no token in memory."""
    quiltt_auth.PROCESS_CACHE.entries.clear()


async def test_workers_starting_together_issue_one_session(env: Env) -> None:
    await env.connect()
    store = Watched(env.settings, CLIENT, "quiltt", env.account)
    workers = [env.worker(store) for _ in range(3)]
    env.wire.release = asyncio.Event()
    try:
        fetches = [asyncio.create_task(env.fetch(w)) for w in workers for _ in range(4)]
        await asyncio.wait_for(store.held.wait(), timeout=10)  # another worker met the claim
        env.wire.release.set()
        results = await asyncio.gather(*fetches)
    finally:
        for w in workers:
            await w.aclose()
    assert [r.classified.outcome for r in results] == [Outcome.OK] * 12
    assert env.issued == 1
    (session,) = env.tokens()
    assert {w._auth.cached().token.get_secret_value() for w in workers} == {session.token}
    stored = await env.stored()
    assert stored[TOKEN_KEY] == session.token and CLAIM_KEY not in stored
    assert float(stored[EXPIRES_KEY]) == pytest.approx(session.expiration)
    answers = store.answers
    assert sum(a.ours for a in answers) == 1 and any(a.session for a in answers)


async def test_a_restarted_worker_uses_the_stored_session(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await env.connect()
    async with env.running():
        conn = await connector_for(env.settings, CLIENT, "quiltt", env.account)
        first = await env.fetch(conn)
        again = await env.fetch(await connector_for(env.settings, CLIENT, "quiltt", env.account))
    assert first.classified.outcome is again.classified.outcome is Outcome.OK
    assert env.issued == 1
    _restart()  # a new process: the connector is built from the row, token included
    async with env.running():
        conn = await connector_for(env.settings, CLIENT, "quiltt", env.account)
        later = await env.fetch(conn)
    assert later.classified.outcome is Outcome.OK, later.classified
    assert env.issued == 1
    (session,) = env.tokens()
    row = await env.row()
    assert session.token not in (row.encrypted_credentials or "")  # sealed
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert session.token not in text and env.creds["api_secret_key"] not in text
    assert "quiltt session issued" in text


async def test_a_revoked_session_is_replaced_once_for_every_worker(env: Env) -> None:
    await env.connect()
    first, second = env.worker(), env.worker()
    try:
        for w in (first, second):
            assert (await env.fetch(w)).classified.outcome is Outcome.OK
        assert env.issued == 1
        (old,) = env.tokens()
        env.world.platforms["quiltt"].auth.revoke(old)
        results = await asyncio.gather(env.fetch(first), env.fetch(second))
    finally:
        for w in (first, second):
            await w.aclose()
    assert [r.classified.outcome for r in results] == [Outcome.OK] * 2
    assert sum(r.refreshed_token for r in results) == 2
    assert env.issued == 2  # one replacement for both workers
    new = env.tokens()[-1]
    assert (await env.stored())[TOKEN_KEY] == new.token != old.token


async def test_a_claim_left_by_a_dead_worker_holds_others_only_until_it_ends(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(quiltt_auth, "CLAIM_POLL_S", 0.01)
    until = env.world.clock.now() + 12.0
    await env.connect(**{CLAIM_KEY: repr(until)})
    conn = env.worker()
    try:
        waited = await env.fetch(conn)
        assert waited.classified.outcome is Outcome.THROTTLED
        assert waited.classified.retry_after_s == pytest.approx(12.0, abs=0.5)
        assert "another worker" in waited.classified.reason
        assert env.issued == 0
        env.world.clock.set(until + 0.1)
        done = await env.fetch(conn)
    finally:
        await conn.aclose()
    assert done.classified.outcome is Outcome.OK, done.classified
    assert env.issued == 1
    stored = await env.stored()
    assert stored[TOKEN_KEY] == env.tokens()[0].token and CLAIM_KEY not in stored


async def test_a_refused_issuance_drops_the_claim(settings: Settings) -> None:
    env = Env(settings, sessions_per_hour=1, sessions_per_day=1)
    await env.connect()
    first = env.worker()
    try:
        assert (await env.fetch(first)).classified.outcome is Outcome.OK
    finally:
        await first.aclose()
    (session,) = env.tokens()
    env.world.clock.set(session.expiration - 100)  # inside the expiry margin: not usable
    second = env.worker()
    try:
        refused = await env.fetch(second)
    finally:
        await second.aclose()
    assert refused.classified.outcome is Outcome.THROTTLED, refused.classified
    assert refused.classified.status == 429
    assert env.issued == 2  # the second was refused by the day's cap
    stored = await env.stored()
    assert CLAIM_KEY not in stored and stored[TOKEN_KEY] == session.token


async def test_an_unreadable_store_costs_only_the_sharing(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    await env.connect()
    wrong = env.settings.model_copy(update={"credentials_key": SecretStr(generate_key())})
    conn = env.worker(LedgerSessions(wrong, CLIENT, "quiltt", env.account))
    try:
        result = await env.fetch(conn)
    finally:
        await conn.aclose()
    assert result.classified.outcome is Outcome.OK, result.classified
    assert env.issued == 1
    assert TOKEN_KEY not in await env.stored()
    warnings = [r.getMessage() for r in caplog.records if "session store" in r.getMessage()]
    assert [w.split()[3] for w in warnings] == ["claim", "save"]
    assert all("ConfigurationError" in w and env.tokens()[0].token not in w for w in warnings)
