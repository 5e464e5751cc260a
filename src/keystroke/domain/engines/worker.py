"""One thread owns an engine; generation requests queue to it and stream back to asyncio.

Jobs run one at a time, by `GenerationRequest.priority` (lower first: inline before multi-line), then in
arrival order. A job whose cancel token is already raised when its turn comes (superseded: its user typed on),
or whose `queue_deadline` has passed, is answered at once (a `cancelled` DoneEvent with no work). The async
stream returned by `submit` raises the token when the consumer stops reading early, so a closed HTTP stream
stops decoding within one token. Background work (a prefetch, `BACKGROUND_PRIORITY`) is dropped at its next
token boundary as soon as a more urgent job waits for this engine.
`call` runs any function on the worker thread (the benchmark uses it to time raw engine work in turn).

Several engines in one process (a model per lane) share the CPU through one `CpuTurns` (`scheduler.py`): a
worker takes a turn before each job and the engine offers it back at every token boundary
(`GenerationRequest.checkpoint`), so an inline request never waits behind another model's multi-line decode.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from keystroke.domain.engines.base import (
    BACKGROUND_PRIORITY,
    CancelToken,
    DoneEvent,
    GenerationEvent,
    GenerationRequest,
    GenerationStats,
    TokenEvent,
)
from keystroke.domain.engines.scheduler import PREEMPTED, CpuTurns, Turn
from keystroke.errors import EngineCrashedError, EngineError, EngineUnavailableError

log = logging.getLogger("keystroke.engine")
QUEUE_DEADLINE = "queue deadline"
_WAKE = object()  # put in a queued job's event queue by its cancel token or its queue deadline's timer
AFTER_QUEUED = 1 << 30  # functions run on the engine (benchmark timing) and shutdown wait for queued generations

T = TypeVar("T")
E = TypeVar("E", bound="SyncEngine")


class SyncEngine(Protocol):
    def run(
        self, request: GenerationRequest, emit: Callable[[GenerationEvent], None], queue_ms: float
    ) -> GenerationStats: ...


@dataclass
class _Failed:
    error: BaseException


@dataclass
class _Job:
    request: GenerationRequest
    emit: Callable[[GenerationEvent | _Failed], None]
    enqueued: float
    started: bool = False  # set by the worker thread when the job's turn comes


class EngineWorker(Generic[E]):
    """Serialises all access to `engine` onto one daemon thread."""

    def __init__(self, engine: E, name: str = "keystroke-engine", turns: CpuTurns | None = None) -> None:
        self.engine = engine
        self.turns = turns
        self._jobs: queue.PriorityQueue[tuple[int, int, _Job | Callable[[], None] | None]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        if self._closed:
            raise EngineUnavailableError("the engine is shut down")
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[GenerationEvent | _Failed | object] = asyncio.Queue()

        def emit(event: GenerationEvent | _Failed) -> None:
            try:
                loop.call_soon_threadsafe(events.put_nowait, event)
            except RuntimeError:  # the consumer's event loop is closed: nobody is listening any more
                request.cancel.cancel("consumer gone")

        job = _Job(request, emit, time.perf_counter())
        self._put(request.priority, job)
        return _stream(events, job, loop)

    async def call(self, function: Callable[[E], T]) -> T:
        """Run `function(engine)` on the worker thread, once the generations queued before it have run."""
        if self._closed:
            raise EngineUnavailableError("the engine is shut down")
        future: Future[T] = Future()

        def task() -> None:
            turn = self.turns.acquire(AFTER_QUEUED, CancelToken()) if self.turns else None
            try:
                future.set_result(function(self.engine))
            except BaseException as exc:
                future.set_exception(exc)
            finally:
                if self.turns:
                    self.turns.release(turn)

        self._put(AFTER_QUEUED, task)
        return await asyncio.wrap_future(future)

    def close(self, timeout: float = 10.0) -> None:
        if not self._closed:
            self._closed = True
            self._put(AFTER_QUEUED, None)
            self._thread.join(timeout)

    def _checkpoint(self, request: GenerationRequest, turn: Turn | None) -> Callable[[], None]:
        """What the engine calls at each token boundary of `request`: give the CPU to a more urgent engine
        (pausing), and, for background work, give this engine to a more urgent job (dropping it)."""
        turns = self.turns
        background = request.priority >= BACKGROUND_PRIORITY

        def checkpoint() -> None:
            if turns is not None and turn is not None:
                turns.checkpoint(turn)
            if background and self._more_urgent_queued(request.priority):
                request.cancel.cancel(PREEMPTED)

        return checkpoint

    def _more_urgent_queued(self, priority: int) -> bool:
        with self._jobs.mutex:
            return any(
                queued < priority and isinstance(job, _Job) and not job.request.cancel.cancelled
                for queued, _, job in self._jobs.queue
            )

    def _put(self, priority: int, job: _Job | Callable[[], None] | None) -> None:
        self._jobs.put((priority, next(self._order), job))

    def _loop(self) -> None:
        while True:
            _, _, job = self._jobs.get()
            if job is None:
                return
            try:
                if isinstance(job, _Job):
                    self._run(job)
                else:
                    job()
            except Exception:  # the worker must outlive any one job; the job's caller was already told
                log.exception("engine worker: a job failed outside its own error handling")

    def _run(self, job: _Job) -> None:
        job.started = True
        now = time.perf_counter()
        queue_ms = (now - job.enqueued) * 1000
        deadline = job.request.queue_deadline
        if deadline is not None and deadline.passed():
            job.request.cancel.cancel(QUEUE_DEADLINE)
        if job.request.cancel.cancelled:
            job.emit(DoneEvent(_cancelled_stats(queue_ms, job.request.cancel.reason)))
            return
        turns = self.turns
        turn = turns.acquire(job.request.priority, job.request.cancel, job.request.drop_deadline) if turns else None
        if turns is not None and turn is None:  # cancelled while another engine had the CPU
            job.emit(DoneEvent(_cancelled_stats(queue_ms, job.request.cancel.reason)))
            return
        job.request.checkpoint = self._checkpoint(job.request, turn)
        try:
            stats = self.engine.run(job.request, job.emit, queue_ms)
        except BaseException as exc:
            job.emit(_Failed(exc))
            return
        finally:
            if turns is not None:
                turns.release(turn)
        job.emit(DoneEvent(stats))


async def _stream(
    events: asyncio.Queue[GenerationEvent | _Failed | object], job: _Job, loop: asyncio.AbstractEventLoop
) -> AsyncIterator[GenerationEvent]:
    """The job's events. While it waits in the queue, a cancel (superseded) or a passed queue deadline ends the
    stream at once, so its caller's place (admission) is free before the worker reaches the job and skips it.
    Both wake the stream by putting a marker in its queue (the token from whichever thread raises it, the
    deadline from a timer): nothing polls."""
    request = job.request
    request.cancel.notify(loop, lambda: events.put_nowait(_WAKE))
    deadline = request.queue_deadline
    # a millisecond past the deadline: the loop's clock and the deadline's may round apart
    wake_s = None if deadline is None else max(0.0, deadline.remaining_s()) + 0.001
    timer = None if wake_s is None else loop.call_later(wake_s, events.put_nowait, _WAKE)
    finished = False
    try:
        while not finished:
            event = await events.get()
            if event is _WAKE:
                if _expired(job):
                    finished = True
                    yield DoneEvent(
                        _cancelled_stats((time.perf_counter() - job.enqueued) * 1000, request.cancel.reason)
                    )
                continue
            if isinstance(event, _Failed):
                finished = True
                if isinstance(event.error, EngineError):
                    raise event.error
                raise EngineCrashedError(f"the engine failed: {event.error}") from event.error
            assert isinstance(event, TokenEvent | DoneEvent)
            finished = isinstance(event, DoneEvent)
            yield event
    finally:
        if timer is not None:
            timer.cancel()
        if not finished:
            request.cancel.cancel("stream closed")


def _expired(job: _Job) -> bool:
    """Whether a job still in the queue will be skipped: cancelled, or past its queue deadline."""
    deadline = job.request.queue_deadline
    if not job.started and deadline is not None and deadline.passed():
        job.request.cancel.cancel(QUEUE_DEADLINE)
    return not job.started and job.request.cancel.cancelled


def _cancelled_stats(queue_ms: float, reason: str | None) -> GenerationStats:
    return GenerationStats(
        prompt_tokens=0,
        cached_tokens=0,
        completion_tokens=0,
        queue_ms=queue_ms,
        prefill_ms=0.0,
        decode_ms=0.0,
        finish_reason="cancelled",
        cancel_reason=reason,
    )
