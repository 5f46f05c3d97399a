"""Fixtures shared by the flows tests."""

from __future__ import annotations

import pytest

from tests.support.smtp import SmtpServer


@pytest.fixture
def smtp(monkeypatch):
    """A local SMTP server on loopback; the app's alert settings point at it."""
    with SmtpServer() as server:
        monkeypatch.setenv("TRIBUTARY_SMTP_HOST", server.host)
        monkeypatch.setenv("TRIBUTARY_SMTP_PORT", str(server.port))
        yield server
