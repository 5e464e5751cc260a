"""The telemetry event: what happened to one suggestion, as metadata only.

Kinds, per suggestion request that was not superseded (the *eligible* ones):
- `shown`: a suggestion was displayed (its lane, length and first-action latency);
- `abstained`: nothing to show (no lane had an answer); `stale`: the answer came after the user moved on;
and per shown suggestion, at most one of
- `accepted` (the explicit accept command; word-by-word accepts send one per piece), `dismissed` (Esc),
  `typed_over` (the user typed something the suggestion did not say);
and per accepted piece, `retained` at each horizon (30 s, 2 min, 5 min): how many of its characters remain.

No field can hold code: strings are short identifiers (checked at the HTTP boundary), the rest numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["shown", "abstained", "stale", "accepted", "dismissed", "typed_over", "retained"]
KINDS: tuple[Kind, ...] = ("shown", "abstained", "stale", "accepted", "dismissed", "typed_over", "retained")


@dataclass(frozen=True)
class Event:
    kind: Kind
    suggestion_id: str = ""
    lane: str = ""
    language: str = ""
    chars: int = 0  # shown or accepted characters
    latency_ms: float | None = None  # shown: from the request (debounce left out) to the suggestion
    horizon_s: float | None = None  # retained: seconds after acceptance
    retained: int | None = None  # retained: characters of `chars` still in the document
