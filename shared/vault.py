"""Platform credentials encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256).

``seal`` turns a connection's credentials into an opaque token for the ledger's
``Connection.encrypted_credentials``; ``open_sealed`` turns it back, inside an activity
only. The key is ``settings.credentials_key``: a Fernet key (32 random bytes,
URL-safe base64, as ``generate_key()`` makes). For rotation it may hold several keys
separated by commas: the first seals, every one of them opens, so old tokens stay
readable until they are sealed again under the new key.

``context`` (optional, e.g. ``"c1|amazon|acme"``) binds a token to its connection: a
token opened under another context is refused, so a ciphertext copied onto another
client's row does not hand that client the credentials.

Errors are ``ConfigurationError`` (missing or malformed key, a token the keys cannot
open, a context mismatch) and ``ValueError`` for credentials that are not a
``str -> str`` mapping. No message ever contains a key, a token or a credential value.
"""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from shared.errors import ConfigurationError

VERSION = 1


def generate_key() -> str:
    """A new random key for ``settings.credentials_key``."""
    return Fernet.generate_key().decode()


def _cipher(key: SecretStr) -> MultiFernet:
    text = key.get_secret_value() if isinstance(key, SecretStr) else ""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ConfigurationError(
            "the credentials key (TRIBUTARY_CREDENTIALS_KEY) is not set; "
            "generate one with shared.vault.generate_key()"
        )
    ciphers = []
    for number, part in enumerate(parts, start=1):
        try:
            ciphers.append(Fernet(part.encode()))
        except (ValueError, TypeError):
            raise ConfigurationError(
                f"the credentials key (TRIBUTARY_CREDENTIALS_KEY) part {number} is not a "
                "Fernet key: 32 bytes in URL-safe base64 (44 characters)"
            ) from None
    return MultiFernet(ciphers)


def _check(credentials: object) -> dict[str, str]:
    if not isinstance(credentials, dict):
        raise ValueError("credentials must be a mapping of names to strings")
    bad = sorted(str(k) for k, v in credentials.items() if not isinstance(v, str))
    if any(not isinstance(k, str) for k in credentials) or bad:
        raise ValueError(f"credentials must map names to strings; not strings: {bad}")
    return dict(credentials)


def seal(key: SecretStr, credentials: dict[str, str], *, context: str = "") -> str:
    """``credentials`` encrypted under the first key of ``key``: an ASCII token."""
    cipher = _cipher(key)
    plain = {"v": VERSION, "ctx": context, "cred": _check(credentials)}
    return cipher.encrypt(json.dumps(plain, sort_keys=True).encode()).decode()


def open_sealed(key: SecretStr, token: str, *, context: str = "") -> dict[str, str]:
    """The credentials ``seal`` encrypted into ``token``. Raises ConfigurationError when
    no key of ``key`` opens it (wrong or rotated key, a damaged token) or when it was
    sealed for another ``context``."""
    cipher = _cipher(key)
    try:
        plain = json.loads(cipher.decrypt(token.encode() if isinstance(token, str) else b""))
    except (InvalidToken, ValueError, TypeError):
        raise ConfigurationError(
            "sealed credentials cannot be opened with the configured key "
            "(wrong or rotated key, or a damaged token)"
        ) from None
    if not isinstance(plain, dict) or plain.get("v") != VERSION:
        raise ConfigurationError("sealed credentials have an unknown format")
    if plain.get("ctx", "") != context:
        raise ConfigurationError("sealed credentials belong to another connection")
    return _check(plain.get("cred"))
