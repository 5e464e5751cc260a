"""Recently edited places, across files: the editor's or the gateway's own record of where the user worked.

Each place is (path, line) with the time it was last touched; touching the same neighbourhood again moves it
rather than adding one. Bounded to `capacity` places (the oldest go first); thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

NEIGHBOURHOOD_LINES = 10


@dataclass(frozen=True)
class EditPlace:
    filepath: str
    line: int
    at: float


class RecentEdits:
    def __init__(self, capacity: int = 32, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self._clock = clock
        self._places: OrderedDict[tuple[str, int], EditPlace] = OrderedDict()
        self._lock = threading.Lock()

    def touch(self, filepath: str, line: int) -> None:
        bucket = (filepath, line // NEIGHBOURHOOD_LINES)
        with self._lock:
            self._places.pop(bucket, None)
            self._places[bucket] = EditPlace(filepath, line, self._clock())
            while len(self._places) > self.capacity:
                self._places.popitem(last=False)

    def places(self, exclude: str | None = None, limit: int = 8) -> list[EditPlace]:
        """The most recent places first, outside `exclude` (the current file)."""
        with self._lock:
            newest = list(reversed(self._places.values()))
        return [place for place in newest if place.filepath != exclude][:limit]

    def clear(self) -> None:
        with self._lock:
            self._places.clear()
