"""What a context source hands back: items to place in the prompt, and what each source cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SourceName = Literal["definitions", "recent_edits", "neighbours", "retrieval"]

# Priority after the code before and after the cursor (which prompt assembly places itself).
PRIORITY: tuple[SourceName, ...] = ("definitions", "recent_edits", "neighbours", "retrieval")


@dataclass(frozen=True)
class ContextItem:
    source: SourceName
    filepath: str
    body: str
    line: int = 0  # where the body starts in its file (0-based); with filepath, its stable identity

    @property
    def end(self) -> int:
        """One past the last line the body covers."""
        return self.line + max(1, self.body.count("\n") + (0 if self.body.endswith("\n") else 1))

    @property
    def order_key(self) -> tuple[int, str, int]:
        """Deterministic placement: by source priority, then path, then position in the file."""
        return PRIORITY.index(self.source), self.filepath, self.line


@dataclass(frozen=True)
class SourceReport:
    source: SourceName
    ms: float
    items: int
    status: Literal["ok", "timeout", "error"]
