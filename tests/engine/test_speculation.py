"""Speculative decoding by prompt lookup: drafts, the rollout gate, and the real engine verifying drafts."""

from __future__ import annotations

from typing import Any

import pytest

from keystroke.domain.engines.base import GenerationRequest, Prompt, TokenEvent
from keystroke.domain.engines.embedded import EmbeddedBackend
from keystroke.domain.engines.llama_engine import Drafts, LlamaEngine
from keystroke.domain.engines.speculation import SpeculationGate, lookup_draft
from tests.conftest import run


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([1, 2, 3, 4, 5, 9, 2, 3], [4, 5, 9, 2, 3]),  # "2 3" seen before: what followed it
        ([1, 2, 3, 7, 2, 3, 8, 2, 3], [8, 2, 3]),  # the latest earlier occurrence wins
        ([5, 1, 2, 3, 6, 0, 2, 3, 9, 1, 2, 3], [6, 0, 2, 3, 9, 1, 2, 3]),  # the 3-gram beats the later 2-gram
        ([1, 2, 3, 4], []),  # nothing repeats
        ([7, 7], []),  # too short for a 2-gram with a continuation
    ],
)
def test_the_draft_is_what_followed_the_tail_last_time(history: list[int], expected: list[int]) -> None:
    assert lookup_draft(history, length=8) == expected


def test_the_draft_length_is_capped() -> None:
    assert lookup_draft([1, 2, 3, 4, 5, 6, 1, 2], length=2) == [3, 4]


def measured(gate: SpeculationGate, key: str, speculative_ms: float, plain_ms: float, accepted: int) -> None:
    while gate.keys.get(key) is None or gate.keys[key].decision is None:
        speculative = gate.choose(key)
        tokens = 10
        drafts = Drafts(rounds=4, accepted=accepted) if speculative else Drafts()
        gate.record(key, speculative, tokens, (speculative_ms if speculative else plain_ms) * tokens, drafts)


def test_the_gate_alternates_then_keeps_speculation_only_where_it_pays() -> None:
    gate = SpeculationGate("gated", samples=3, min_accept=1.5, min_gain=1.1)
    assert [gate.choose("python/inline") for _ in range(2)] == [True, True]  # nothing recorded yet
    measured(gate, "python/multiline", speculative_ms=5.0, plain_ms=10.0, accepted=12)  # 3 per round, 2x faster
    measured(gate, "python/inline", speculative_ms=12.0, plain_ms=10.0, accepted=12)  # accepted, but slower
    measured(gate, "text/inline", speculative_ms=5.0, plain_ms=10.0, accepted=2)  # faster, but 0.5 per round
    assert gate.keys["python/multiline"].decision is True
    assert gate.keys["python/inline"].decision is False
    assert gate.keys["text/inline"].decision is False
    assert gate.choose("python/multiline") is True
    assert gate.choose("python/inline") is False
    report = gate.report()["python/multiline"]
    assert report["gain"] == pytest.approx(2.0)
    assert report["mean_accepted"] == pytest.approx(3.0)


def test_fixed_modes_do_not_measure_their_way_out() -> None:
    assert SpeculationGate("on").choose("x") is True
    assert SpeculationGate("off").choose("x") is False


REPETITIVE = (
    "".join(f"    register('item_{i}', handler_{i}, priority={i})\n" for i in range(12)) + "    register('item_"
)


@pytest.mark.model
def test_the_engine_accepts_drafts_on_repetitive_code_and_keeps_its_kv_state_consistent(
    backend: EmbeddedBackend,
) -> None:
    def work(engine: LlamaEngine) -> Any:
        previous, engine.gate = engine.gate, SpeculationGate("on")
        try:
            texts: list[str] = []
            request = GenerationRequest(Prompt((REPETITIVE,)), max_tokens=40, speculation_key="python/multiline")
            stats = engine.run(request, lambda e: texts.append(e.text) if isinstance(e, TokenEvent) else None, 0.0)
            generated = engine._live.tokens[len(engine.last_prompt) :]
            in_kv = b"".join(engine.vocabulary.pieces[t] for t in generated).decode("utf-8", "replace")
            return stats, "".join(texts), in_kv, engine.gate.report()
        finally:
            engine.gate = previous

    stats, text, in_kv, report = run(backend.call(work))
    assert stats.completion_tokens == 40
    assert stats.draft_rounds >= 1
    assert stats.draft_accepted >= 5  # the register(...) lines repeat: drafts from the prompt are accepted
    assert text.startswith(in_kv)  # the KV state holds exactly the emitted tokens (the last one not yet evaluated)
    assert len(in_kv) >= len(text) - 12
    assert "register('item_" in text
    assert report["python/multiline"]["requests"] == [1, 0]


@pytest.mark.model
def test_the_gated_engine_measures_both_ways_then_decides(backend: EmbeddedBackend) -> None:
    def work(engine: LlamaEngine) -> Any:
        previous, engine.gate = engine.gate, SpeculationGate("gated", samples=2)
        try:
            for _ in range(4):
                request = GenerationRequest(Prompt((REPETITIVE,)), max_tokens=12, speculation_key="python/multiline")
                engine.run(request, lambda _event: None, 0.0)
            return engine.gate.report()["python/multiline"]
        finally:
            engine.gate = previous

    report = run(backend.call(work))
    assert report["requests"] == [2, 2]
    assert report["decision"] is not None
    assert report["gain"] is not None
