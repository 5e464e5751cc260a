"""Which lane answers at the cursor, and why (pure: the line around the cursor in, a Route out).

- mid-expression right after `.` or `(`, or inside a partly typed name after them: the local semantic lane
  first (exact members and signatures from the editor's own analysis, in milliseconds);
- at the end of a line with code on it: the remote lane, one line;
- after a block opener (`def f():`, `if x:`, `{`) or on an empty line inside a block: the remote lane,
  several lines;
- otherwise (mid-line, more code after the cursor): the remote lane, one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Lane = Literal["local", "inline", "multiline"]

_MEMBER = re.compile(r"[\w)\]]\.\w*$")
_CALL_OPEN = re.compile(r"\w\(\s*\w*$")
_BLOCK_OPENER = re.compile(r"(?::|\{|=>|\bdo|\bthen)\s*(?:#.*)?$")


@dataclass(frozen=True)
class Route:
    lane: Lane
    reason: str


def route(line_before: str, line_after: str, previous_line: str = "") -> Route:
    """The lane for a cursor with `line_before` and `line_after` on its line, below `previous_line`."""
    if _MEMBER.search(line_before):
        return Route("local", "after a member access")
    if _CALL_OPEN.search(line_before):
        return Route("local", "inside a call's open parenthesis")
    if line_after.strip() == "" and _BLOCK_OPENER.search(line_before.rstrip()):
        return Route("multiline", "after a block opener")
    if line_before.strip() == "":
        if _BLOCK_OPENER.search(previous_line.rstrip()):
            return Route("multiline", "first line of a new block")
        if line_before and previous_line.strip():
            return Route("multiline", "empty line inside a block")
        return Route("inline", "empty line")
    if line_after.strip() == "":
        return Route("inline", "end of a line")
    return Route("inline", "middle of a line")


def route_at(prefix: str, suffix: str) -> Route:
    """The lane for a cursor between `prefix` and `suffix` (the document's text before and after it)."""
    line_start = prefix.rfind("\n") + 1
    previous_start = prefix.rfind("\n", 0, max(0, line_start - 1)) + 1
    line_end = suffix.find("\n")
    return route(
        prefix[line_start:],
        suffix if line_end < 0 else suffix[:line_end],
        prefix[previous_start : max(previous_start, line_start - 1)],
    )
