"""When to ask for a completion: the trigger class of a keystroke and the debounce it gets.

After `.`, `(` or a newline the user is about to need a suggestion, so the request goes out at once. After an
ordinary character the user is probably still typing, so the request waits for a pause: about 150 ms, adapted
to the user's rhythm (a quarter more than their recent typical interval between keys, kept within
`min_ms`..`max_ms`), so a fast typist is not interrupted and a slow one does not wait for nothing. A deletion
waits like an ordinary character. Time is injected: the rhythm is fed the moments of keystrokes.

The same rhythm decides how deep to look for context (`typing_rate.py`): the pause before a keystroke (or
since the last one, when asked later) picks light, refresh or full collection, and a paste holds it light. One
model of the user's pace per document, fed by keystrokes, not by requests.
"""

from __future__ import annotations

import enum
import statistics
from collections import deque
from dataclasses import dataclass

from keystroke.domain.context.typing_rate import Depth, Thresholds, TypingModel

IMMEDIATE_CHARS = frozenset(".(\n")


class Trigger(enum.Enum):
    IMMEDIATE = "immediate"  # after `.`, `(` or a newline
    TYPING = "typing"  # an ordinary character or a deletion
    INVOKED = "invoked"  # the user asked explicitly (editor shortcut)


def classify(inserted: str, invoked: bool = False) -> Trigger:
    """The trigger class of a change that inserted `inserted` (empty for a deletion)."""
    if invoked:
        return Trigger.INVOKED
    stripped = inserted.rstrip(" \t")
    if stripped and stripped[-1] in IMMEDIATE_CHARS:
        return Trigger.IMMEDIATE
    return Trigger.TYPING


@dataclass(frozen=True)
class DebounceSettings:
    base_ms: float = 150.0
    min_ms: float = 100.0
    max_ms: float = 300.0
    factor: float = 1.25
    window: int = 8  # intervals remembered
    longest_ms: float = 1500.0  # a longer interval is a pause, not typing


class Rhythm:
    """The intervals between one document's recent keystrokes. Not thread-safe: one per document."""

    def __init__(self, settings: DebounceSettings | None = None, thresholds: Thresholds | None = None) -> None:
        self.settings = settings or DebounceSettings()
        self._last: float | None = None
        self._intervals: deque[float] = deque(maxlen=self.settings.window)
        self._pace = TypingModel(thresholds)
        self._depth = Depth.FULL  # of the last keystroke

    def keystroke(self, at: float, added_chars: int = 0) -> None:
        """Record a keystroke at `at` seconds (any monotonic clock) that changed the text by `added_chars`."""
        self._depth = self._pace.observe(added_chars, at)
        if self._last is not None:
            interval = (at - self._last) * 1000
            if 0 <= interval <= self.settings.longest_ms:
                self._intervals.append(interval)
        self._last = at

    def depth(self, now: float) -> Depth:
        """How deep to look for context for a request at `now`: the last keystroke's depth, or deeper if the
        user has paused since."""
        return max(self._depth, self._pace.depth_after(now))

    def delay_ms(self, trigger: Trigger) -> float:
        """How long to wait before asking, for a keystroke of this trigger class."""
        if trigger is not Trigger.TYPING:
            return 0.0
        settings = self.settings
        if len(self._intervals) < 3:
            return settings.base_ms
        typical = statistics.median(self._intervals)
        return min(settings.max_ms, max(settings.min_ms, typical * settings.factor))
