"""The one JSON reader for untrusted bytes: the gateway's request bodies and the language server's messages.

Python's `json` module follows a document as deep as it goes (about 20,000 levels of `[` end in a
RecursionError), turns a 5,000-digit number into an int whose every later `str()` raises ValueError, and reads
`NaN` and `Infinity`, which are not JSON. Here, before and while parsing:
- nesting deeper than `max_depth` is refused after a scan at C speed (strings removed by one regex, brackets
  kept by `bytes.translate`, depth by a running sum), so a 4 MB body of brackets costs milliseconds;
- a number longer than `max_number_chars` characters, a float that is not finite, and the constants `NaN`,
  `Infinity` and `-Infinity` are refused by the parser's own hooks;
- text that is not UTF-8 is refused with the offset of its first bad byte; syntax errors say line and column.

Every refusal is a `RequestError` (HTTP 400, JSON-RPC parse error) whose message says what was wrong and never
quotes the input. Unpaired UTF-16 surrogates (`"\\ud800"` decodes to a lone surrogate, which no encoder
accepts) are the caller's choice: `find_surrogate` names the first one, `replace_surrogates` replaces them with
U+FFFD (one UTF-16 unit each, so positions counted in UTF-16 stay right).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from keystroke.errors import RequestError

MAX_DEPTH = 64
MAX_NUMBER_CHARS = 40

_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def loads(data: bytes, *, max_depth: int = MAX_DEPTH, max_number_chars: int = MAX_NUMBER_CHARS) -> object:
    """The JSON value in `data` (UTF-8), within the limits; `RequestError` says what was wrong otherwise."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(f"the body is not valid UTF-8 (bad byte at offset {exc.start})") from exc
    check_depth(data, max_depth)
    try:
        return json.loads(
            text,
            parse_int=_bounded(int, max_number_chars),
            parse_float=_bounded(_finite_float, max_number_chars),
            parse_constant=_no_constant,
        )
    except json.JSONDecodeError as exc:
        raise RequestError(f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:  # unreachable within MAX_DEPTH; kept so no input can escape as a 500
        raise RequestError(f"the body nests deeper than {max_depth} levels") from exc


def check_depth(data: bytes, max_depth: int) -> None:
    """Refuse JSON text whose arrays and objects nest deeper than `max_depth` (strings do not count)."""
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return  # too few openings to nest that deep: the common case costs two counts
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    if len(brackets) <= max_depth:
        return
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1).astype(np.int32)
    if int(np.cumsum(steps).max()) > max_depth:
        raise RequestError(f"the body nests arrays or objects deeper than {max_depth} levels")


def find_surrogate(value: object, path: str = "") -> str | None:
    """The dotted path of the first string holding an unpaired UTF-16 surrogate ("" for the value itself)."""
    if isinstance(value, str):
        return path if _SURROGATE.search(value) else None
    items: list[tuple[str, object]] = []
    if isinstance(value, dict):
        items = [(str(key), item) for key, item in value.items()]
    elif isinstance(value, list):
        items = [(str(index), item) for index, item in enumerate(value)]
    for key, item in items:
        found = find_surrogate(item, f"{path}.{key}" if path else key)
        if found is not None:
            return found
    return None


def may_hold_surrogates(data: bytes) -> bool:
    """Whether JSON text escapes a surrogate at all (only then can a decoded string hold an unpaired one)."""
    return _SURROGATE_ESCAPE.search(data) is not None


def replace_surrogates(value: Any) -> Any:
    """`value` with every unpaired surrogate in its strings (and keys) replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {replace_surrogates(key): replace_surrogates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [replace_surrogates(item) for item in value]
    return value


def _bounded(convert: Callable[[str], object], limit: int) -> Callable[[str], object]:
    def parse(literal: str) -> object:
        if len(literal) > limit:
            raise RequestError(f"the body holds a number of {len(literal)} characters; the limit is {limit}")
        return convert(literal)

    return parse


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise RequestError("the body holds a number too large for a double-precision float")
    return value


def _no_constant(name: str) -> object:
    raise RequestError(f"the body holds {name}, which is not JSON")
