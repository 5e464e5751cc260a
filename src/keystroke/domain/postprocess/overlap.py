"""Never repeat what already follows the cursor on its line.

A left-to-right model does not see the rest of the line, so it closes the brackets and strings that were
opened before the cursor, which the editor already shows after it (`print(foo(|))`). `trim_overlap` removes
the end of the completion where it overlaps the start of the rest of the line, but only characters that close
something opened *before* the cursor (and `:;,` between them): `f(x)` before `))` is kept whole, `x))` before
`))` becomes `x`. A completion that ends with the whole rest of the line (three characters or more) loses
that copy too.
"""

from __future__ import annotations

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = frozenset(OPENERS.values())
QUOTES = frozenset("'\"`")
TRAILING_PUNCTUATION = frozenset(":;,")


def trim_overlap(text: str, line_prefix: str, rest_of_line: str) -> str:
    """`text` without the tail that the rest of the cursor's line already supplies."""
    rest = rest_of_line.strip()
    body = text.rstrip()
    if not rest:
        return body
    if len(rest) >= 3 and body.endswith(rest):
        return body[: len(body) - len(rest)].rstrip()
    closing = _closes_earlier(line_prefix, body)
    excess = 0
    for index in range(len(body) - 1, -1, -1):
        if index not in closing and body[index] not in TRAILING_PUNCTUATION:
            break
        excess += 1
    for size in range(min(len(rest), excess), 0, -1):
        if body.endswith(rest[:size]):
            return body[: len(body) - size]
    return body


class _Scanner:
    """Tracks open brackets and an open string across text, line-local and deliberately simple."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.quote: str | None = None
        self._escaped = False

    def step(self, char: str) -> str | None:
        """Advance by one character; returns what it closed: a closer, a quote, or None."""
        if self.quote is not None:
            if self._escaped:
                self._escaped = False
            elif char == "\\":
                self._escaped = True
            elif char == self.quote:
                self.quote = None
                return char
            return None
        if char in QUOTES:
            self.quote = char
        elif char in OPENERS:
            self.stack.append(OPENERS[char])
        elif char in CLOSERS and self.stack and self.stack[-1] == char:
            self.stack.pop()
            return char
        return None


def _closes_earlier(line_prefix: str, body: str) -> set[int]:
    """Positions in `body` that close a bracket or string opened in `line_prefix`."""
    scanner = _Scanner()
    for char in line_prefix:
        scanner.step(char)
    inherited_depth = len(scanner.stack)
    inherited_quote = scanner.quote
    positions: set[int] = set()
    for index, char in enumerate(body):
        depth = len(scanner.stack)
        in_inherited_string = inherited_quote is not None and scanner.quote == inherited_quote
        closed = scanner.step(char)
        if closed is None:
            continue
        if in_inherited_string:
            positions.add(index)
            inherited_quote = None
        elif closed in CLOSERS and depth <= inherited_depth:
            positions.add(index)
            inherited_depth = depth - 1
    return positions
