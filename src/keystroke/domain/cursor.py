"""What the code around the cursor looks like, computed once per request from prefix and suffix.

Only the neighbourhood of the cursor is scanned (`rfind`/`find` from the cursor), so a 1 MB prefix costs
no more than a short one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

BLOCK_OPENERS = (":", "{", "(", "[", "=>", "->", " do", " then")


@dataclass(frozen=True)
class CursorContext:
    prefix: str
    suffix: str

    @cached_property
    def line_prefix(self) -> str:
        """Text of the cursor's line before the cursor."""
        return self.prefix[self.prefix.rfind("\n") + 1 :]

    @cached_property
    def line_suffix(self) -> str:
        """Text of the cursor's line after the cursor (the rest of the line)."""
        end = self.suffix.find("\n")
        return self.suffix if end < 0 else self.suffix[:end]

    @cached_property
    def previous_line(self) -> str:
        """The nearest non-blank line above the cursor's line ("" at the top of the file)."""
        end = self.prefix.rfind("\n")
        while end > 0:
            start = self.prefix.rfind("\n", 0, end) + 1
            line = self.prefix[start:end]
            if line.strip():
                return line
            end = start - 1
        return ""

    @cached_property
    def next_line(self) -> str:
        """The first non-blank line of the suffix, starting with the rest of the cursor's line."""
        start = 0
        while start <= len(self.suffix):
            end = self.suffix.find("\n", start)
            end = len(self.suffix) if end < 0 else end
            line = self.suffix[start:end]
            if line.strip():
                return line
            start = end + 1
        return ""

    @property
    def at_blank_line(self) -> bool:
        return not self.line_prefix.strip() and not self.line_suffix.strip()

    @property
    def after_block_opener(self) -> bool:
        return not self.line_suffix.strip() and self.line_prefix.rstrip().endswith(BLOCK_OPENERS)


def indent_width(line: str) -> int:
    """Width of a line's leading whitespace, tabs counted as 4."""
    stripped = line.lstrip(" \t")
    return len(line[: len(line) - len(stripped)].expandtabs(4))
