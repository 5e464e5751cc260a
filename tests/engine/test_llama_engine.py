"""The embedded engine on the real default model: KV reuse, token healing, cancellation, ranking."""

from __future__ import annotations

from typing import Any

import pytest

from keystroke.domain.engines.base import (
    CancelToken,
    GenerationEvent,
    GenerationRequest,
    Prompt,
    RankPlan,
    TokenEvent,
)
from keystroke.domain.engines.embedded import EmbeddedBackend
from keystroke.domain.engines.llama_engine import LlamaEngine
from keystroke.errors import EngineError
from tests.conftest import run

pytestmark = pytest.mark.model

HEADER = "import math\n\n\ndef circle_area(radius):\n"


def on_engine(backend: EmbeddedBackend, request: GenerationRequest) -> tuple[Any, list[str]]:
    """Run one request on the engine's own thread; returns (stats, emitted texts)."""
    texts: list[str] = []

    def work(engine: LlamaEngine) -> Any:
        return engine.run(request, lambda e: texts.append(e.text) if isinstance(e, TokenEvent) else None, 0.0)

    return run(backend.call(work)), texts


def newline_stop(text: str) -> bool:
    return "\n" in text.lstrip("\n")


def test_consecutive_prompts_reuse_the_longest_common_prefix(backend: EmbeddedBackend) -> None:
    first, _ = on_engine(backend, GenerationRequest(Prompt((HEADER,)), max_tokens=4))
    second, _ = on_engine(backend, GenerationRequest(Prompt((HEADER + "    '''Area.'''\n",)), max_tokens=4))
    assert second.cached_tokens >= first.prompt_tokens - 1
    assert second.prompt_tokens > first.prompt_tokens


def test_an_identical_prompt_is_served_entirely_from_cache(backend: EmbeddedBackend) -> None:
    on_engine(backend, GenerationRequest(Prompt((HEADER,)), max_tokens=3))
    again, _ = on_engine(backend, GenerationRequest(Prompt((HEADER,)), max_tokens=3))
    assert again.cached_tokens == again.prompt_tokens


def test_token_healing_lets_the_model_tokenize_the_boundary(backend: EmbeddedBackend) -> None:
    request = GenerationRequest(Prompt((HEADER.rstrip("\n"),)), max_tokens=16, forced_prefix="\n", stop=newline_stop)
    stats, texts = on_engine(backend, request)
    text = "".join(texts)
    assert stats.finish_reason == "stop"
    assert text.startswith("    ")  # the newline was regenerated with the indentation after it
    assert not text.startswith("\n")  # and is not repeated in the output


def test_healing_inside_a_word_completes_the_word(backend: EmbeddedBackend) -> None:
    request = GenerationRequest(Prompt((HEADER + "    return math.",)), max_tokens=8, forced_prefix="p")
    _, texts = on_engine(backend, request)
    assert "".join(texts).startswith("i * ")  # "p" + "i": the model finished the word it was given


def test_decoding_stops_within_one_token_of_a_cancel(backend: EmbeddedBackend) -> None:
    cancel = CancelToken()
    produced: list[GenerationEvent] = []

    def work(engine: LlamaEngine) -> Any:
        def emit(event: GenerationEvent) -> None:
            produced.append(event)
            if len(produced) == 3:
                cancel.cancel("test")

        request = GenerationRequest(Prompt((HEADER,)), max_tokens=64, cancel=cancel)
        return engine.run(request, emit, 0.0)

    stats = run(backend.call(work))
    assert stats.finish_reason == "cancelled"
    assert stats.cancel_reason == "test"
    assert stats.completion_tokens == 3 == len(produced)


def test_a_prompt_longer_than_the_context_is_an_engine_error(backend: EmbeddedBackend) -> None:
    with pytest.raises(EngineError, match="does not fit"):
        on_engine(backend, GenerationRequest(Prompt(("x = 1\n" * 2000,)), max_tokens=4))


def test_ranking_returns_distinct_scored_candidates(backend: EmbeddedBackend) -> None:
    plan = RankPlan(3, "\n        total += item", accept=lambda raw: raw.split("\n")[0], contenders=list)
    prefix = "def count(items):\n    total = 0"
    request = GenerationRequest(Prompt((prefix,)), max_tokens=24, forced_prefix="\n", stop=newline_stop, rank=plan)
    stats, _ = on_engine(backend, request)
    texts = [c.text for c in stats.candidates]
    assert 2 <= len(texts) <= 4
    assert len(set(texts)) == len(texts)
    assert all(c.score is not None and c.score < 0 for c in stats.candidates)


def test_a_fim_plan_adds_the_chance_that_the_middle_ends_after_each_candidate(backend: EmbeddedBackend) -> None:
    def scores(then_end: bool) -> dict[str, float | None]:
        plan = RankPlan(3, "\n", accept=lambda raw: raw.split("\n")[0], contenders=list, then_end=then_end)
        prefix = "def count(items):\n    total = 0"
        request = GenerationRequest(Prompt((prefix,)), max_tokens=24, forced_prefix="\n", stop=newline_stop, rank=plan)
        return {c.text: c.score for c in on_engine(backend, request)[0].candidates}

    plain, ended = scores(False), scores(True)
    assert plain.keys() == ended.keys()
    assert len(plain) >= 2
    for text, score in ended.items():
        assert score is not None
        assert plain[text] is not None
        assert score < plain[text] - 0.01  # log P(an end token next) < 0 was added


def test_a_lone_contender_is_not_scored(backend: EmbeddedBackend) -> None:
    plan = RankPlan(3, "\n    return 0", accept=lambda raw: raw.split("\n")[0], contenders=lambda texts: texts[:1])
    request = GenerationRequest(
        Prompt(("def zero():",)), max_tokens=24, forced_prefix="\n", stop=newline_stop, rank=plan
    )
    stats, _ = on_engine(backend, request)
    assert len(stats.candidates) == 1
    assert stats.candidates[0].score is None


def test_a_cancel_during_ranking_reports_cancelled_without_a_choice(backend: EmbeddedBackend) -> None:
    cancel = CancelToken()

    def accept_then_leave(raw: str) -> str:
        cancel.cancel("user typed on")
        return raw.split("\n")[0]

    plan = RankPlan(2, "\n        total += item", accept=accept_then_leave, contenders=list)
    request = GenerationRequest(
        Prompt(("def count(items):\n    total = 0",)),
        max_tokens=24,
        forced_prefix="\n",
        stop=newline_stop,
        cancel=cancel,
        rank=plan,
    )
    stats, _ = on_engine(backend, request)
    assert stats.finish_reason == "cancelled"
    assert stats.candidates == ()


def test_the_floor_measurement_leaves_the_cache_as_a_request_would(backend: EmbeddedBackend) -> None:
    stats, _ = on_engine(backend, GenerationRequest(Prompt((HEADER,)), max_tokens=5))
    floor = run(backend.call(lambda engine: engine.measure_floor(stats.cached_tokens, stats.completion_tokens)))
    assert floor > 0
    again, _ = on_engine(backend, GenerationRequest(Prompt((HEADER,)), max_tokens=5))
    assert again.cached_tokens == again.prompt_tokens
