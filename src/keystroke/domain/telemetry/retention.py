"""Accepted-and-retained characters: how much of an accepted suggestion is still in the document later.

An accepted piece of text is tracked as spans of its surviving characters, in the document's current
offsets. Every later edit moves the spans (text inserted or removed before them) and removes the characters
it deletes; text typed inside a span splits it and does not count as retained (it is the user's, not the
model's). At each horizon (30 s, 2 min and 5 min after acceptance) the surviving count is reported. Pure
functions plus a small tracker that takes the time as an argument, so tests script edits with a fake clock.
Not thread-safe: the editor session's event loop drives it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HORIZONS_S = (30.0, 120.0, 300.0)
Span = tuple[int, int]  # [start, end) in code points of the current document


def through_edit(spans: list[Span], start: int, removed: int, inserted: int) -> list[Span]:
    """The spans after replacing `removed` characters at `start` with `inserted` new ones."""
    end, shift = start + removed, inserted - removed
    moved: list[Span] = []
    for a, b in spans:
        if a < start:
            moved.append((a, min(b, start)))
        if b > end:
            moved.append((max(a, end) + shift, b + shift))
    return [(a, b) for a, b in moved if b > a]


def surviving(spans: list[Span]) -> int:
    return sum(b - a for a, b in spans)


@dataclass(frozen=True)
class Retained:
    """One retention measurement of one accepted piece."""

    suggestion_id: str
    lane: str
    horizon_s: float
    chars: int  # accepted
    retained: int  # of those, still in the document


@dataclass
class _Piece:
    suggestion_id: str
    lane: str
    uri: str
    chars: int
    accepted_at: float
    spans: list[Span]
    horizons: list[float] = field(default_factory=lambda: list(HORIZONS_S))


class RetentionTracker:
    """Accepted pieces per document, measured at each horizon; at most `limit` pieces tracked at once (the
    oldest give way: their later horizons go unmeasured)."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self._pieces: list[_Piece] = []

    def __len__(self) -> int:
        return len(self._pieces)

    def accept(self, suggestion_id: str, lane: str, uri: str, start: int, chars: int, now: float) -> None:
        """`chars` characters of a suggestion were inserted at `start` (the document already holds them)."""
        if chars <= 0:
            return
        if len(self._pieces) >= self.limit:
            self._pieces.pop(0)
        self._pieces.append(_Piece(suggestion_id, lane, uri, chars, now, [(start, start + chars)]))

    def edited(self, uri: str, start: int, removed: int, inserted: int) -> None:
        for piece in self._pieces:
            if piece.uri == uri:
                piece.spans = through_edit(piece.spans, start, removed, inserted)

    def closed(self, uri: str) -> None:
        """The document is gone: its later edits are unknown, so its pending horizons are not measured."""
        self._pieces = [p for p in self._pieces if p.uri != uri]

    def due(self, now: float) -> list[Retained]:
        """The measurements whose horizon has passed since the last call; finished pieces are dropped."""
        found: list[Retained] = []
        for piece in self._pieces:
            while piece.horizons and now - piece.accepted_at >= piece.horizons[0]:
                horizon = piece.horizons.pop(0)
                found.append(Retained(piece.suggestion_id, piece.lane, horizon, piece.chars, surviving(piece.spans)))
        self._pieces = [p for p in self._pieces if p.horizons]
        return found
