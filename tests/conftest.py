"""Test session fixtures: a real Azurite (started here if none runs) and fresh settings."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import settings

from devhost.azurite import Azurite, ensure_azurite
from shared.settings import Settings
from shared.storage.clients import close_shared_clients

# CI draws the same examples every run (a property's counterexample is then found by a
# developer's run, not by a landing); elsewhere Hypothesis explores afresh each time.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with ensure_azurite() as running:
        yield running


@pytest.fixture(scope="session", autouse=True)
async def _shared_storage_clients_closed() -> AsyncIterator[None]:
    """The tests share one event loop, so the process's storage clients
    (``shared_clients``) live across tests; close them when the session ends, as a worker
    closes them when its loop ends (else aiohttp warns of unclosed sessions at exit)."""
    yield
    await close_shared_clients()


@pytest.fixture
def settings(azurite: Azurite) -> Settings:
    """Settings pointing at the session's Azurite, with table and container names
    unique to the test so tests never see each other's data."""
    suffix = uuid.uuid4().hex[:8]
    return Settings(
        storage_connection=azurite.connection_string,
        table_prefix=f"t{suffix}",
        raw_container=f"raw-{suffix}",
    )


@pytest.fixture(autouse=True)
def _fresh_token_caches() -> Iterator[None]:
    """Every test builds its own sandbox world, whose token servers know nothing of the
    tokens (and rotated refresh tokens) a previous test's world issued: empty the
    connectors' process-wide token caches so one test's tokens never leak into the next.
    (In production a process talks to one real platform, so its cache stays valid.)"""
    from shared.platforms.amazon import auth as amazon_auth
    from shared.platforms.ebay import auth as ebay_auth
    from shared.platforms.etsy import auth as etsy_auth
    from shared.platforms.quiltt import auth as quiltt_auth
    from shared.platforms.shopify import auth as shopify_auth

    amazon_auth.DEFAULT_CACHE.clear()
    ebay_auth.DEFAULT_CACHE.clear()
    for cache in (etsy_auth.PROCESS_CACHE, quiltt_auth.PROCESS_CACHE, shopify_auth.PROCESS_CACHE):
        cache.entries.clear()
        cache._locks.clear()
    yield
