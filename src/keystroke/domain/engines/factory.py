"""Build the inference backend named by `engine.kind`; the one place that knows the concrete classes."""

from __future__ import annotations

from keystroke.config import EngineSettings
from keystroke.domain.engines.base import InferenceBackend
from keystroke.domain.engines.model_source import resolve_model
from keystroke.errors import ConfigError


def build_backend(settings: EngineSettings) -> InferenceBackend:
    if settings.kind == "embedded":
        from keystroke.domain.engines.embedded import EmbeddedBackend

        return EmbeddedBackend(
            resolve_model(settings.model),
            n_ctx=settings.n_ctx,
            n_threads=settings.n_threads,
            prefill_chunk=settings.prefill_chunk,
            slot_bytes=settings.kv_slots_mb << 20,
            max_slots=settings.kv_slots,
            min_chunk=settings.kv_chunk_min,
        )
    raise ConfigError(f"unknown engine kind {settings.kind!r}; supported: embedded")  # pragma: no cover
