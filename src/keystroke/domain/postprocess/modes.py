"""Choosing between an inline (one line) and a multi-line completion when the caller says `auto`."""

from __future__ import annotations

from typing import Literal

from keystroke.domain.cursor import CursorContext
from keystroke.domain.postprocess.shaping import Mode

RequestedMode = Literal["inline", "multiline", "auto"]


def resolve_mode(requested: RequestedMode, ctx: CursorContext) -> Mode:
    """`auto`: a block on an empty line or after a block opener (`def f():|`), else one line."""
    if requested != "auto":
        return requested
    return "multiline" if ctx.at_blank_line or ctx.after_block_opener else "inline"
