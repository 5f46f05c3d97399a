"""Rotating refresh tokens in one process: one refresh per account, however many fetches
and connectors (Shopify and Etsy against their sandboxes), and the book's lineage rule.

The ledger-backed write-back and the cross-worker recovery are in
``tests/flows/test_token_rotation.py``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import SecretStr

from shared.platforms.base import Outcome, PageRequest, Window
from shared.platforms.etsy import client as etsy_client
from shared.platforms.shopify import client as shopify_client
from shared.platforms.tokens import Grant, GrantBook, digest
from tests.platforms.etsy import support as etsy
from tests.platforms.shopify import support as shopify

LIFETIME_S = 3600.0
WIRE_DELAY_S = 0.005


class Wire(httpx.AsyncBaseTransport):
    """The sandbox's in-process transport with a little real latency, so that fetches
    started together are all in flight at once (the sandbox alone answers before the
    next task runs), and a record of the refresh tokens presented to the token endpoint
    and of whether each was accepted."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.presented: list[tuple[str, int]] = []  # (refresh token, HTTP status)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(WIRE_DELAY_S)
        token = None
        if request.url.path.endswith(("/oauth/token", "/oauth/access_token")):
            form = parse_qs((await request.aread()).decode())
            token = form.get("refresh_token", [""])[0]
        response = await self.inner.handle_async_request(request)
        if token is not None:
            self.presented.append((token, response.status_code))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    def accepted(self) -> list[str]:
        return [token for token, status in self.presented if status == 200]


def _token_calls(world, platform: str) -> int:
    return sum(n for (p, e), n in world.accounting.calls.items() if p == platform and "oauth" in e)


class Shop:
    """Shopify connectors on the process-wide token cache, as activities get them."""

    platform = "shopify"

    def __init__(self) -> None:
        self.world = shopify.make_world()
        self.creds = shopify.credentials(self.world)
        self.wire = Wire(self.world.transport())

    def connector(self):
        return shopify_client.build(
            shopify.settings(),
            self.creds,
            shopify.account(self.world),
            transport=self.wire,
            now=self.world.clock.now,
        )

    def revoke(self, access: str) -> None:
        self.world.platforms["shopify"].auth.expire(access, self.world.clock.now())  # type: ignore[attr-defined]


class Etsy:
    platform = "etsy"

    def __init__(self) -> None:
        self.world = etsy.world()
        self.creds = self.world.platforms["etsy"].credentials(etsy.CLIENT)
        self.wire = Wire(self.world.transport())

    def connector(self):
        return etsy_client.build(
            etsy.settings(),
            self.creds,
            etsy.ACCOUNT,
            transport=self.wire,
            clock=lambda: datetime.fromtimestamp(self.world.clock.now(), UTC),
        )

    def revoke(self, access: str) -> None:
        self.world.platforms["etsy"].auth.expire(f"Bearer {access}", 0)  # type: ignore[attr-defined]


def _first(env, conn) -> PageRequest:
    if env.platform == "shopify":
        return conn.first_request("payouts", None)
    now = datetime.fromtimestamp(env.world.clock.now(), UTC)
    return conn.first_request("orders", Window(start=now - timedelta(days=3), end=now))


@pytest.mark.parametrize("expiry", ["clock", "revoked"])
@pytest.mark.parametrize("make", [Shop, Etsy], ids=["shopify", "etsy"])
async def test_concurrent_fetches_of_two_connectors_refresh_once(make, expiry) -> None:
    """Eight fetches at once, half on a second connector built from the original (now
    stale) credentials, all meeting an expired token: one refresh, all ok, and both
    connectors end up on the same rotated refresh token."""
    env = make()
    first, second = env.connector(), env.connector()
    try:
        request = _first(env, first)
        warm = await first.fetch(request)
        assert warm.classified.outcome is Outcome.OK, warm.classified
        before = _token_calls(env.world, env.platform)
        grant = first._auth.current()
        assert grant.refresh.get_secret_value() != env.creds["refresh_token"]  # rotated
        if expiry == "clock":
            env.world.clock.set(env.world.clock.now() + LIFETIME_S + 1)
        else:
            env.revoke(grant.access.get_secret_value())
        fetches = 8 if env.platform == "shopify" or expiry == "clock" else 5  # Etsy: 10 QPS
        conns = [first, second] * (fetches // 2) + [first] * (fetches % 2)
        results = await asyncio.gather(*(c.fetch(request) for c in conns))
        assert [r.classified.outcome for r in results] == [Outcome.OK] * fetches
        assert _token_calls(env.world, env.platform) == before + 1
        accepted = env.wire.accepted()
        assert len(accepted) == len(set(accepted))  # no refresh token presented twice
        assert sum(r.refreshed_token for r in results) == (fetches if expiry == "revoked" else 0)
        newest = first._auth.current()
        assert newest.refresh != grant.refresh and newest.access != grant.access
        assert second._auth.current() is newest  # one entry for the account, not one each
    finally:
        await first.aclose()
        await second.aclose()


def _grant(refresh: str, access: str | None = None, expires_at: float | None = None) -> Grant:
    return Grant(
        refresh=SecretStr(refresh),
        access=SecretStr(access) if access else None,
        expires_at=expires_at,
    )


def test_the_book_keeps_the_newest_grant_by_lineage() -> None:
    book = GrantBook()
    seed = book.offer("k", _grant("r1"))
    assert seed.refresh.get_secret_value() == "r1"
    rotated = _grant("r2", "a2", 100.0).succeeding(seed)
    book.entries["k"] = rotated
    assert rotated.ancestors == (digest("r1"),)
    # credentials read before the write-back (an ancestor): the entry stays
    assert book.offer("k", _grant("r1")) is rotated
    # the same refresh token with a longer-lived access token (another worker's copy)
    merged = book.offer("k", _grant("r2", "a2b", 200.0))
    assert merged.access.get_secret_value() == "a2b" and merged.ancestors == rotated.ancestors
    # a shorter-lived one changes nothing
    assert book.offer("k", _grant("r2", "a2c", 150.0)) is merged
    # an unseen refresh token (another worker's rotation, a reconnect) replaces it
    foreign = book.offer("k", _grant("r9", "a9", 300.0))
    assert foreign.refresh.get_secret_value() == "r9"
    assert set(foreign.ancestors) == {digest("r1"), digest("r2")}
    assert book.offer("k", _grant("r2", "a2", 999.0)) is foreign  # r2 is older now
    # a grant without a refresh token is never kept
    assert book.offer("other", Grant(refresh=None, access=SecretStr("x"))).refresh is None
    assert "other" not in book.entries


def test_grants_never_show_their_tokens() -> None:
    grant = _grant("r-secret", "a-secret", 5.0).succeeding(_grant("r-old"))
    book = GrantBook()
    book.entries["k"] = grant
    for text in (repr(grant), str(grant), repr(book)):
        assert "secret" not in text and "r-old" not in text
    credentials = grant.into({"shop": "s", "expires_at": "1", "refresh_token": "x"})
    assert credentials == {
        "shop": "s",
        "refresh_token": "r-secret",
        "access_token": "a-secret",
        "expires_at": "5.0",
    }
    assert Grant.from_credentials(credentials, "shopify").expires_at == 5.0
