"""Fault injection: backends that misbehave on purpose, shipped so tests and users fake failures the same way.

Each wraps a real backend and keeps its identity (`info`, `capabilities`, `tokenizer`):
- `StallingBackend` never produces a token; it ends only when the request is cancelled (a hung engine);
- `DyingBackend` passes `after_tokens` real tokens through, then raises `EngineCrashedError` (a crash
  in the middle of a stream).
They are not selectable from configuration; build them around a real backend in code (`keystroke.testing`).
`GatedEngine` is an engine of its own that produces a token only when a test lets it (a slow engine on demand),
for the CPU scheduler's faults: priority, preemption and cancellation between engines.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable

from keystroke.domain.engines.base import (
    DoneEvent,
    FinishReason,
    GenerationEvent,
    GenerationRequest,
    GenerationStats,
    InferenceBackend,
    TokenEvent,
)
from keystroke.errors import EngineCrashedError


class _Wrapper:
    def __init__(self, inner: InferenceBackend) -> None:
        self.inner = inner
        self.info = inner.info
        self.capabilities = inner.capabilities
        self.tokenizer = inner.tokenizer

    async def aclose(self) -> None:
        await self.inner.aclose()


class StallingBackend(_Wrapper):
    """Produces nothing until the request is cancelled (it waits on the cancel token: no polling)."""

    def __init__(self, inner: InferenceBackend) -> None:
        super().__init__(inner)
        self.released = 0
        """How many stalled requests were cancelled (and so released) so far."""

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        try:
            await request.cancel.wait()
        finally:
            self.released += 1
        yield DoneEvent(GenerationStats(0, 0, 0, 0.0, 0.0, 0.0, "cancelled", request.cancel.reason))


class DyingBackend(_Wrapper):
    """Streams `after_tokens` real tokens, then fails as an engine crash would."""

    def __init__(self, inner: InferenceBackend, after_tokens: int = 2) -> None:
        super().__init__(inner)
        self.after_tokens = after_tokens

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        seen = 0
        stream = self.inner.generate(request)
        try:
            async for event in stream:
                if isinstance(event, TokenEvent):
                    if seen >= self.after_tokens:
                        raise EngineCrashedError(f"injected fault: the engine died after {seen} tokens")
                    seen += 1
                yield event
        finally:
            await stream.aclose()  # type: ignore[attr-defined]


class GatedEngine:
    """A synchronous engine (an `EngineWorker`'s kind) whose every token waits for a gate to open: a slow
    engine on demand, for scheduling faults. `run` emits `tokens` one by one; before each it calls the
    request's `checkpoint` (where the CPU scheduler may pause it), checks cancellation, then waits for
    `step()`. `log` records (name, token index) as tokens are produced, in order across engines."""

    def __init__(self, name: str, tokens: int, log: list[tuple[str, int]]) -> None:
        self.name = name
        self.tokens = tokens
        self.log = log
        self._steps = threading.Semaphore(0)
        self.waiting = threading.Event()  # set while run waits at its gate

    def step(self, count: int = 1) -> None:
        """Let `count` more tokens through."""
        for _ in range(count):
            self._steps.release()

    def run(
        self, request: GenerationRequest, emit: Callable[[GenerationEvent], None], queue_ms: float
    ) -> GenerationStats:
        produced = 0
        for index in range(self.tokens):
            request.checkpoint()
            if request.cancel.cancelled:
                break
            self.waiting.set()
            self._steps.acquire()
            self.waiting.clear()
            self.log.append((self.name, index))
            emit(TokenEvent(f"{self.name}{index} "))
            produced += 1
        finish: FinishReason = "cancelled" if request.cancel.cancelled else "length"
        return GenerationStats(
            prompt_tokens=1,
            cached_tokens=0,
            completion_tokens=produced,
            queue_ms=queue_ms,
            prefill_ms=0.0,
            decode_ms=0.0,
            finish_reason=finish,
            cancel_reason=request.cancel.reason if finish == "cancelled" else None,
        )
