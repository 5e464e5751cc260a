"""The CPU scheduler shared by the engines of one process: priority, preemption at token boundaries, dropping by
deadline on an injected clock, cancellation while waiting; with gated engines behind real `EngineWorker`s."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from keystroke.domain.engines.base import (
    BACKGROUND_PRIORITY,
    CancelToken,
    Deadline,
    DoneEvent,
    GenerationRequest,
    Prompt,
    TokenEvent,
)
from keystroke.domain.engines.faults import GatedEngine
from keystroke.domain.engines.scheduler import PREEMPTED, CpuTurns
from keystroke.domain.engines.worker import EngineWorker
from keystroke.testing import ManualClock
from tests.conftest import run

INLINE, MULTILINE = 0, 1
T = TypeVar("T")
WAIT_S = 5.0


def _request(priority: int, cancel: CancelToken | None = None, drop: Deadline | None = None) -> GenerationRequest:
    request = GenerationRequest(Prompt(("x",)), max_tokens=8, priority=priority, cancel=cancel or CancelToken())
    request.drop_deadline = drop
    return request


async def _collect(worker: EngineWorker[GatedEngine], request: GenerationRequest) -> tuple[str, DoneEvent]:
    text = ""
    async for event in worker.submit(request):
        if isinstance(event, TokenEvent):
            text += event.text
        elif isinstance(event, DoneEvent):
            return text, event
    raise AssertionError("no DoneEvent")


async def _until(condition: threading.Event) -> None:
    assert await asyncio.to_thread(condition.wait, WAIT_S), "the engine never reached its gate"


async def _until_waiting(turns: CpuTurns, count: int) -> None:
    """Until `count` turns wait for the CPU (a test may poll; the scheduler does not)."""
    for _ in range(int(WAIT_S / 0.005)):
        if turns.waiting() >= count:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{count} turn(s) never waited")


async def _first_token(big: GatedEngine) -> None:
    """Let the big engine produce its first token and wait until it computes the second (at its gate)."""
    big.step()
    for _ in range(int(WAIT_S / 0.005)):
        if big.log:
            break
        await asyncio.sleep(0.005)
    await _until(big.waiting)  # cleared before the token was logged: set again only at the next gate


async def _preempt(turns: CpuTurns, big: GatedEngine, small: GatedEngine) -> None:
    """The big engine is computing its second token when an inline request comes: it pauses after it."""
    await _until_waiting(turns, 1)
    big.step()
    await _until(small.waiting)


def _pair() -> tuple[CpuTurns, list[tuple[str, int]], GatedEngine, GatedEngine]:
    turns = CpuTurns()
    log: list[tuple[str, int]] = []
    return turns, log, GatedEngine("big", 4, log), GatedEngine("small", 2, log)


Workers = tuple[EngineWorker[GatedEngine], EngineWorker[GatedEngine]]


def _on_workers(
    turns: CpuTurns, big: GatedEngine, small: GatedEngine, scenario: Callable[[Workers], Awaitable[T]]
) -> T:
    """Run `scenario` with a worker for each engine, both sharing `turns`; close them after."""
    workers = (EngineWorker(big, turns=turns), EngineWorker(small, turns=turns))
    try:
        return run(scenario(workers))
    finally:
        for worker in workers:
            worker.close()


def test_an_inline_request_pauses_another_models_multiline_decode_at_a_token_boundary() -> None:
    turns, log, big, small = _pair()

    async def scenario(workers: Workers) -> tuple[tuple[str, DoneEvent], tuple[str, DoneEvent]]:
        big_worker, small_worker = workers
        multiline = asyncio.create_task(_collect(big_worker, _request(MULTILINE)))
        await _until(big.waiting)
        await _first_token(big)  # the multi-line decode produces its first token and computes its second
        inline = asyncio.create_task(_collect(small_worker, _request(INLINE)))
        await _preempt(turns, big, small)  # the inline engine got the CPU while the big one is mid-decode
        small.step(2)
        inline_result = await inline
        big.step(2)
        return inline_result, await multiline

    (inline_text, _), (big_text, big_done) = _on_workers(turns, big, small, scenario)
    assert log == [("big", 0), ("big", 1), ("small", 0), ("small", 1), ("big", 2), ("big", 3)]
    assert inline_text == "small0 small1 "
    assert big_text == "big0 big1 big2 big3 ", "the paused decode resumed where it stopped"
    assert big_done.stats.finish_reason == "length"
    assert turns.counters.paused == 1
    assert turns.running is None


def test_a_paused_generation_cancelled_meanwhile_never_computes_again() -> None:
    turns, log, big, small = _pair()
    superseded = CancelToken()

    async def scenario(workers: Workers) -> DoneEvent:
        big_worker, small_worker = workers
        multiline = asyncio.create_task(_collect(big_worker, _request(MULTILINE, superseded)))
        await _until(big.waiting)
        await _first_token(big)
        inline = asyncio.create_task(_collect(small_worker, _request(INLINE)))
        await _preempt(turns, big, small)
        superseded.cancel("superseded")  # the user typed on while the big model was paused
        small.step(2)
        await inline
        _, done = await multiline
        return done

    done = _on_workers(turns, big, small, scenario)
    assert [entry for entry in log if entry[0] == "big"] == [("big", 0), ("big", 1)]
    assert done.stats.finish_reason == "cancelled"
    assert done.stats.cancel_reason == "superseded"


def test_a_paused_generation_past_its_deadline_is_dropped_when_its_turn_comes_back() -> None:
    clock = ManualClock(100.0)
    turns, _, big, small = _pair()

    async def scenario(workers: Workers) -> DoneEvent:
        big_worker, small_worker = workers
        multiline = asyncio.create_task(
            _collect(big_worker, _request(MULTILINE, drop=Deadline(clock.time + 1.0, clock)))
        )
        await _until(big.waiting)
        await _first_token(big)
        inline = asyncio.create_task(_collect(small_worker, _request(INLINE)))
        await _preempt(turns, big, small)
        clock.time += 2.0  # the inline work took longer than the multi-line answer stays useful
        small.step(2)
        await inline
        _, done = await multiline
        return done

    done = _on_workers(turns, big, small, scenario)
    assert done.stats.cancel_reason == PREEMPTED
    assert done.stats.completion_tokens == 2
    assert turns.counters.dropped == 1


def test_waiting_turns_are_granted_by_priority_then_arrival_and_a_cancelled_one_leaves() -> None:
    turns = CpuTurns()
    first = turns.acquire(MULTILINE, CancelToken())
    assert first is not None
    granted: list[str] = []
    gone = CancelToken()

    def wait(name: str, priority: int, cancel: CancelToken) -> None:
        turn = turns.acquire(priority, cancel)
        granted.append(name if turn is not None else f"{name} (cancelled)")
        turns.release(turn)

    threads = []
    for name, priority, cancel in (
        ("multiline-a", MULTILINE, CancelToken()),
        ("inline-a", INLINE, CancelToken()),
        ("inline-gone", INLINE, gone),
        ("inline-b", INLINE, CancelToken()),
    ):
        thread = threading.Thread(target=wait, args=(name, priority, cancel))
        thread.start()
        threads.append(thread)
        while turns.waiting() < len(threads):
            threading.Event().wait(0.001)
    gone.cancel("superseded")
    threads[2].join(WAIT_S)
    turns.release(first)
    for thread in threads:
        thread.join(WAIT_S)
    assert granted == ["inline-gone (cancelled)", "inline-a", "inline-b", "multiline-a"]


def test_a_checkpoint_with_nobody_more_urgent_waiting_goes_straight_on() -> None:
    turns = CpuTurns()
    turn = turns.acquire(INLINE, CancelToken())
    assert turn is not None
    later = threading.Thread(target=lambda: turns.release(turns.acquire(MULTILINE, CancelToken())))
    later.start()
    while turns.waiting() < 1:
        threading.Event().wait(0.001)
    turns.checkpoint(turn)  # a less urgent turn waits: the inline one keeps the CPU
    assert turns.running is turn
    assert turns.counters.paused == 0
    turns.release(turn)
    later.join(WAIT_S)
    assert turns.running is None


def test_background_work_is_dropped_at_a_token_boundary_when_anything_waits_for_its_engine() -> None:
    log: list[tuple[str, int]] = []
    engine = GatedEngine("one", 3, log)
    worker = EngineWorker(engine)

    async def scenario() -> tuple[DoneEvent, str]:
        prefetch = asyncio.create_task(_collect(worker, _request(BACKGROUND_PRIORITY)))
        await _first_token(engine)  # the prefetch has produced a token and computes its second
        inline = asyncio.create_task(_collect(worker, _request(INLINE)))
        await asyncio.sleep(0.05)  # the inline job is in the queue
        engine.step()  # the prefetch's second token: at the boundary after it, it gives the engine up
        _, dropped = await prefetch
        await _until(engine.waiting)
        engine.step(3)
        text, _ = await inline
        return dropped, text

    try:
        dropped, text = run(scenario())
    finally:
        worker.close()
    assert dropped.stats.cancel_reason == PREEMPTED
    assert dropped.stats.completion_tokens == 2
    assert text == "one0 one1 one2 "


def test_background_work_runs_to_its_end_when_nothing_else_waits() -> None:
    engine = GatedEngine("one", 2, [])
    worker = EngineWorker(engine)

    async def scenario() -> DoneEvent:
        prefetch = asyncio.create_task(_collect(worker, _request(BACKGROUND_PRIORITY)))
        await _until(engine.waiting)
        engine.step(2)
        _, done = await prefetch
        return done

    try:
        done = run(scenario())
    finally:
        worker.close()
    assert done.stats.finish_reason == "length"
