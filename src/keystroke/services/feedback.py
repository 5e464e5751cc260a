"""What became of the editor's suggestions: the telemetry events of one editor session, and where they go.

The editor service calls in at four points: a request ends (`shown`, `abstained` or `stale`), the document
changes (a shown suggestion the user types against is `typed_over`; accepted text is followed for
retention), the user accepts (whole, or a word at a time) or dismisses. Retention measurements come due at
30 s, 2 min and 5 min after an accept (`tick`, with the injected clock). Events wait in a bounded buffer and
go to the sink in batches (`flush`): the gateway's `POST /v1/events`, or the telemetry store in-process.
Metadata only: ids, lanes, lengths and timings, never text. Not thread-safe: one event loop drives it.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from keystroke.domain.telemetry.events import Event, Kind
from keystroke.domain.telemetry.retention import RetentionTracker
from keystroke.errors import KeystrokeError

log = logging.getLogger(__name__)

BUFFER = 10_000  # events kept while the sink is unreachable; the oldest are dropped beyond it
SHOWN_KEPT = 256  # shown suggestions remembered for a later accept or dismiss


class TelemetrySink(Protocol):
    async def report(self, events: list[Event]) -> None:
        """Deliver the events; raise `KeystrokeError` if they could not be (they are kept and sent again)."""
        ...


@dataclass
class _Shown:
    """A shown suggestion: `text` goes at offset `at`, replacing `replace` characters before it."""

    id: str
    uri: str
    lane: str
    at: int
    replace: int
    text: str
    typed: int = 0  # characters of it the user has typed (or accepted word by word) since
    resolved: bool = False  # accepted in full, dismissed or typed over


class Feedback:
    def __init__(self, sink: TelemetrySink | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.sink = sink
        self._clock = clock
        self._events: deque[Event] = deque(maxlen=BUFFER)
        self._shown: dict[str, _Shown] = {}  # by suggestion id, the newest SHOWN_KEPT
        self._pending: dict[str, _Shown] = {}  # by document: its newest shown suggestion
        self.retention = RetentionTracker()

    @property
    def waiting(self) -> int:
        return len(self._events)

    def outcome(self, kind: Kind, lane: str, language: str | None) -> None:
        """A request ended without showing anything: `abstained` or `stale`."""
        self._events.append(Event(kind, lane=lane, language=language or ""))

    def shown(
        self, uri: str, suggestion_id: str, lane: str, language: str | None, at: int, replace: int, text: str,
        latency_ms: float,
    ) -> None:  # fmt: skip
        shown = _Shown(suggestion_id, uri, lane, at, replace, text)
        self._shown[suggestion_id] = self._pending[uri] = shown
        while len(self._shown) > SHOWN_KEPT:
            self._shown.pop(next(iter(self._shown)))
        event = Event("shown", suggestion_id, lane, language or "", len(text), latency_ms=round(latency_ms, 3))
        self._events.append(event)

    def edited(self, uri: str, start: int, removed: str, inserted: str) -> None:
        self.retention.edited(uri, start, len(removed), len(inserted))
        shown = self._pending.get(uri)
        if shown is None or shown.resolved:
            return
        if _follows(shown, start, removed, inserted):
            if shown.replace:  # the word before the cursor was corrected: the suggestion is in, whole
                shown.at, shown.replace, shown.typed = shown.at - shown.replace, 0, len(shown.text)
            else:
                shown.typed += len(inserted)
            return
        shown.resolved = True
        self._pending.pop(uri, None)
        self._events.append(Event("typed_over", shown.id, shown.lane, chars=len(shown.text) - shown.typed))

    def accepted(self, suggestion_id: str, start: int | None = None, chars: int | None = None) -> bool:
        """The user accepted the suggestion (the document already holds the text): all of it, or `chars`
        characters inserted at `start` (a word-by-word accept). False for an unknown or settled id."""
        shown = self._shown.get(suggestion_id)
        if shown is None or shown.resolved:
            return False
        whole = start is None or chars is None
        if start is None or chars is None:
            start, chars = shown.at - shown.replace, len(shown.text)
        if whole or shown.typed >= len(shown.text):
            shown.resolved = True  # nothing of it is left to accept
        self.retention.accept(shown.id, shown.lane, shown.uri, start, chars, self._clock())
        self._events.append(Event("accepted", shown.id, shown.lane, chars=chars))
        return True

    def dismissed(self, suggestion_id: str) -> bool:
        shown = self._shown.get(suggestion_id)
        if shown is None or shown.resolved:
            return False
        shown.resolved = True
        self._events.append(Event("dismissed", shown.id, shown.lane, chars=len(shown.text) - shown.typed))
        return True

    def closed(self, uri: str) -> None:
        self._pending.pop(uri, None)
        self.retention.closed(uri)

    def tick(self) -> None:
        """Measure the retention horizons that have come due."""
        for found in self.retention.due(self._clock()):
            self._events.append(
                Event("retained", found.suggestion_id, found.lane, chars=found.chars, horizon_s=found.horizon_s,
                      retained=found.retained)
            )  # fmt: skip

    def take(self) -> list[Event]:
        """The buffered events, removed from the buffer."""
        events = list(self._events)
        self._events.clear()
        return events

    async def flush(self) -> int:
        """Send the buffered events; on failure they are kept (up to BUFFER) for the next flush."""
        self.tick()
        if self.sink is None or not self._events:
            return 0
        events = self.take()
        try:
            await self.sink.report(events)
        except KeystrokeError as exc:
            log.warning("telemetry not delivered (%d events kept): %s", len(events), exc)
            self._events.extendleft(reversed(events))
            return 0
        return len(events)


def _follows(shown: _Shown, start: int, removed: str, inserted: str) -> bool:
    """Whether an edit goes along with the suggestion: typing (or accepting) its next characters."""
    if shown.replace and shown.typed == 0:
        # accepting a correction of the word before the cursor: the edit, as the smallest difference between
        # the two texts, lies within that word and inserts part of the correction
        return shown.at - shown.replace <= start and start + len(removed) <= shown.at and inserted in shown.text
    rest = shown.text[shown.typed :]
    return removed == "" and start == shown.at + shown.typed and bool(inserted) and rest.startswith(inserted)
