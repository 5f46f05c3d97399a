"""Alert mails through a real SMTP server on loopback (tests.support.smtp)."""

from datetime import UTC, datetime

import pytest

from shared.alerts import AlertMailer, compose, message_id, redact
from shared.errors import ConfigurationError, TransientError
from shared.settings import Settings
from shared.storage.blocks import Block, BlockState
from shared.storage.ledger import Alert
from tests.support.smtp import SmtpServer, free_port

NOW = datetime(2024, 6, 15, 10, 30, tzinfo=UTC)
SECRET = "Atzr|IwEB-the-refresh-token"


def parked_block(error: str = "the API reports 40 orders but 38 were loaded") -> Block:
    return Block(
        client="c-tiny",
        platform="amazon",
        account="acme|eu",  # a separator in a name survives the dedupe key
        resource="orders",
        block_id="orders.20240501T000000Z.20240601T000000Z",
        window_start=datetime(2024, 5, 1, tzinfo=UTC),
        window_end=datetime(2024, 6, 1, tzinfo=UTC),
        state=BlockState.PARKED,
        attempts=3,
        last_error=error,
        created_at=NOW,
        updated_at=NOW,
    )


def mail_settings(host: str, port: int) -> Settings:
    return Settings(
        smtp_host=host,
        smtp_port=port,
        alert_sender="tributary@example.test",
        support_address="support@example.test",
    )


EXPECTED_FACTS = [
    "Client:      c-tiny",
    "Platform:    amazon",
    "Account:     acme|eu",
    "Resource:    orders",
    "Block:       orders.20240501T000000Z.20240601T000000Z",
    "Window:      [2024-05-01T00:00:00+00:00, 2024-06-01T00:00:00+00:00)",
    "Attempts:    3",
    "Last reason: the API reports 40 orders but 38 were loaded",
    "Alert:       block_parked (2024-06-15T10:30:00+00:00)",
]


async def test_a_parked_block_mails_support(smtp_server):
    host, port, received = smtp_server
    block = parked_block()
    alert = Alert.block_parked(block, NOW)
    await AlertMailer(mail_settings(host, port)).send(alert, block=block)
    assert len(received) == 1
    mail = received[0]
    assert mail.mail_from == "tributary@example.test"
    assert mail.rcpt_tos == ("support@example.test",)
    assert mail.subject == "amazon orders of c-tiny stopped loading"
    assert mail.body.splitlines()[: len(EXPECTED_FACTS)] == EXPECTED_FACTS
    assert alert.body in mail.body
    assert mail.message["Message-ID"] == message_id(alert)
    assert mail.message["X-Tributary-Client"] == "c-tiny"


async def test_without_the_block_the_key_still_names_the_resource(smtp_server):
    host, port, received = smtp_server
    alert = Alert.block_parked(parked_block(), NOW)
    await AlertMailer(mail_settings(host, port)).send(alert)
    lines = received[0].body.splitlines()
    assert lines[:5] == EXPECTED_FACTS[:5]
    assert lines[5:8] == ["Window:      -", "Attempts:    -", "Last reason: -"]
    assert "failed 3 times" in received[0].body  # the alert's own text says it


async def test_each_send_is_one_mail_with_a_stable_id(smtp_server):
    host, port, received = smtp_server
    mailer = AlertMailer(mail_settings(host, port))
    one = Alert.block_parked(parked_block(), NOW)
    other = Alert.block_parked(parked_block().model_copy(update={"block_id": "b2"}), NOW)
    await mailer.send(one)
    await mailer.send(one)  # a retried send
    await mailer.send(other)
    ids = [m.message["Message-ID"] for m in received]
    assert len(received) == 3 and ids[0] == ids[1] != ids[2]


LEAKS = [
    f"refresh_token={SECRET}",
    f'{{"refresh_token": "{SECRET}", "shop": "x"}}',
    f"Authorization: Bearer {SECRET}",
    f"client_secret: '{SECRET}'",
    f"x-api-key={SECRET}&x=1",
    f"api_secret_key = {SECRET}",
]


@pytest.mark.parametrize("leak", LEAKS)
async def test_secrets_never_reach_the_mail(smtp_server, leak):
    host, port, received = smtp_server
    block = parked_block(error=f"HTTP 400 for request with {leak}")
    alert = Alert.block_parked(block, NOW)
    await AlertMailer(mail_settings(host, port)).send(alert, block=block)
    raw = received[0].raw.decode()
    assert "the-refresh-token" not in raw and "IwEB" not in raw
    assert "[redacted]" in received[0].body


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("token=abc123 rest", "token=[redacted] rest"),
        ('"access_token":"abc"', '"access_token":[redacted]'),
        ("Bearer abc.def", "Bearer [redacted]"),
        ("the API reports 40 orders but 38 were loaded", None),
        ("page token loop (next request repeated)", None),
    ],
)
def test_redact(text, expected):
    assert redact(text) == (text if expected is None else expected)


async def test_an_unreachable_server_is_transient():
    port = free_port()  # nothing listens there
    mailer = AlertMailer(mail_settings("127.0.0.1", port), timeout_s=2)
    with pytest.raises(TransientError, match=f"127.0.0.1:{port} unreachable"):
        await mailer.send(Alert.block_parked(parked_block(), NOW))


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("451 4.3.0 try again later", TransientError),
        ("554 5.7.1 message refused", ConfigurationError),
    ],
)
async def test_a_refusing_server(smtp: SmtpServer, reply, error):
    smtp.refuse_with = reply
    mailer = AlertMailer(mail_settings(smtp.host, smtp.port))
    with pytest.raises(error, match=reply[:3]) as caught:
        await mailer.send(Alert.block_parked(parked_block(), NOW))
    assert smtp.messages == []
    assert f"SMTP server {smtp.host}:{smtp.port}" in str(caught.value)


def test_compose_is_pure_and_complete():
    settings = mail_settings("127.0.0.1", 25)
    block = parked_block()
    alert = Alert.block_parked(block, NOW)
    first, second = compose(alert, settings, block=block), compose(alert, settings, block=block)
    assert first.as_string() == second.as_string()
    assert first["Date"] == "Sat, 15 Jun 2024 10:30:00 +0000"


async def test_the_server_helper_waits_for_mail(smtp: SmtpServer):
    with pytest.raises(AssertionError, match="0 of 1 mails arrived"):
        smtp.wait_for(1, timeout_s=0.2)
    await AlertMailer(mail_settings(smtp.host, smtp.port)).send(
        Alert.block_parked(parked_block(), NOW)
    )
    assert [m.subject for m in smtp.wait_for(1)] == ["amazon orders of c-tiny stopped loading"]
