"""Admission control: how much work the gateway takes on, and what it refuses with 429.

Every completion request holds a `Ticket` from the moment the service accepts it to the moment it ends.
A request is refused (`OverloadedError`, HTTP 429 with Retry-After) when
- its tenant already has `per_tenant` requests in flight (one tenant cannot fill the engine's queue), or
- `max_in_flight` requests are in flight in all, or, for a multi-line request, half of that: multi-line work
  is refused first, so inline suggestions (the ones racing the next keystroke) keep a share of the engine.

Accepted requests carry a priority (inline before multi-line before background prefetches, in the engine's
queue) and a queue deadline:
a request still waiting for the engine after `inline_queue_ms` / `multiline_queue_ms` is dropped before it
reaches the engine (its user has typed on; the answer would be stale). Superseded requests are dropped the
same way, by their session's cancel token.

Retry-After: the recent mean time a request holds its ticket (an exponential average; when one ends, a place
is free), at least one second (the header's unit); the JSON body says it in milliseconds.

Used from the event loop only; not thread-safe. Time is injected (`clock`, seconds).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from keystroke.config import AdmissionSettings
from keystroke.domain.engines.base import BACKGROUND_PRIORITY, Deadline
from keystroke.domain.postprocess.shaping import Mode
from keystroke.errors import OverloadedError

INLINE, MULTILINE, BACKGROUND = 0, 1, BACKGROUND_PRIORITY  # engine queue priorities: lower first
_SMOOTHING = 0.2


@dataclass
class Ticket:
    tenant: str
    priority: int
    queue_deadline: Deadline  # by when the engine must have started the request (on the admission's clock)
    admitted_at: float
    released: bool = False


class AdmissionControl:
    def __init__(self, settings: AdmissionSettings, clock: Callable[[], float] = time.perf_counter) -> None:
        self.settings = settings
        self._clock = clock
        self._per_tenant: Counter[str] = Counter()
        self._in_flight = 0
        self._mean_hold_s = 0.25
        self.refused: Counter[str] = Counter()  # by reason: "tenant", "engine", "multiline"

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def admit(self, tenant: str, mode: Mode, background: bool = False) -> Ticket:
        """A ticket for one request, or OverloadedError saying which limit was hit and when to retry; a
        `background` one (a prefetch) goes behind all other work."""
        limits = self.settings
        multiline = mode != "inline"
        if self._per_tenant[tenant] >= limits.per_tenant:
            self._refuse("tenant", f"this tenant already has {limits.per_tenant} requests in flight")
        cap = limits.max_in_flight if not multiline else max(1, limits.max_in_flight // 2)
        if self._in_flight >= cap:
            reason = "multiline" if multiline and self._in_flight < limits.max_in_flight else "engine"
            what = "multi-line requests (half the engine's queue)" if reason == "multiline" else "requests"
            self._refuse(reason, f"the engine has {self._in_flight} {what} in flight (limit {cap})")
        now = self._clock()
        wait_ms = limits.multiline_queue_ms if multiline else limits.inline_queue_ms
        self._per_tenant[tenant] += 1
        self._in_flight += 1
        priority = BACKGROUND if background else MULTILINE if multiline else INLINE
        return Ticket(tenant, priority, Deadline(now + wait_ms / 1000, self._clock), now)

    def release(self, ticket: Ticket) -> None:
        if ticket.released:
            return
        ticket.released = True
        self._per_tenant[ticket.tenant] -= 1
        if self._per_tenant[ticket.tenant] <= 0:
            del self._per_tenant[ticket.tenant]
        self._in_flight -= 1
        held = self._clock() - ticket.admitted_at
        self._mean_hold_s += _SMOOTHING * (held - self._mean_hold_s)

    def _refuse(self, reason: str, message: str) -> None:
        self.refused[reason] += 1
        retry_ms = max(1000.0, self._mean_hold_s * 1000)
        seconds = math.ceil(retry_ms / 1000)
        raise OverloadedError(f"overloaded: {message}; retry in {seconds} s", retry_ms)
