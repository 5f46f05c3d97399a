"""shared.jsontext gives what the standard library's json gives, values and errors."""

import json
import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import jsontext

COMPACT = {"ensure_ascii": False, "separators": (",", ":")}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@given(documents)
def test_dumps_writes_what_json_dumps_writes_and_loads_reads_it_back(value):
    text = json.dumps(value, **COMPACT)
    assert jsontext.loads(jsontext.dumps(value)) == json.loads(text)
    assert jsontext.loads(text) == json.loads(text)
    assert jsontext.loads(text.encode("utf-8", "surrogatepass")) == json.loads(text)


@given(documents)
def test_dumps_is_json_dumps_text_but_for_the_spelling_of_exponents(value):
    ours, theirs = jsontext.dumps(value), json.dumps(value, **COMPACT)
    if "e" not in theirs.lower():
        assert ours == theirs


@pytest.mark.parametrize(
    "text",
    [
        "18446744073709551616",  # 2**64: orjson would read a float
        "[-9223372036854775809]",
        '{"id": 123456789012345678901234567890}',
        "[NaN, Infinity, -Infinity]",
        "1e400",
        '"\\ud800"',  # a lone surrogate
    ],
)
def test_loads_reads_what_orjson_would_read_otherwise_as_json_does(text):
    ours, theirs = jsontext.loads(text), json.loads(text)
    assert repr(ours) == repr(theirs)  # the same types: a wide int stays an int
    assert type(ours) is type(theirs)


@pytest.mark.parametrize("text", ["", "{", '{"a": 1,}', "[1] x", "\x00"])
def test_loads_raises_json_error_for_what_is_not_json(text):
    with pytest.raises(json.JSONDecodeError) as ours:
        jsontext.loads(text)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    assert str(ours.value) == str(theirs.value)


def test_dumps_falls_back_to_json_for_what_orjson_refuses():
    value = {1: 2**80, None: [True], "s": "\ud800"}
    assert jsontext.dumps(value) == json.dumps(value, **COMPACT)


def test_dumps_calls_default_for_other_types_and_raises_without_it():
    assert jsontext.dumps({"a": Decimal("1.10")}, default=str) == '{"a":"1.10"}'
    with pytest.raises(TypeError):
        jsontext.dumps({"a": Decimal("1.10")})
    with pytest.raises(TypeError):
        jsontext.dumps({"a": object()})


def test_a_float_that_is_not_finite_is_written_null():
    assert jsontext.dumps([math.nan, math.inf]) == "[null,null]"
