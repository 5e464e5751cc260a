"""Speculative decoding with a draft model: the answer is exactly greedy decoding's, drafts are verified and
accepted, the draft's KV state follows the history, another tenant starts it afresh, and a draft model of
another vocabulary is refused. Real llama.cpp: tiny fixture GGUFs sharing a vocabulary, and real Qwen."""

from __future__ import annotations

from pathlib import Path

import pytest

from keystroke.domain.engines.base import GenerationRequest, GenerationStats, Prompt, TokenEvent
from keystroke.domain.engines.llama_draft import ModelDrafter
from keystroke.domain.engines.llama_engine import LlamaEngine
from keystroke.domain.engines.model_source import ModelSource
from keystroke.domain.engines.speculation import SpeculationGate
from keystroke.errors import ConfigError
from tests.fixtures.qwen import qwen_and_q4_0
from tests.fixtures.tiny_gguf import write_tiny_gguf

pytestmark = pytest.mark.model

TOKENS = ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"]
CODE = "def scale(values, factor):\n    result = []\n    for value in values:\n        result.append("


def _engine(path: Path, drafter: ModelDrafter | None, mode: str) -> LlamaEngine:
    gate = SpeculationGate(mode)  # type: ignore[arg-type]
    return LlamaEngine(ModelSource("target", path), n_ctx=512, n_threads=2, prefill_chunk=64, speculation=gate,
                       drafter=drafter)  # fmt: skip


def _generate(engine: LlamaEngine, prompt: str, tokens: int, owner: str = "") -> tuple[str, GenerationStats]:
    texts: list[str] = []
    request = GenerationRequest(Prompt((prompt,)), max_tokens=tokens, cache_owner=owner)
    stats = engine.run(request, lambda event: texts.append(event.text) if isinstance(event, TokenEvent) else None, 0)
    return "".join(texts), stats


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("draft")
    target = write_tiny_gguf(folder / "target.gguf", TOKENS, name="target", seed=1)
    sibling = write_tiny_gguf(folder / "sibling.gguf", TOKENS, name="sibling", seed=2)
    foreign = write_tiny_gguf(folder / "foreign.gguf", [*TOKENS, "<|extra|>"], name="foreign", seed=3)
    return target, sibling, foreign


def test_a_draft_model_changes_the_time_never_the_answer(pair: tuple[Path, Path, Path]) -> None:
    target, sibling, _ = pair
    plain = _engine(target, None, "off")
    itself = _engine(target, ModelDrafter(ModelSource("itself", target), n_ctx=512, n_threads=2, p_min=0.0), "on")
    other = _engine(target, ModelDrafter(ModelSource("other", sibling), n_ctx=512, n_threads=2, p_min=0.0), "on")
    try:
        expected, _ = _generate(plain, CODE, 24)
        same, by_itself = _generate(itself, CODE, 24)
        different, by_other = _generate(other, CODE, 24)
    finally:
        for engine in (plain, itself, other):
            engine.close()
    assert same == expected
    assert different == expected, "drafts another model guessed are verified: the answer is the target's"
    assert by_itself.draft_rounds >= 1
    assert by_itself.draft_accepted >= 2 * by_itself.draft_rounds, "the target agrees with its own drafts"
    assert by_other.draft_rounds >= 1


def test_the_drafter_keeps_its_state_for_one_owner_and_starts_afresh_for_another(pair: tuple[Path, Path, Path]) -> None:
    target, _, _ = pair
    drafter = ModelDrafter(ModelSource("draft", target), n_ctx=512, n_threads=2, p_min=0.0)
    try:
        history = list(range(40, 80))
        first = drafter.draft(history, 4, "tenant-a")
        assert len(first) == 4
        assert drafter._live.tokens == history + first[:3], "the last draft token is not evaluated"
        assert drafter.draft(history + first[:2], 4, "tenant-a")[:2] == first[2:4], "greedy: the same guesses"
        drafter.draft(history, 4, "tenant-b")
        assert drafter._live.owner == "tenant-b"
        assert drafter.draft([], 4, "tenant-b") == []
        assert drafter.draft(history, 0, "tenant-b") == []
    finally:
        drafter.close()


def test_a_draft_model_of_another_vocabulary_is_refused(pair: tuple[Path, Path, Path]) -> None:
    target, _, foreign = pair
    with pytest.raises(ConfigError, match=r"another vocabulary.*share the target's tokenizer"):
        _engine(target, ModelDrafter(ModelSource("foreign", foreign), n_ctx=512, n_threads=2), "on")


@pytest.mark.qwen
def test_qwen_drafting_for_qwen_is_accepted_and_exact(tmp_path: Path) -> None:
    base, draft = qwen_and_q4_0(tmp_path)
    plain = _engine(base, None, "off")
    drafted = _engine(base, ModelDrafter(ModelSource("draft", draft), n_ctx=512, n_threads=2), "on")
    try:
        expected, _ = _generate(plain, CODE, 16)
        text, stats = _generate(drafted, CODE, 16)
    finally:
        plain.close()
        drafted.close()
    assert text == expected
    assert stats.draft_rounds >= 1
    assert stats.draft_accepted / stats.draft_rounds >= 1.5, "the Q4_0 copy guesses what the Q4_K_M writes"
