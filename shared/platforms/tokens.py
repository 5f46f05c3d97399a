"""Bearer access tokens and their process-wide cache, shared by the OAuth connectors.

A token is usable until ``margin_s`` before its stated expiry (epoch seconds, UTC, on the
caller's injected clock); each platform's auth module sets its own margin. Tokens are
``SecretStr`` and never appear in a repr.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr


@dataclass(frozen=True)
class AccessToken:
    value: SecretStr
    expires_at: float  # epoch seconds, UTC

    def usable(self, now: float, margin_s: float) -> bool:
        return now < self.expires_at - margin_s

    def __repr__(self) -> str:
        return f"AccessToken(value='**********', expires_at={self.expires_at})"


class TokenCache:
    """Access tokens by cache key; a platform subclass sets ``margin_s``."""

    margin_s: float = 60.0

    def __init__(self) -> None:
        self._tokens: dict[str, AccessToken] = {}

    def get(self, key: str, now: float) -> AccessToken | None:
        token = self._tokens.get(key)
        return token if token is not None and token.usable(now, self.margin_s) else None

    def put(self, key: str, token: AccessToken) -> None:
        self._tokens[key] = token

    def drop(self, key: str) -> None:
        self._tokens.pop(key, None)

    def clear(self) -> None:
        self._tokens.clear()

    def __repr__(self) -> str:
        return f"TokenCache({len(self._tokens)} tokens)"
