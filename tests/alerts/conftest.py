"""``smtp_server``: a real SMTP server on loopback, yielding (host, port, messages).

``messages`` is the live list of ``tests.support.smtp.ReceivedMessage`` the server got.
Other test packages can reuse it (``from tests.alerts.conftest import smtp_server`` in
their conftest: it needs no other fixture) or build their own from
``tests.support.smtp.SmtpServer``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.smtp import ReceivedMessage, SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """The server object itself (``refuse_with``, ``wait_for``)."""
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[tuple[str, int, list[ReceivedMessage]]]:
    with SmtpServer() as server:
        yield server.host, server.port, server.messages
