"""A real SMTP server on loopback (aiosmtpd), collecting what it receives: the alert
mails of a bench run, and the tests' SMTP server (``tests.support.smtp`` re-exports it).

    with SmtpServer() as server:
        ... send mail to server.host, server.port ...
        server.messages  # ReceivedMessage, in order of arrival

The server runs in aiosmtpd's own thread and event loop, so it serves blocking
``smtplib`` clients and the test's event loop alike. ``refuse_with`` makes it answer
every DATA with that reply (e.g. ``"451 4.3.0 try again later"``) and keep nothing.
``wait_for(n)`` waits until ``n`` messages arrived (delivery is asynchronous to the
client only in the sense that the server thread parses the mail).
"""

from __future__ import annotations

import email
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedMessage:
    """One mail as the server got it: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return "" if part is None else part.get_content()


class _Collector:
    def __init__(self) -> None:
        self.messages: list[ReceivedMessage] = []
        self.refuse_with: str | None = None
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_with is not None:
            return self.refuse_with
        raw = bytes(envelope.original_content or envelope.content)
        message = email.message_from_bytes(raw, policy=default)
        received = ReceivedMessage(envelope.mail_from, tuple(envelope.rcpt_tos), message, raw)
        with self.arrived:
            self.messages.append(received)
            self.arrived.notify_all()
        return "250 Message accepted for delivery"


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class SmtpServer:
    """A loopback SMTP server; a context manager that starts and stops it."""

    def __init__(self, host: str = HOST, port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._collector = _Collector()
        self._controller = Controller(self._collector, hostname=host, port=self.port)

    @property
    def messages(self) -> list[ReceivedMessage]:
        return self._collector.messages

    @property
    def refuse_with(self) -> str | None:
        return self._collector.refuse_with

    @refuse_with.setter
    def refuse_with(self, reply: str | None) -> None:
        self._collector.refuse_with = reply

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[ReceivedMessage]:
        """The messages once at least ``count`` arrived; AssertionError after timeout."""
        deadline = time.monotonic() + timeout_s
        with self._collector.arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.messages)} of {count} mails arrived")
                self._collector.arrived.wait(left)
        return list(self.messages)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
