"""Build the inference backend named by `engine.kind`; the one place that knows the concrete classes."""

from __future__ import annotations

from keystroke.config import EngineSettings
from keystroke.domain.engines.base import InferenceBackend
from keystroke.domain.engines.model_source import resolve_model
from keystroke.errors import ConfigError


def build_backend(settings: EngineSettings) -> InferenceBackend:
    if settings.kind == "embedded":
        from keystroke.domain.engines.embedded import EmbeddedBackend
        from keystroke.domain.engines.speculation import SpeculationGate

        return EmbeddedBackend(
            resolve_model(settings.model),
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
        )
    if settings.kind == "remote":
        return build_remote(settings)
    raise ConfigError(f"unknown engine kind {settings.kind!r}; supported: embedded, remote")  # pragma: no cover


def build_remote(settings: EngineSettings) -> InferenceBackend:
    """A fleet of OpenAI-compatible replicas; the model name is asked of the first replica if not configured."""
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
