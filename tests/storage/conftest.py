"""Storage test fixtures: service clients on the session's Azurite, closed after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.settings import Settings
from shared.storage.clients import StorageClients


@pytest.fixture
async def clients(settings: Settings) -> AsyncIterator[StorageClients]:
    async with StorageClients.from_settings(settings) as opened:
        yield opened
