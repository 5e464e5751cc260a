"""Build the inference backend named by `engine.kind`: keystroke's own builders (`build_embedded`,
`build_remote`), registered like any third party's (`registry.py`).

`build_backends` builds one per distinct model of a lane assignment (a model per lane): the embedded engines
among them share one CPU scheduler, so they compute in turn, the most urgent request first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from keystroke.config import EngineSettings
from keystroke.domain.engines.base import InferenceBackend
from keystroke.domain.engines.model_source import resolve_model
from keystroke.domain.engines.registry import builder
from keystroke.errors import ConfigError, ModelError

if TYPE_CHECKING:
    from keystroke.domain.engines.llama_draft import ModelDrafter
    from keystroke.domain.engines.scheduler import CpuTurns


def build_backends(settings: EngineSettings, models: Mapping[str, str]) -> dict[str, InferenceBackend]:
    """{lane: backend} for `models` ({lane: model}); lanes with the same model share its backend."""
    from keystroke.domain.engines.scheduler import CpuTurns

    distinct = list(dict.fromkeys(models.values()))
    turns = CpuTurns() if settings.kind == "embedded" and len(distinct) > 1 else None
    built = {}
    for model in distinct:
        try:
            built[model] = build_backend(for_model(settings, model), turns)
        except ModelError as exc:
            if model == settings.model:
                raise
            lanes = ", ".join(f"lanes.{lane}" for lane, chosen in models.items() if chosen == model)
            raise type(exc)(f"{lanes}: {exc}") from exc
    return {lane: built[model] for lane, model in models.items()}


def for_model(settings: EngineSettings, model: str) -> EngineSettings:
    """The engine settings that serve `model`: the embedded engine's file, or the name a remote fleet is asked
    for."""
    if model == settings.model:
        return settings
    field = "remote_model" if settings.kind == "remote" else "model"
    return settings.model_copy(update={field: model})


def build_backend(settings: EngineSettings, turns: CpuTurns | None = None) -> InferenceBackend:
    """The backend of `settings`, built by the builder registered for its kind; an embedded one takes its
    turns on the CPU from `turns`, when given."""
    return builder(settings.kind)(settings, turns)


def build_embedded(settings: EngineSettings, turns: CpuTurns | None = None) -> InferenceBackend:
    """llama.cpp in this process (entry point `embedded`)."""
    from keystroke.domain.engines.embedded import EmbeddedBackend
    from keystroke.domain.engines.speculation import SpeculationGate

    return EmbeddedBackend(
        resolve_model(settings.model),
        turns=turns,
        n_ctx=settings.n_ctx,
        n_threads=settings.n_threads,
        prefill_chunk=settings.prefill_chunk,
        slot_bytes=settings.kv_slots_mb << 20,
        max_slots=settings.kv_slots,
        min_chunk=settings.kv_chunk_min,
        speculation=SpeculationGate(
            settings.speculative,
            samples=settings.speculative_samples,
            min_accept=settings.speculative_min_accept,
            min_gain=settings.speculative_min_gain,
        ),
        drafter=build_drafter(settings),
    )


def build_drafter(settings: EngineSettings) -> ModelDrafter | None:
    """The draft model for an embedded engine of `settings.model`, if one is configured and is another model."""
    if settings.draft_model is None or settings.draft_model == settings.model:
        return None
    from keystroke.domain.engines.llama_draft import ModelDrafter

    threads = settings.n_threads or max(1, os.cpu_count() or 1)
    return ModelDrafter(resolve_model(settings.draft_model), n_ctx=settings.n_ctx, n_threads=threads)


def build_remote(settings: EngineSettings, _turns: CpuTurns | None = None) -> InferenceBackend:
    """A fleet of OpenAI-compatible replicas (entry point `remote`); the model name is asked of the first
    replica if not configured. It takes no CPU turns: the replicas compute elsewhere."""
    from keystroke.domain.engines.approx_tokenizer import ApproxTokenizer
    from keystroke.domain.engines.llama_tokenizer import load_tokenizer
    from keystroke.domain.engines.remote import RemoteBackend, RemoteOptions, fetch_model_id
    from keystroke.domain.engines.routing import AffinityRing, RoundRobin

    if not settings.urls:
        raise ConfigError(
            "engine.kind is 'remote' but no replica is configured: pass --engine-url URL (once per replica) or "
            "set KEYSTROKE_ENGINE__URLS='[\"http://host:8000\"]'"
        )
    for url in settings.urls:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"engine URL {url!r} must start with http:// or https://")
    model = settings.remote_model or fetch_model_id(settings.urls[0], settings.remote_key)
    tokenizer = load_tokenizer(resolve_model(settings.tokenizer)) if settings.tokenizer else None
    vocabulary = (
        (tokenizer.vocabulary.fingerprint, frozenset(tokenizer.vocabulary.special))
        if tokenizer is not None
        else (f"approx:{model}", frozenset[str]())
    )
    policy = (
        AffinityRing(settings.urls, load_factor=settings.load_factor)
        if settings.routing == "affinity"
        else RoundRobin(settings.urls)
    )
    options = RemoteOptions(
        model=model,
        api_key=settings.remote_key,
        stall_timeout_s=settings.stall_timeout_ms / 1000,
        first_token_timeout_s=settings.first_token_timeout_ms / 1000,
        health_interval_s=settings.health_interval_s,
        n_ctx=settings.n_ctx,
    )
    return RemoteBackend(settings.urls, policy, tokenizer or ApproxTokenizer(), options, vocabulary)
