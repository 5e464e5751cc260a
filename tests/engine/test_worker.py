"""The engine worker: one thread, requests in order, cancellation in the queue, failures reported."""

from __future__ import annotations

import asyncio

import pytest

from keystroke.domain.engines.base import CancelToken, DoneEvent, GenerationRequest, Prompt, TokenEvent
from keystroke.domain.engines.embedded import EmbeddedBackend
from keystroke.errors import EngineError
from tests.conftest import run

pytestmark = pytest.mark.model


def request(text: str = "def f():\n", max_tokens: int = 4, cancel: CancelToken | None = None) -> GenerationRequest:
    return GenerationRequest(Prompt((text,)), max_tokens=max_tokens, cancel=cancel or CancelToken())


async def collect(backend: EmbeddedBackend, req: GenerationRequest) -> tuple[list[str], DoneEvent]:
    texts: list[str] = []
    async for event in backend.generate(req):
        if isinstance(event, TokenEvent):
            texts.append(event.text)
        else:
            return texts, event
    raise AssertionError("no DoneEvent")


def test_a_request_cancelled_while_queued_does_no_work(backend: EmbeddedBackend) -> None:
    async def scenario() -> DoneEvent:
        token = CancelToken()
        blocker = asyncio.create_task(collect(backend, request(max_tokens=24)))
        queued = asyncio.create_task(collect(backend, request(cancel=token)))
        token.cancel("superseded")
        await blocker
        _, done = await queued
        return done

    done = run(scenario())
    assert done.stats.finish_reason == "cancelled"
    assert done.stats.completion_tokens == 0
    assert done.stats.cancel_reason == "superseded"


def test_closing_the_stream_early_cancels_the_generation(backend: EmbeddedBackend) -> None:
    token = CancelToken()

    async def scenario() -> None:
        stream = backend.generate(request(max_tokens=64, cancel=token))
        async for event in stream:
            assert isinstance(event, TokenEvent)
            break
        await stream.aclose()  # type: ignore[attr-defined]

    run(scenario())
    assert token.cancelled
    assert token.reason == "stream closed"


def test_the_worker_outlives_a_consumer_whose_event_loop_is_gone(backend: EmbeddedBackend) -> None:
    token = CancelToken()

    async def walk_away() -> None:
        async for _ in backend.generate(request(max_tokens=48, cancel=token)):
            return  # the loop closes while the engine is still decoding for it

    run(walk_away())
    texts, done = run(collect(backend, request()))
    assert token.cancelled
    assert done.stats.completion_tokens == len(texts) > 0


def test_an_engine_failure_reaches_the_caller_and_the_worker_goes_on(backend: EmbeddedBackend) -> None:
    with pytest.raises(EngineError):
        run(collect(backend, request(text="word " * 3000)))
    texts, done = run(collect(backend, request()))
    assert done.stats.finish_reason in ("length", "eos")
    assert done.stats.completion_tokens == len(texts)


def test_requests_run_in_arrival_order(backend: EmbeddedBackend) -> None:
    order: list[str] = []

    async def scenario() -> None:
        async def tagged(tag: str) -> None:
            await collect(backend, request(max_tokens=2))
            order.append(tag)

        await asyncio.gather(tagged("first"), tagged("second"), tagged("third"))

    run(scenario())
    assert order == ["first", "second", "third"]
