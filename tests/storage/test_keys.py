import pytest

from shared.errors import ConfigurationError
from shared.storage.keys import (
    HASHED_MARK,
    MAX_KEY_BYTES,
    bounded_key,
    container_name,
    escape_key,
    join_key,
    prefix_range,
    split_key,
    table_name,
    unescape_key,
)

AWKWARD = [
    "plain-123",
    "a/b",
    "a\\b",
    "#1?x=2",
    "100%",
    "%2F",
    "pipe|inside",
    "O'Brien",
    "tab\tnew\nline\x00\x7f\x9f",
    "Ünïcødé — 注文 😀",
    "",
]


@pytest.mark.parametrize("text", AWKWARD)
def test_escape_is_reversible_and_allowed(text: str) -> None:
    key = escape_key(text)
    assert unescape_key(key) == text
    assert not any(c in key for c in "/\\#?|")
    assert all(not (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F) for c in key)


def test_unicode_is_kept_readable() -> None:
    assert escape_key("注文 😀") == "注文 😀"
    assert escape_key("a/b|c%") == "a%2Fb%7Cc%25"


def test_join_and_split_are_inverse() -> None:
    parts = ["c|1", "amazon", "a/b", ""]
    assert split_key(join_key(*parts)) == parts
    assert join_key("a|b", "c") != join_key("a", "b|c")


def test_prefix_range_bounds_exactly_the_prefix() -> None:
    low, high = prefix_range(join_key("c1", "shopify") + "|")
    inside = [join_key("c1", "shopify", "x"), join_key("c1", "shopify", "~~~")]
    outside = [join_key("c1", "shopifyx", "x"), join_key("c10", "shopify", "x")]
    assert all(low <= k < high for k in inside)
    assert not any(low <= k < high for k in outside)


def test_bounded_key_keeps_short_keys_and_hashes_long_ones() -> None:
    assert bounded_key("short") == "short"
    long = escape_key("x/" * 400)
    hashed = bounded_key(long)
    assert hashed == bounded_key(long) and HASHED_MARK in hashed
    assert len(hashed.encode("utf-16-le")) <= MAX_KEY_BYTES
    assert bounded_key(escape_key("y/" * 400)) != hashed
    with pytest.raises(ValueError):
        unescape_key(hashed)


@pytest.mark.parametrize("prefix", ["1abc", "t-x", "t_x", "x" * 60])
def test_bad_table_names_are_configuration_errors(prefix: str) -> None:
    with pytest.raises(ConfigurationError):
        table_name(prefix, "records")


def test_good_names_pass() -> None:
    assert table_name("trib", "records") == "tribrecords"
    assert container_name("raw-pages") == "raw-pages"
    for bad in ("Raw", "ab", "a--b", "-ab", "ab-"):
        with pytest.raises(ConfigurationError):
            container_name(bad)
