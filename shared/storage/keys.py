"""Key and name rules of Azure Storage, as pure functions.

Table keys (PartitionKey, RowKey) may not contain ``/``, ``\\``, ``#``, ``?`` or control
characters (U+0000-U+001F, U+007F-U+009F), and may be at most 1 KiB (UTF-16). We build
keys from several parts joined by ``|``; ``escape_key`` percent-encodes the forbidden
characters, ``%`` itself (so decoding is exact) and ``|`` (so a part can never fake a
separator). Everything else, unicode included, is kept as is, so keys stay readable and
short. Escaped keys sort like their parts within one prefix, and
``join_key(a, b) + "|"`` is a prefix only of keys whose first parts are exactly a, b.

Keys whose UTF-16 size would pass ``MAX_KEY_BYTES`` are shortened deterministically to
a readable head plus ``%~`` and the SHA-256 of the full key (``bounded_key``). ``%~``
never occurs in an escaped key, so such keys are recognisable; they cannot be decoded
(the entity keeps the original values as properties).
"""

from __future__ import annotations

import hashlib
import re

from shared.errors import ConfigurationError

SEPARATOR = "|"
MAX_KEY_BYTES = 512  # Azure allows 1 KiB of UTF-16; keep half as headroom for prefixes
HASHED_MARK = "%~"
_HEAD_CHARS = 96

_ESCAPE = re.compile(r"[/\\#?%|\x00-\x1f\x7f-\x9f]")
_UNESCAPE = re.compile(r"%([0-9A-F]{2})")
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
_CONTAINER_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")


_ESCAPES = {
    c: f"%{c:02X}" for c in [*map(ord, "/\\#?%|"), *range(0x00, 0x20), *range(0x7F, 0xA0)]
}  # the characters ``_ESCAPE`` matches, each to its %XX


def escape_key(text: str) -> str:
    """``text`` with the characters Azure forbids in keys, ``%`` and ``|`` as ``%XX``."""
    return text.translate(_ESCAPES) if _ESCAPE.search(text) else text


def unescape_key(key: str) -> str:
    """The text ``escape_key`` was given. Raises ValueError for a hashed key."""
    if HASHED_MARK in key:
        raise ValueError(f"key {key[:40]!r}… was shortened with a hash and cannot be decoded")
    return _UNESCAPE.sub(lambda m: chr(int(m.group(1), 16)), key)


def join_key(*parts: str) -> str:
    """The parts escaped and joined by ``|``; ``split_key`` is its inverse."""
    return SEPARATOR.join(escape_key(p) for p in parts)


def split_key(key: str) -> list[str]:
    """The parts ``join_key`` joined."""
    return [unescape_key(p) for p in key.split(SEPARATOR)]


def bounded_key(key: str) -> str:
    """``key`` unchanged if it fits ``MAX_KEY_BYTES``, else head + ``%~`` + SHA-256.

    Deterministic, so a long natural key still upserts to the same row every time."""
    if len(key) * 4 <= MAX_KEY_BYTES or len(key.encode("utf-16-le")) <= MAX_KEY_BYTES:
        return key
    head = re.sub(r"%[0-9A-F]?$", "", key[:_HEAD_CHARS])
    return f"{head}{HASHED_MARK}{hashlib.sha256(key.encode()).hexdigest()}"


def prefix_range(prefix: str) -> tuple[str, str]:
    """Bounds ``(low, high)`` so that ``low <= key < high`` iff ``key`` starts with
    ``prefix``, for a prefix ending in ``|`` (the next code point, ``}``, closes it)."""
    if not prefix.endswith(SEPARATOR):
        raise ValueError("prefix must end with the separator")
    return prefix, prefix[:-1] + chr(ord(SEPARATOR) + 1)


def table_name(prefix: str, suffix: str) -> str:
    """``prefix + suffix``, checked against Azure's rules for table names (letters and
    digits, 3-63 long, starting with a letter). Raises ConfigurationError."""
    name = prefix + suffix
    if not _TABLE_NAME.match(name) or name.lower() == "tables":
        raise ConfigurationError(
            f"table name {name!r} (from table_prefix {prefix!r}) breaks Azure's rules: "
            "letters and digits only, 3-63 characters, starting with a letter"
        )
    return name


def container_name(name: str) -> str:
    """``name`` checked against Azure's container rules (lowercase letters, digits and
    single hyphens, 3-63 long, starting and ending alphanumeric). Raises
    ConfigurationError."""
    if not _CONTAINER_NAME.match(name):
        raise ConfigurationError(
            f"container name {name!r} breaks Azure's rules: lowercase letters, digits and "
            "single hyphens, 3-63 characters"
        )
    return name
