"""Small helpers of the HTTP triggers: JSON answers and the ids they start runs under."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

from shared.storage.keys import escape_key


def json_response(status: int, body: Any, headers: dict[str, str] | None = None):
    return func.HttpResponse(
        json.dumps(body, default=str),
        status_code=status,
        mimetype="application/json",
        headers=headers,
    )


def error(status: int, message: str, **extra: Any) -> func.HttpResponse:
    return json_response(status, {"error": message, **extra})


def instance_id(kind: str, *parts: str) -> str:
    """A fixed orchestration instance id: ``kind|part|part``, each part escaped so it
    holds none of the characters instance ids may not contain."""
    return "|".join((kind, *(escape_key(p) for p in parts)))


def onboarding_id(client: str, platform: str, account: str) -> str:
    return instance_id("onboard", client, platform, account)


def daily_id(client: str, day: str) -> str:
    return instance_id("daily", client, day)


def demo_id(prospect: str) -> str:
    return instance_id("demo", prospect)


def demo_client(prospect: str) -> str:
    """The ledger client a prospect's demo data is kept under."""
    return f"demo:{prospect}"
