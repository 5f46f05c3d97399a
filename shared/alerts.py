"""Alert e-mails to client support over SMTP.

``compose(alert, settings, block=...)`` builds the mail (pure); ``AlertMailer.send``
delivers it from ``settings.alert_sender`` to ``settings.support_address`` through
``settings.smtp_host:smtp_port`` with the standard library's ``smtplib``, run in a worker
thread so the event loop is not blocked.

The mail states, one per line, the client, platform, account, resource, block (or
run), window, attempts and the last reason, then the alert's own text. Resource and
window come from the block when the caller passes it (``Block``), otherwise from the
alert's dedupe key (``block-parked|platform|account|resource|block_id``,
``resource-failed|…|run_id``) as far as it tells. It never
carries credentials: the alert holds none by construction, and as a second line of
defence every text put in the mail has values of secret-looking fields (``token``,
``secret``, ``password``, ``Authorization`` …) replaced by ``[redacted]``.

``Message-ID`` is derived from (client, dedupe key), so a send retried after a timeout
is recognisable as the same mail by the receiving side.

``deliver(ledger, settings, alert)`` raises an alert once and mails it while its ledger
row says unsent — the exactly-once path every alerting activity takes.

Errors: TransientError when the server cannot be reached or answers a temporary
failure (4xx, a dropped connection) — try again later; ConfigurationError when it
refuses the sender or recipient for good (5xx). Messages name the server, never a secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import smtplib
from email.message import EmailMessage
from email.utils import format_datetime

from shared.errors import ConfigurationError, TransientError
from shared.settings import Settings
from shared.storage.blocks import Block
from shared.storage.keys import split_key
from shared.storage.ledger import Alert, Ledger

TIMEOUT_S = 10.0
_SECRET_NAMES = (
    r"[\w-]*(?:token|secret|password|passwd|api[_-]?key|keystring|authorization|credential)"
    r"[\w-]*"
)
_SECRET_VALUE = re.compile(
    rf"""(?ix)
    (?P<name>["']?{_SECRET_NAMES}["']?\s*[:=]\s*)   # name = / name: / "name":
    (?P<value>"[^"]*"|'[^']*'|(?:bearer\s+)?[^\s,;&"'}}]+)
    """
)
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+")


def redact(text: str) -> str:
    """``text`` with the values of secret-looking fields and bearer tokens replaced."""
    text = _SECRET_VALUE.sub(lambda m: m.group("name") + "[redacted]", text)
    return _BEARER.sub("Bearer [redacted]", text)


def _from_key(alert: Alert) -> dict[str, str]:
    """Resource and block id (or run id) from a block-parked or resource-failed /
    resource-incomplete dedupe key, where it is one."""
    kind, _, rest = alert.dedupe_key.partition("|")
    if kind not in ("block-parked", "resource-failed", "resource-incomplete") or not rest:
        return {}
    try:
        parts = split_key(rest)
    except ValueError:
        return {}
    if len(parts) != 4:
        return {}
    if kind == "block-parked":
        return {"resource": parts[2], "block": parts[3]}
    return {"resource": parts[2], "run": parts[3]}


def _facts(alert: Alert, block: Block | None) -> list[tuple[str, str]]:
    known = _from_key(alert)
    window = attempts = reason = "-"
    if block is not None:
        known = {"resource": block.resource, "block": block.block_id}
        window = f"[{block.window_start.isoformat()}, {block.window_end.isoformat()})"
        attempts = str(block.attempts)
        reason = block.last_error or "-"
    return [
        ("Client", alert.client),
        ("Platform", alert.platform or (block.platform if block else "-")),
        ("Account", alert.account or (block.account if block else "-")),
        ("Resource", known.get("resource", "-")),
        ("Block", known.get("block", "-")),
        *([("Run", known["run"])] if "run" in known else []),
        ("Window", window),
        ("Attempts", attempts),
        ("Last reason", reason),
        ("Alert", f"{alert.kind} ({alert.created_at.isoformat()})"),
    ]


def message_id(alert: Alert) -> str:
    digest = hashlib.sha256(f"{alert.client}\x00{alert.dedupe_key}".encode()).hexdigest()
    return f"<alert-{digest[:32]}@tributary>"


def compose(alert: Alert, settings: Settings, *, block: Block | None = None) -> EmailMessage:
    """The mail for ``alert`` (see the module docstring); ``block`` adds its window,
    attempts and last error."""
    mail = EmailMessage()
    mail["From"] = settings.alert_sender
    mail["To"] = settings.support_address
    mail["Subject"] = redact(alert.subject)
    mail["Date"] = format_datetime(alert.created_at)
    mail["Message-ID"] = message_id(alert)
    mail["X-Tributary-Client"] = alert.client
    mail["X-Tributary-Alert"] = alert.kind
    facts = "\n".join(f"{name + ':':<13}{redact(value)}" for name, value in _facts(alert, block))
    mail.set_content(f"{facts}\n\n{redact(alert.body)}\n")
    return mail


class AlertMailer:
    """Sends alerts to ``settings.support_address`` (see the module docstring)."""

    def __init__(self, settings: Settings, *, timeout_s: float = TIMEOUT_S) -> None:
        self._settings = settings
        self._timeout_s = timeout_s

    async def send(self, alert: Alert, *, block: Block | None = None) -> None:
        """Deliver the mail for ``alert``. Raises TransientError / ConfigurationError."""
        await asyncio.to_thread(self._deliver, compose(alert, self._settings, block=block))

    def _deliver(self, mail: EmailMessage) -> None:
        host, port = self._settings.smtp_host, self._settings.smtp_port
        where = f"SMTP server {host}:{port}"
        try:
            with smtplib.SMTP(host, port, timeout=self._timeout_s) as smtp:
                smtp.send_message(mail)
        except (smtplib.SMTPSenderRefused, smtplib.SMTPRecipientsRefused) as exc:
            code = getattr(exc, "smtp_code", None) or _first_code(exc)
            if code is not None and 400 <= code < 500:
                raise TransientError(f"{where} deferred the alert mail ({code})") from None
            raise ConfigurationError(
                f"{where} refused the alert mail's sender or recipient ({code}); check "
                "TRIBUTARY_ALERT_SENDER / TRIBUTARY_SUPPORT_ADDRESS"
            ) from None
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise TransientError(f"{where} deferred the alert mail ({exc.smtp_code})") from None
            raise ConfigurationError(f"{where} rejected the alert mail ({exc.smtp_code})") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientError(f"{where} unreachable: {type(exc).__name__}") from None


def _first_code(exc: smtplib.SMTPRecipientsRefused) -> int | None:
    recipients = getattr(exc, "recipients", None) or {}
    for code, _ in recipients.values():
        return int(code)
    return None


async def deliver(
    ledger: Ledger, settings: Settings, alert: Alert, *, block: Block | None = None
) -> bool:
    """Raise ``alert`` (once per dedupe key) and mail it unless its row says it was sent;
    True if a mail went out now. A retried caller neither loses the mail nor sends it
    twice (a mail sent but not marked goes out again, with the same ``Message-ID``)."""
    await ledger.raise_alert(alert)
    unsent = [
        a
        for a in await ledger.list_alerts(alert.client, unsent_only=True)
        if a.dedupe_key == alert.dedupe_key
    ]
    for pending in unsent:
        await AlertMailer(settings).send(pending, block=block)
        await ledger.mark_alert_sent(alert.client, pending.dedupe_key, now=alert.created_at)
    return bool(unsent)
