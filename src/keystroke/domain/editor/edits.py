"""Edits to a document's text (pure): applying an editor's change where it says, or finding it by comparison.

An LSP client sends each change as a range and its new text, the range in its position units (UTF-16 code
units unless another encoding was negotiated); `apply_edit` applies one to the text it was made against and
returns what changed. A client that sends whole texts (the playground, full-sync editors) has its change
found by `text_change`, a comparison of the two texts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from keystroke.domain.context.active import common_prefix

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
Units = Literal["utf-8", "utf-16", "utf-32"]  # how a client counts columns (LSP's position encodings)
Position = tuple[int, int]  # (line, column), 0-based


@dataclass(frozen=True)
class TextEdit:
    """The text from `start` to `end` (columns in the client's units) replaced by `text`."""

    start: Position
    end: Position
    text: str


@dataclass(frozen=True)
class Change:
    """What an edit did, in code points: `removed` at `start` replaced by `inserted`."""

    start: int
    removed: str
    inserted: str

    @property
    def cursor(self) -> int:
        """Where the cursor is after it: the end of what was inserted."""
        return self.start + len(self.inserted)


def text_change(old: str, new: str) -> Change:
    """The single change that turns `old` into `new` (common prefix and suffix kept)."""
    start = common_prefix(old, new)
    limit = min(len(old), len(new)) - start
    tail = common_prefix(old[::-1][:limit], new[::-1][:limit]) if limit > 0 else 0
    return Change(start, old[start : len(old) - tail], new[start : len(new) - tail])


def apply_edit(text: str, edit: TextEdit, units: Units = "utf-16") -> tuple[str, Change]:
    """`text` with `edit` applied, and the change it made."""
    start, end = offset_at(text, edit.start, units), offset_at(text, edit.end, units)
    end = max(start, end)
    return text[:start] + edit.text + text[end:], Change(start, text[start:end], edit.text)


def offset_at(text: str, position: Position, units: Units = "utf-16") -> int:
    """The code-point offset of `position`; past the end of its line, the line's end; past the last line, the
    text's end (as LSP says a client's out-of-range position is read). Lines end at `\n`, `\r\n` or `\r`,
    as LSP counts them."""
    line, column = position
    start, ends = 0, _LINE_BREAK.finditer(text)
    for _ in range(line):
        found = next(ends, None)
        if found is None:
            return len(text)
        start = found.end()
    end = _LINE_BREAK.search(text, start)
    row = text[start : len(text) if end is None else end.start()]
    if units == "utf-32":
        return start + min(column, len(row))
    encoding, width = ("utf-16-le", 2) if units == "utf-16" else ("utf-8", 1)
    head = row.encode(encoding, "surrogatepass")[: max(0, column) * width]
    return start + len(head.decode(encoding, "ignore"))
