"""The one JSON reader for untrusted bytes: limits, messages, and properties over generated input."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keystroke.errors import RequestError
from keystroke.transports import json_reader

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)  # fmt: skip


@given(JSON_VALUES)
def test_any_json_within_the_limits_reads_as_the_standard_library_reads_it(value: Any) -> None:
    data = json.dumps(value).encode()
    assert json_reader.loads(data) == json.loads(data)


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_any_bytes_give_a_value_or_a_request_error_and_nothing_else(data: bytes) -> None:
    try:
        json_reader.loads(data)
    except RequestError as exc:
        message = exc.message
    else:
        return
    assert message.startswith("the body ")


@given(st.integers(min_value=65, max_value=3000), st.sampled_from(["[", '{"a":']))
def test_nesting_past_the_limit_is_refused_however_deep(depth: int, opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    with pytest.raises(RequestError, match="deeper than 64"):
        json_reader.loads((opening * depth + "1" + closing * depth).encode())


def test_nesting_at_the_limit_reads_and_brackets_inside_strings_do_not_count() -> None:
    nested: list[object] = []
    for _ in range(63):
        nested = [nested]
    assert json_reader.loads(b"[" * 64 + b"]" * 64) == nested
    assert json_reader.loads(json.dumps({"code": "[" * 10_000 + '\\"'}).encode()) == {"code": "[" * 10_000 + '\\"'}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"1" * 41, "number of 41 characters; the limit is 40"),
        (b"-0." + b"1" * 60, "number of 63 characters"),
        (b"1e400", "too large for a double"),
        (b"[NaN]", "NaN, which is not JSON"),
        (b"-Infinity", "-Infinity, which is not JSON"),
        (b'{"a": 1,}', "not valid JSON: Expecting property name enclosed in double quotes at line 1 column 9"),
        (b'"\xc3\x28"', "not valid UTF-8 (bad byte at offset 1)"),
    ],
)
def test_what_is_refused_and_what_the_message_says(body: bytes, says: str) -> None:
    with pytest.raises(RequestError) as caught:
        json_reader.loads(body)
    assert says in caught.value.message


def test_numbers_up_to_the_limit_read_exactly() -> None:
    assert json_reader.loads(b"9" * 40) == int("9" * 40)
    assert math.isclose(json_reader.loads(b"1.5e300"), 1.5e300)  # type: ignore[arg-type]


def test_surrogates_are_found_by_path_and_replaced_one_unit_for_one() -> None:
    value = json_reader.loads(b'{"a": ["ok", "x\\ud800y"], "b": "\\ud83d\\ude00"}')
    assert json_reader.may_hold_surrogates(b'"\\ud800"')
    assert json_reader.find_surrogate(value) == "a.1"
    cleaned = json_reader.replace_surrogates(value)
    assert cleaned == {"a": ["ok", "x\ufffdy"], "b": "\U0001f600"}
    assert json_reader.find_surrogate(cleaned) is None
