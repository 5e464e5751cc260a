"""How deep to look for context, from the rhythm of the user's typing (time is injected).

The model keeps, per session, the moment of the last keystroke and how much text it added. The pause
before the current keystroke picks the depth:

- fast typing (pause < `fast_ms`, 150 ms) and anything up to `refresh_ms`: LIGHT — prefix, suffix and the
  snippets already collected; nothing is searched, so consecutive prompts share their whole context;
- a pause of `refresh_ms`..`full_ms` (250-500 ms): REFRESH — retrieval runs again;
- a longer pause (> `full_ms`): FULL — every source, and related files are prefetched.

A paste (more than `paste_chars` arriving at once) holds collection at LIGHT until the text settles: the next
keystroke that adds little text after a pause ends the hold.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


class Depth(enum.IntEnum):
    LIGHT = 0
    REFRESH = 1
    FULL = 2


@dataclass(frozen=True)
class Thresholds:
    fast_ms: float = 150.0
    refresh_ms: float = 250.0
    full_ms: float = 500.0
    paste_chars: int = 200


class TypingModel:
    """One session's rhythm. Not thread-safe: one model per session, driven from one task."""

    def __init__(self, thresholds: Thresholds | None = None, clock: Clock = time.monotonic) -> None:
        self.thresholds = thresholds or Thresholds()
        self._clock = clock
        self._last: float | None = None
        self._pasting = False
        self.last_interval_ms: float | None = None

    def observe(self, added_chars: int, at: float | None = None) -> Depth:
        """Record a keystroke that changed the text by `added_chars` characters (at `at` seconds on this
        model's clock, default now); the depth it gets."""
        now = self._clock() if at is None else at
        interval = None if self._last is None else (now - self._last) * 1000
        self._last = now
        self.last_interval_ms = interval
        limits = self.thresholds
        if abs(added_chars) > limits.paste_chars:
            self._pasting = True
            return Depth.LIGHT
        if interval is None:
            return Depth.FULL  # the first keystroke of a session: nothing collected yet
        if self._pasting:
            if interval < limits.refresh_ms:
                return Depth.LIGHT
            self._pasting = False  # settled: a small change after a pause
        if interval > limits.full_ms:
            return Depth.FULL
        if interval >= limits.refresh_ms:
            return Depth.REFRESH
        return Depth.LIGHT

    def depth_after(self, now: float) -> Depth:
        """The depth the pause since the last keystroke earns by itself (FULL before any keystroke)."""
        if self._last is None:
            return Depth.FULL
        pause = (now - self._last) * 1000
        if pause > self.thresholds.full_ms:
            return Depth.FULL
        return Depth.REFRESH if pause >= self.thresholds.refresh_ms and not self._pasting else Depth.LIGHT

    @property
    def pasting(self) -> bool:
        return self._pasting
