"""From raw model text to what the editor shows: the First Action, a block, or an abstention with a reason.

`shape` is a pure function of everything generated so far. The engine calls it after every token (through
`stop_check`) to stop decoding the moment the answer is complete; the service calls it to find what can be
streamed. Rules:
- **inline**: the first line with content (after at most one leading newline) is the answer; it is complete
  when its newline arrives. On an empty line a leading newline is dropped and the line moves up onto the
  cursor's line. Text that already follows the cursor is not repeated (`trim_overlap`).
- **multiline**: the first line, then following lines until the block ends: a blank line, a line indented
  less than the first (a lone closing bracket line is kept), a line that is where the suffix continues, or
  `max_lines`. A line cut by the token cap is dropped.
- **abstain** (empty text, with a reason): nothing generated, only blank lines, the first line cut by the token
  cap, a line that only repeats the line above, or one that duplicates the code after the cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from keystroke.domain.cursor import CursorContext, indent_width
from keystroke.domain.engines.base import StopCheck
from keystroke.domain.postprocess.overlap import trim_overlap

Mode = Literal["inline", "multiline"]
Tail = Literal["open", "complete", "truncated"]
"""State of the last, unterminated line: still being generated, ended by the model, or cut by a cap."""

ABSTAIN_REASONS = {
    "empty": "the model produced no code",
    "blank_lines": "the model produced only blank lines",
    "truncated": "the token cap cut the first line",
    "repeats_previous_line": "the suggestion only repeats the line above",
    "duplicates_suffix": "the suggestion duplicates the code after the cursor",
    "cancelled": "a newer request of the same session cancelled this one",
}

_CLOSING_LINE = frozenset(")]}>;, ")


@dataclass(frozen=True)
class Shaped:
    text: str
    complete: bool
    abstain: str | None = None


def shape(raw: str, ctx: CursorContext, mode: Mode, *, tail: Tail = "open", max_lines: int = 1) -> Shaped:
    lines = [line.rstrip() for line in raw.split("\n")]
    usable = lines if tail == "complete" else lines[:-1]
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None or start > 1:
        if start is None and len(usable) < 2 and tail == "open":
            return Shaped("", complete=False)
        return _abstain("blank_lines" if len(usable) >= 2 else "empty")
    if start >= len(usable):
        return _abstain("truncated") if tail == "truncated" else Shaped("", complete=False)
    line, new_line = _lift(lines[start], start == 1, ctx)
    reason = _first_line_problem(line, new_line, ctx)
    if reason is not None:
        return _abstain(reason)
    first = ("\n" if new_line else "") + line
    if mode == "inline":
        text = trim_overlap(first, ctx.line_prefix, ctx.line_suffix)
        return Shaped(text, complete=True) if text.strip() else _abstain("duplicates_suffix")
    return _block(first, line, new_line, usable[start + 1 :], ctx, tail, max_lines)


def stop_check(ctx: CursorContext, mode: Mode, max_lines: int) -> StopCheck:
    """The engine-side predicate: has enough been generated for `shape` to be complete?"""

    def check(raw: str) -> bool:
        return shape(raw, ctx, mode, max_lines=max_lines).complete

    return check


def _block(
    first: str, first_line: str, new_line: bool, following: list[str], ctx: CursorContext, tail: Tail, limit: int
) -> Shaped:
    base = indent_width(first_line if new_line else ctx.line_prefix + first_line)
    kept = [first]
    continues = ctx.next_line.strip()
    for line in following:
        if len(kept) >= limit or not line.strip() or line.strip() == continues:
            return Shaped("\n".join(kept), complete=True)
        if indent_width(line) < base:
            if set(line.strip()) <= _CLOSING_LINE:
                kept.append(line)
            return Shaped("\n".join(kept), complete=True)
        kept.append(line)
    done = tail != "open" or len(kept) >= limit
    return Shaped("\n".join(kept), complete=done)


def _lift(line: str, new_line: bool, ctx: CursorContext) -> tuple[str, bool]:
    """On an empty line, a suggestion that starts with a newline belongs on the cursor's own line instead
    (no gratuitous blank line), when its indentation starts with what the line already has."""
    if new_line and not ctx.line_prefix.strip() and line.startswith(ctx.line_prefix):
        return line[len(ctx.line_prefix) :], False
    return line, new_line


def _first_line_problem(line: str, new_line: bool, ctx: CursorContext) -> str | None:
    completed = line if new_line else ctx.line_prefix + line
    above = ctx.line_prefix + ctx.line_suffix if new_line else ctx.previous_line
    if completed.strip() == above.strip():
        return "repeats_previous_line"
    if completed.strip() == ctx.next_line.strip():
        return "duplicates_suffix"
    return None


def _abstain(reason: str) -> Shaped:
    return Shaped("", complete=True, abstain=reason)
