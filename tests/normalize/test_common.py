"""The parsing helpers: exact money, minor units, time zones, canonical content hashing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import MalformedPayloadError
from shared.normalize._common import (
    Context,
    canonical_json,
    content_hash,
    divide_exact,
    from_minor_units,
    minor_unit_digits,
    parse_currency,
    parse_day,
    parse_decimal,
    parse_epoch,
    parse_instant,
    tab_rows,
)

CTX = Context("amazon", "orders", "acct")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("11.01", Decimal("11.01")),
        (" 1500 ", Decimal("1500")),
        ("-0.30", Decimal("-0.30")),
        (25.37, Decimal("25.37")),  # a JSON float keeps its shortest decimal text
        (0.1, Decimal("0.1")),
        (10, Decimal("10")),
        (Decimal("3.220"), Decimal("3.220")),
        ("1e2", Decimal("100")),
    ],
)
def test_parse_decimal_is_exact(raw: object, expected: Decimal) -> None:
    assert parse_decimal(raw) == expected
    assert str(parse_decimal(raw)) == str(expected)


@pytest.mark.parametrize("raw", [True, None, "", "1,00", "12.3.4", "NaN", "Infinity", [], "$5"])
def test_parse_decimal_refuses(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_decimal(raw)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4))
def test_decimal_text_round_trips(value: Decimal) -> None:
    assert parse_decimal(str(value)) == value


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_json_floats_become_their_shortest_decimal(value: float) -> None:
    assert float(parse_decimal(value)) == value


@pytest.mark.parametrize(
    ("minor", "currency", "expected"),
    [
        (1999, "USD", Decimal("19.99")),
        (1999, "JPY", Decimal("1999")),  # zero-decimal: yen have no minor unit
        (1999, "KRW", Decimal("1999")),
        (1999, "KWD", Decimal("1.999")),  # three-decimal
        (-250, "EUR", Decimal("-2.50")),
        ("700", "USD", Decimal("7.00")),
    ],
)
def test_minor_units_follow_the_currency_exponent(
    minor: object, currency: str, expected: Decimal
) -> None:
    assert from_minor_units(minor, currency) == expected


@given(st.integers(-(10**15), 10**15), st.sampled_from(["USD", "JPY", "KRW", "KWD", "EUR"]))
def test_minor_units_round_trip(minor: int, currency: str) -> None:
    assert from_minor_units(minor, currency).scaleb(minor_unit_digits(currency)) == minor


@pytest.mark.parametrize("raw", [19.99, "19.99", True, None])
def test_minor_units_must_be_integers(raw: object) -> None:
    with pytest.raises(ValueError):
        from_minor_units(raw, "USD")


@pytest.mark.parametrize(
    ("amount", "divisor", "expected"),
    [
        (1999, 100, Decimal("19.99")),
        (1500, 1, Decimal("1500")),  # JPY on Etsy: divisor 1
        (12345, 1000, Decimal("12.345")),
        (-500, 100, Decimal("-5")),
        (1, 8, Decimal("0.125")),
    ],
)
def test_etsy_amount_over_divisor(amount: int, divisor: int, expected: Decimal) -> None:
    assert divide_exact(amount, divisor) == expected


@pytest.mark.parametrize(("amount", "divisor"), [(1, 3), (100, 0), (100, -100), (1.5, 10)])
def test_etsy_division_must_be_exact_and_sane(amount: object, divisor: object) -> None:
    with pytest.raises(ValueError):
        divide_exact(amount, divisor)


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2020-02-05T13:56:00.363Z", datetime(2020, 2, 5, 13, 56, 0, 363000, tzinfo=UTC)),
        ("2024-03-01T09:15:00-05:00", datetime(2024, 3, 1, 14, 15, tzinfo=UTC)),  # Shopify shop
        ("2026-10-31T21:34:56+09:00", datetime(2026, 10, 31, 12, 34, 56, tzinfo=UTC)),  # JP
        ("2026-01-01T05:00:00+09:00", datetime(2025, 12, 31, 20, 0, tzinfo=UTC)),  # year back
        ("2024-03-10T01:30:00-08:00", datetime(2024, 3, 10, 9, 30, tzinfo=UTC)),
        ("2024-03-10T03:30:00-07:00", datetime(2024, 3, 10, 10, 30, tzinfo=UTC)),  # after DST
        ("2019-08-04T19:09:02.768z", datetime(2019, 8, 4, 19, 9, 2, 768000, tzinfo=UTC)),
    ],
)
def test_instants_become_utc(text: str, utc: datetime) -> None:
    parsed = parse_instant(text)
    assert parsed == utc and parsed.tzinfo is UTC


@pytest.mark.parametrize("text", ["2024-03-01T09:15:00", "2024-03-01", "yesterday", "", 1700000000])
def test_instants_without_offset_are_refused(text: object) -> None:
    with pytest.raises(ValueError):
        parse_instant(text)


def test_epoch_seconds() -> None:
    assert parse_epoch(1717200000) == datetime(2024, 6, 1, tzinfo=UTC)
    assert parse_epoch("946684800") == datetime(2000, 1, 1, tzinfo=UTC)
    for bad in (1717200000000, -1, 1717200000.5, True, "2024-06-01"):
        with pytest.raises(ValueError):
            parse_epoch(bad)


def test_dates_become_utc_midnight_of_that_day() -> None:
    assert parse_day("2026-03-29") == datetime(2026, 3, 29, tzinfo=UTC)
    for bad in ("2026-02-30", "2026-3-29", "2026-03-29T00:00:00Z", 20260329):
        with pytest.raises(ValueError):
            parse_day(bad)


def test_currency_codes() -> None:
    assert parse_currency("usd") == "USD"
    for bad in ("US", "US$", 840, None):
        with pytest.raises(ValueError):
            parse_currency(bad)


def test_canonical_json_ignores_key_order_and_number_spelling() -> None:
    a = {"b": [1, {"y": 25.37, "x": "t"}], "a": None, "c": 10.0}
    b = {"c": Decimal("10"), "a": None, "b": [Decimal("1.0"), {"x": "t", "y": Decimal("25.370")}]}
    assert canonical_json(a) == canonical_json(b)
    assert content_hash("L", a) == content_hash("L", b)
    assert content_hash("L", a) != content_hash("M", a)
    assert canonical_json({"n": -0.0}) == canonical_json({"n": 0})


def _reference_canonical(value: object) -> str:
    """canonical_json as first written (one general path): the fast paths must agree."""
    if value is None or isinstance(value, bool | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int) and -(10**27) < value < 10**27:
        return str(value)
    if isinstance(value, int | float | Decimal):
        number = parse_decimal(value)
        return "0" if number == 0 else format(number.normalize(), "f")
    if isinstance(value, dict):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{json.dumps(k)}:{_reference_canonical(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_reference_canonical(v) for v in value) + "]"
    raise TypeError(type(value).__name__)


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.decimals(allow_nan=False, allow_infinity=False, places=4)
    | st.text(max_size=6)
)
_KEYS = st.text(max_size=4) | st.sampled_from(["Amount", "é", 'a"b', "CurrencyAmount"])
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(_KEYS, inner, max_size=4)
        | st.dictionaries(st.integers(0, 20), inner, max_size=3)
    ),  # non-string keys: str(k) order
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_canonical_json_is_the_general_form_whatever_the_path(value: object) -> None:
    assert canonical_json(value) == _reference_canonical(value)
    assert canonical_json([value, value]) == _reference_canonical([value, value])  # cached


@given(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=6))
def test_content_hash_is_order_independent(mapping: dict) -> None:
    reordered = dict(reversed(list(mapping.items())))
    assert content_hash(mapping) == content_hash(reordered)


def test_node_errors_name_platform_resource_and_path() -> None:
    node = CTX.node({"Orders": [{"AmazonOrderId": 7, "When": "soon"}]}, "$.payload")
    order = node.objs("Orders")[0]
    with pytest.raises(MalformedPayloadError) as info:
        order.text("AmazonOrderId")
    assert info.value.platform == "amazon" and info.value.resource == "orders"
    assert info.value.field == "$.payload.Orders[0].AmazonOrderId"
    with pytest.raises(MalformedPayloadError, match="When"):
        order.instant("When")
    with pytest.raises(MalformedPayloadError, match=r"Missing.*is missing"):
        order.text("Missing")
    assert order.opt_text("Missing") is None


def test_tab_rows_check_header_and_cell_counts() -> None:
    rows = tab_rows(CTX, "\ufeffa\tb\n1\t2\n\n3\t\n", ("a",))
    assert [r.data for r in rows] == [{"a": "1", "b": "2"}, {"a": "3", "b": ""}]
    assert rows[1].path == "line[4]"
    with pytest.raises(MalformedPayloadError, match="column missing") as info:
        tab_rows(CTX, "a\tb\n", ("c",))
    assert info.value.field == "line[1].c"
    with pytest.raises(MalformedPayloadError) as info:
        tab_rows(CTX, "a\tb\n1\t2\t3\n", ("a",))
    assert info.value.field == "line[2]"
    with pytest.raises(MalformedPayloadError, match="no header"):
        tab_rows(CTX, "", ("a",))


def test_money_built_once_per_exact_amount_and_currency() -> None:
    from shared.models import Money

    first = CTX.money("$.a", Decimal("12.30"), "USD")
    assert first == Money(amount=Decimal("12.30"), currency="USD")
    assert CTX.money("$.b", Decimal("12.30"), "USD") is first  # frozen: shared
    other = CTX.money("$.c", Decimal("12.3"), "USD")  # equal value, other digits: its own
    assert other.amount.as_tuple() == Decimal("12.3").as_tuple() and other is not first
    assert CTX.money("$.d", Decimal("12.30"), "EUR").currency == "EUR"
    assert CTX.money("$.e", 7, "USD").amount == Decimal(7)
    for _ in range(2):  # a refusal is raised every time, naming its path
        with pytest.raises(MalformedPayloadError, match=r"\$\.bad"):
            CTX.money("$.bad", Decimal("1"), "usd")
