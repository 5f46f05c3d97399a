"""Test session fixtures: a real Azurite (started here if none runs) and fresh settings."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from devhost.azurite import Azurite, ensure_azurite
from shared.settings import Settings


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with ensure_azurite() as running:
        yield running


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
