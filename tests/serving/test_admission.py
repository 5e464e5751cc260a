"""Admission control: per-tenant and engine limits, multi-line refused first, queue deadlines, 429s."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

import httpx
import pytest

from keystroke.config import AdmissionSettings
from keystroke.domain.engines.base import Deadline, DoneEvent, GenerationRequest, Prompt
from keystroke.domain.engines.faults import StallingBackend
from keystroke.domain.engines.worker import QUEUE_DEADLINE
from keystroke.errors import OverloadedError
from keystroke.services.admission import INLINE, MULTILINE, AdmissionControl
from keystroke.services.completion import CompletionService
from keystroke.services.types import CompletionRequest
from keystroke.testing import ManualClock, settle
from keystroke.transports.http.app import create_app
from tests.conftest import make_settings, run, serve_app


def control(**limits: Any) -> tuple[AdmissionControl, ManualClock]:
    clock = ManualClock(100.0)
    return AdmissionControl(AdmissionSettings(**limits), clock), clock


def test_a_tenant_over_its_limit_is_refused_while_others_are_admitted() -> None:
    admission, _ = control(per_tenant=2, max_in_flight=10)
    admission.admit("a", "inline")
    admission.admit("a", "inline")
    with pytest.raises(OverloadedError, match="this tenant already has 2 requests in flight"):
        admission.admit("a", "inline")
    admission.admit("b", "inline")
    assert admission.refused == {"tenant": 1}


def test_multiline_work_is_refused_first_so_inline_keeps_room() -> None:
    admission, _ = control(per_tenant=10, max_in_flight=4)
    admission.admit("a", "multiline")
    admission.admit("b", "multiline")
    with pytest.raises(OverloadedError, match="multi-line"):
        admission.admit("c", "multiline")
    inline = [admission.admit(t, "inline") for t in ("c", "d")]
    with pytest.raises(OverloadedError, match="4 requests in flight"):
        admission.admit("e", "inline")
    admission.release(inline[0])
    assert admission.admit("e", "inline").priority == INLINE
    assert admission.refused == {"multiline": 1, "engine": 1}


def test_tickets_carry_priority_and_queue_deadline_and_release_once() -> None:
    admission, clock = control(inline_queue_ms=500, multiline_queue_ms=2000)
    inline = admission.admit("a", "inline")
    multi = admission.admit("a", "multiline")
    assert (inline.priority, inline.queue_deadline.at) == (INLINE, 100.5)
    assert (multi.priority, multi.queue_deadline.at) == (MULTILINE, 102.0)
    assert inline.queue_deadline.clock is clock  # checked on the clock it was set with, wherever it is checked
    clock.time += 1.0
    assert inline.queue_deadline.passed()
    assert not multi.queue_deadline.passed()
    clock.time += 2.0
    admission.release(inline)
    admission.release(inline)
    assert admission.in_flight == 1


def test_retry_after_follows_how_long_requests_hold_their_place() -> None:
    admission, clock = control(per_tenant=1, max_in_flight=1)
    for _ in range(30):  # requests that each take 4 s
        ticket = admission.admit("a", "inline")
        clock.time += 4.0
        admission.release(ticket)
    admission.admit("a", "inline")
    with pytest.raises(OverloadedError) as refused:
        admission.admit("a", "inline")
    assert 3500 < refused.value.retry_after_ms < 4500


class _EngineGate:
    """Holds the engine's worker thread in a function until released, so what is submitted meanwhile queues."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self._started = threading.Event()
        self._gate = threading.Event()

    async def hold(self) -> asyncio.Future[Any]:
        def held(_engine: Any) -> None:
            self._started.set()
            self._gate.wait(10)

        blocker = asyncio.ensure_future(self.backend.call(held))
        assert await asyncio.to_thread(self._started.wait, 10), "the engine never ran the holding function"
        return blocker

    def release(self) -> None:
        self._gate.set()


# -- the engine queue --------------------------------------------------------------------------------------


@pytest.mark.model
def test_the_engine_runs_inline_before_multiline_and_drops_requests_past_their_queue_deadline(
    backend: Any,
) -> None:
    order: list[str] = []
    clock = ManualClock(1e9)  # far from any wall clock: a deadline read on another clock would not pass

    async def scenario() -> None:
        gate = _EngineGate(backend)
        blocker = await gate.hold()  # the engine is busy: what follows queues

        async def ask(name: str, priority: int, deadline: Deadline | None = None) -> str | None:
            request = GenerationRequest(Prompt(("x = ",)), max_tokens=2, priority=priority, queue_deadline=deadline)
            async for event in backend.generate(request):
                if isinstance(event, DoneEvent):
                    order.append(name)
                    return event.stats.cancel_reason
            return None  # pragma: no cover

        jobs = [
            asyncio.ensure_future(ask("multi", MULTILINE)),
            asyncio.ensure_future(ask("late", INLINE, Deadline(clock.time + 1.0, clock))),
            asyncio.ensure_future(ask("inline", INLINE)),
        ]
        await settle()  # all three are queued
        clock.tick(2.0)  # the late one's queue deadline passes while the engine is busy
        gate.release()
        await blocker
        reasons = await asyncio.gather(*jobs)
        assert reasons == [None, QUEUE_DEADLINE, None]

    run(scenario())
    assert order == ["late", "inline", "multi"]  # the late one is answered first: dropped without work


# -- through the gateway -----------------------------------------------------------------------------------


@pytest.mark.model
def test_a_saturated_gateway_answers_429_with_retry_after_and_keeps_serving(service: CompletionService) -> None:
    settings = make_settings(**{"admission.max_in_flight": 2, "admission.per_tenant": 8})
    stalled = CompletionService(StallingBackend(service.backend), service.profile, settings)
    app = create_app(stalled, owns_backend=False)
    body = {"segments": {"prefix": "x = "}, "mode": "inline"}
    with serve_app(app) as url:
        held: list[threading.Thread] = []
        for index in range(2):  # two requests hold the two places until their deadline passes

            def hold(index: int = index) -> None:
                with httpx.Client(base_url=url, timeout=0.6) as client, contextlib.suppress(httpx.TimeoutException):
                    client.post("/v1/completions", json={**body, "session_id": f"s{index}"})

            held.append(threading.Thread(target=hold))
            held[-1].start()
        with httpx.Client(base_url=url, timeout=10) as client:
            while stalled.admission.in_flight < 2:
                threading.Event().wait(0.01)
            refused = client.post("/v1/completions", json=body)
            assert refused.status_code == 429
            assert int(refused.headers["Retry-After"]) >= 1
            error = refused.json()["error"]
            assert error["type"] == "overloaded"
            assert "in flight" in error["message"]
            assert error["retry_after_ms"] >= 1000
            for thread in held:
                thread.join(10)
            while stalled.admission.in_flight:  # the clients hung up: their requests end and give back places
                threading.Event().wait(0.01)
            assert client.get("/healthz").status_code == 200
    assert stalled.admission.refused["engine"] == 1


@pytest.mark.model
def test_a_request_past_its_deadline_is_stopped_not_left_hanging(service: CompletionService) -> None:
    settings = make_settings(**{"admission.request_timeout_ms": 300})
    stalling = StallingBackend(service.backend)
    stalled = CompletionService(stalling, service.profile, settings)
    result = run(asyncio.wait_for(stalled.complete(CompletionRequest(prefix="x = ")), 5))
    assert result.finish_reason == "cancelled"
    assert 300 <= result.timings.total_ms < 2000
    assert stalling.released == 1
    assert stalled.admission.in_flight == 0


@pytest.mark.model
def test_a_queued_request_that_is_superseded_ends_at_once_not_when_the_engine_reaches_it(backend: Any) -> None:
    import time

    async def scenario() -> float:
        gate = _EngineGate(backend)
        blocker = await gate.hold()
        request = GenerationRequest(Prompt(("x = ",)), max_tokens=2)
        started = time.perf_counter()

        async def consume() -> str | None:
            async for event in backend.generate(request):
                if isinstance(event, DoneEvent):
                    return event.stats.cancel_reason
            return None  # pragma: no cover

        waiting = asyncio.ensure_future(consume())
        await settle()  # queued behind the held engine
        request.cancel.cancel("superseded")
        reason = await asyncio.wait_for(waiting, 2)
        ended = time.perf_counter() - started
        gate.release()
        await blocker
        assert reason == "superseded"
        return ended

    assert run(scenario()) < 1.0  # the engine was busy for 10 s at most; the stream did not wait for it


@pytest.mark.model
def test_the_language_servers_gateway_lane_waits_out_retry_after(service: CompletionService) -> None:
    from keystroke.errors import RemoteUnavailableError
    from keystroke.services.preparation import Preparation
    from keystroke.transports.http.client import GatewayLane

    settings = make_settings(**{"admission.max_in_flight": 1})
    stalled = CompletionService(StallingBackend(service.backend), service.profile, settings)
    now = [0.0]
    with serve_app(create_app(stalled, owns_backend=False)) as url:

        def hold() -> None:
            with httpx.Client(base_url=url, timeout=0.8) as client, contextlib.suppress(httpx.TimeoutException):
                client.post("/v1/completions", json={"segments": {"prefix": "x = "}, "session_id": "held"})

        holder = threading.Thread(target=hold)
        holder.start()
        while stalled.admission.in_flight < 1:
            threading.Event().wait(0.01)

        async def ask_three_times() -> list[str]:
            lane = GatewayLane(url, clock=lambda: now[0])
            prepared = await Preparation(settings).prepare(
                CompletionRequest(prefix="y = ", mode="inline"), "t", gather=False
            )
            messages = []
            try:
                for advance in (0.0, 0.5, 0.0):
                    now[0] += advance
                    with pytest.raises(RemoteUnavailableError) as refused:
                        await lane.complete(prepared)
                    messages.append(str(refused.value))
                    assert refused.value.cause == "overloaded"  # the editor's status: busy, not down
            finally:
                await lane.aclose()
            return messages

        messages = run(ask_three_times())
        holder.join(10)
    assert "429" in messages[0]
    assert messages[1].startswith("gateway overloaded; asking again in 0.5 s")
    assert stalled.admission.refused["engine"] == 1  # the second and third were not sent
