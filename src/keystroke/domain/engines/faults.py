"""Fault injection: backends that misbehave on purpose, shipped so tests and users fake failures the same way.

Each wraps a real backend and keeps its identity (`info`, `capabilities`, `tokenizer`):
- `StallingBackend` never produces a token; it ends only when the request is cancelled (a hung engine);
- `DyingBackend` passes `after_tokens` real tokens through, then raises `EngineCrashedError` (a crash
  in the middle of a stream).
They are not selectable from configuration; build them around a real backend in code.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from keystroke.domain.engines.base import (
    DoneEvent,
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
    """Produces nothing until the request is cancelled; polls the cancel flag every `poll_s` seconds."""

    def __init__(self, inner: InferenceBackend, poll_s: float = 0.01) -> None:
        super().__init__(inner)
        self.poll_s = poll_s
        self.released = 0
        """How many stalled requests were cancelled (and so released) so far."""

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        try:
            while not request.cancel.cancelled:
                await asyncio.sleep(self.poll_s)
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
