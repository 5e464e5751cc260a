"""The embedded backend: a `LlamaEngine` behind an `EngineWorker`, offered as an `InferenceBackend`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from keystroke.domain.engines.base import Capabilities, GenerationEvent, GenerationRequest, ModelInfo, Tokenizer
from keystroke.domain.engines.llama_engine import LlamaEngine
from keystroke.domain.engines.model_source import ModelSource
from keystroke.domain.engines.scheduler import CpuTurns
from keystroke.domain.engines.worker import EngineWorker

T = TypeVar("T")


class EmbeddedBackend:
    """llama.cpp in this process; one context, so one generation at a time."""

    def __init__(self, source: ModelSource, turns: CpuTurns | None = None, **options: Any) -> None:
        """`options` are `LlamaEngine`'s keyword arguments (n_ctx, n_threads, prefill_chunk, KV slots); `turns`
        is the CPU scheduler shared with the other engines of this process, if any."""
        engine = LlamaEngine(source, **options)
        self.info: ModelInfo = engine.info
        self.tokenizer: Tokenizer = engine
        # FIM prompts are plain control tokens to llama.cpp; whether a model has them is the profile's call.
        self.capabilities = Capabilities(
            supports_fim=True,
            supports_kv_reuse=True,
            supports_forced_prefix=True,
            supports_ranking=True,
        )
        self._worker = EngineWorker(engine, turns=turns)

    def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        return self._worker.submit(request)

    async def call(self, function: Callable[[LlamaEngine], T]) -> T:
        """Run `function` with the engine on its own thread, in turn with generations."""
        return await self._worker.call(function)

    async def aclose(self) -> None:
        self._worker.close()
        self._worker.engine.close()
