"""One machine's CPU shared by the engines on it: one generation computes at a time, the most urgent first.

With a model per lane (a small model inline, a larger one for multi-line and explicit requests), two llama.cpp
contexts live in one process, each on its own worker thread. Run at once, they would share two cores and both
slow down, and the inline request, which must beat the next keystroke, would wait behind a multi-line decode
of the larger model. `CpuTurns` gives the CPU to one generation at a time:

- a worker takes a `Turn` before a generation (`acquire`, lower priority number first, then arrival order),
  and gives it back after (`release`);
- at every token boundary (each decoded token, each prefill chunk) the engine calls `checkpoint`: when a more
  urgent turn is waiting, the running one is **paused** there (its KV state stays in its own context), the
  urgent one runs, and the paused one resumes where it stopped;
- a paused or waiting generation that is cancelled meanwhile (superseded by a keystroke, its request's
  deadline passed) leaves at once, without computing again; a paused one whose `deadline` (on the clock it
  was set with) has passed when its turn comes back is **dropped**: cancelled with reason "preempted".

Nothing here polls: waiters sleep on one condition, woken by a release, a pause or a cancel. Thread-safe.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

from keystroke.domain.engines.base import CancelToken, Deadline

PREEMPTED = "preempted"


@dataclass(order=True)
class Turn:
    """One generation's claim on the CPU: ordered by (priority, arrival)."""

    priority: int
    order: int
    cancel: CancelToken = field(compare=False)
    deadline: Deadline | None = field(default=None, compare=False)  # drop it rather than resume it after this
    paused: int = field(default=0, compare=False)  # times it was paused for a more urgent turn


@dataclass
class TurnCounters:
    granted: int = 0
    paused: int = 0
    dropped: int = 0


class CpuTurns:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._waiting: list[Turn] = []  # a handful at most: scanned in order, skipping cancelled ones
        self._holder: Turn | None = None
        self._order = itertools.count()
        self.counters = TurnCounters()

    def acquire(self, priority: int, cancel: CancelToken, deadline: Deadline | None = None) -> Turn | None:
        """Wait for the CPU; the turn, or None when `cancel` was raised first (nothing to give back then)."""
        turn = Turn(priority, next(self._order), cancel, deadline)
        cancel.on_cancel(self._wake)
        with self._changed:
            self._waiting.append(turn)
            return turn if self._wait_for(turn) else None

    def checkpoint(self, turn: Turn) -> None:
        """A token boundary of the running `turn`: let a more urgent waiting turn run first, then go on. On
        return the caller holds the CPU again, unless its cancel token was raised (by a keystroke, its
        deadline, or here when it was dropped)."""
        with self._changed:
            urgent = self._most_urgent()
            if self._holder is not turn or urgent is None or urgent > turn:
                return
            turn.paused += 1
            self.counters.paused += 1
            self._holder = None
            self._waiting.append(turn)
            self._grant()
            if self._wait_for(turn) and turn.deadline is not None and turn.deadline.passed():
                self.counters.dropped += 1
                turn.cancel.cancel(PREEMPTED)

    def release(self, turn: Turn | None) -> None:
        """Give the CPU back after a generation (None: the turn was never granted)."""
        if turn is None:
            return
        with self._changed:
            if self._holder is turn:
                self._holder = None
                self._grant()

    @property
    def running(self) -> Turn | None:
        return self._holder

    def waiting(self) -> int:
        with self._changed:
            return len(self._waiting)

    def _wait_for(self, turn: Turn) -> bool:
        """Sleep until `turn` holds the CPU (True) or is cancelled while waiting (False: it left the queue)."""
        self._grant()
        while self._holder is not turn:
            if turn.cancel.cancelled:
                self._waiting.remove(turn)
                return False
            self._changed.wait()
        return True

    def _most_urgent(self) -> Turn | None:
        """The waiting turn to run next: the first by (priority, arrival) that is not cancelled."""
        return min((turn for turn in self._waiting if not turn.cancel.cancelled), default=None)

    def _grant(self) -> None:
        """With the CPU free, hand it to the most urgent waiting turn (a cancelled one leaves by itself)."""
        chosen = self._most_urgent() if self._holder is None else None
        if chosen is not None:
            self._waiting.remove(chosen)
            self._holder = chosen
            self.counters.granted += 1
            self._changed.notify_all()

    def _wake(self) -> None:
        with self._changed:
            self._changed.notify_all()
