"""What the editor service reports: a shown `Suggestion`, and its running `EditorStats`."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field

from keystroke.domain.editor.router import Lane
from keystroke.domain.editor.session import Ticket
from keystroke.domain.statistics import percentiles

SuggestionLane = Lane | str  # a router lane, or "cache" / "inflight" / "fallback"


@dataclass(frozen=True)
class Suggestion:
    text: str  # to insert at the cursor, after removing `replace` characters before it
    lane: SuggestionLane
    reason: str
    ticket: Ticket
    replace: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])  # names it in telemetry events
    latency_ms: float = 0.0  # from the request (debounce left out) to this answer
    cached_ratio: float | None = None  # share of the model's prompt served from the KV cache, when known


@dataclass
class EditorStats:
    """Counters for the debug log, the `keystroke/stats` request and the replay benchmark."""

    keystrokes: int = 0
    requests: int = 0  # suggestion requests received from the editor
    invoked: int = 0  # of them, asked explicitly by the user (the rest came as they typed)
    sent: int = 0  # generations started on the remote lane
    cancelled: int = 0  # generations cancelled before they finished
    superseded: int = 0  # requests that ended in their debounce because the user typed on
    stale: int = 0  # answers that arrived for an older version or cursor and were dropped
    shown: int = 0
    cache_hits: int = 0
    typed_through: int = 0  # cache hits that continue a shown suggestion the user typed into
    inflight_reused: int = 0
    with_context: int = 0  # generations sent with snippets from the indexed workspace
    remote_errors: int = 0
    accepted: int = 0  # suggestions the editor reported accepted (the `keystroke.accepted` command)
    prefetch_started: int = 0  # next-line prefetches asked for (`prefetch.py`)
    prefetch_cancelled: int = 0  # of them, dropped by an edit that left the predicted text
    prefetch_hits: int = 0  # prefetched answers served from the cache
    prefetch_tokens: int = 0  # tokens decoded for prefetches that finished
    prefetch_used_tokens: int = 0  # of them, of prefetches that were served
    lanes: Counter[str] = field(default_factory=Counter)  # shown suggestions by lane
    answered_by: Counter[str] = field(default_factory=Counter)  # model answers by "serving lane · model"
    routes: Counter[tuple[str, str]] = field(default_factory=Counter)  # router decisions, (lane, reason)
    # per lane of shown suggestions: ms from the request (debounce wait left out) to the answer; the last 10,000
    latency_ms: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(lambda: deque(maxlen=10_000)))
    # the serving side's own first-action time for each remote answer (the floor under the remote lanes)
    serving_ms: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))

    def as_json(self) -> dict[str, object]:
        data = dict(self.__dict__)
        data["lanes"] = dict(self.lanes)
        data["answered_by"] = dict(self.answered_by)
        data["routes"] = [{"lane": lane, "reason": why, "count": n} for (lane, why), n in sorted(self.routes.items())]
        data["latency_ms"] = {lane: percentiles(list(values)) for lane, values in sorted(self.latency_ms.items())}
        data["serving_ms"] = percentiles(list(self.serving_ms))
        data["prefetch_wasted"] = self.prefetch_tokens - self.prefetch_used_tokens  # decoded, never served
        return data
