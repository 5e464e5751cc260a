"""KV slots and chunk reuse: the pure bookkeeping, then the real default model switching between files."""

from __future__ import annotations

from typing import Any

import pytest

from keystroke.domain.engines.base import GenerationRequest, Prompt, TokenEvent
from keystroke.domain.engines.embedded import EmbeddedBackend
from keystroke.domain.engines.kv_slots import Chunk, Slot, SlotStore, plan_chunk
from keystroke.domain.engines.llama_engine import LlamaEngine
from keystroke.domain.engines.model_source import resolve_model
from tests.conftest import TEST_MODEL, run


def slot(owner: str, tokens: list[int], size: int = 10) -> Slot:
    return Slot(owner, tokens, b"\0" * size)


def test_the_best_slot_shares_the_longest_prefix_and_belongs_to_the_owner() -> None:
    store = SlotStore(budget_bytes=1000, max_slots=8)
    store.save(slot("a", [1, 2, 3, 4]))
    store.save(slot("a", [1, 2, 9]))
    store.save(slot("b", [1, 2, 3, 4, 5]))
    best, shared = store.best("a", [1, 2, 3, 4, 5])
    assert best is not None
    assert (best.tokens, shared) == ([1, 2, 3, 4], 4)
    assert store.best("c", [1, 2, 3]) == (None, 0)


def test_slots_are_evicted_least_recently_used_within_the_byte_budget_and_count() -> None:
    store = SlotStore(budget_bytes=25, max_slots=8)
    first, second, third = slot("a", [1]), slot("a", [2]), slot("a", [3])
    store.save(first)
    store.save(second)
    store.touch(first)  # used after second: second is now the least recently used
    store.save(third)
    assert store.slots_of("a") == [first, third]
    assert store.counters.evicted == 1
    counted = SlotStore(budget_bytes=10_000, max_slots=2)
    for tokens in ([1], [2], [3]):
        counted.save(slot("a", tokens))
    assert [s.tokens for s in counted.slots_of("a")] == [[2], [3]]


def test_a_saved_slot_replaces_its_older_versions() -> None:
    store = SlotStore(budget_bytes=1000, max_slots=8)
    old = slot("a", [1, 2, 3])
    store.save(old)
    store.save(slot("a", [1, 2, 3, 4]), replacing=[old])
    assert [s.tokens for s in store.slots_of("a")] == [[1, 2, 3, 4]]


OLD = list(range(100, 160))


@pytest.mark.parametrize(
    ("new", "common", "expected"),
    [
        # three tokens inserted after the shared 10: the rest moves 3 positions on
        ([*OLD[:10], 1, 2, 3, *OLD[10:]], 10, Chunk(10, 13, 50)),
        # five tokens deleted: the rest moves back
        (OLD[:10] + OLD[15:], 10, Chunk(15, 10, 45)),
        # two tokens replaced by four
        ([*OLD[:10], 7, 7, 7, 7, *OLD[12:]], 10, Chunk(12, 14, 48)),
        # nothing of the old tail comes back
        (OLD[:10] + list(range(500, 550)), 10, None),
        # what comes back is shorter than the minimum
        ([*OLD[:10], 1, *OLD[50:55]], 10, None),
    ],
)
def test_the_chunk_plan_finds_the_cached_run_after_an_edit(new: list[int], common: int, expected: Chunk) -> None:
    assert plan_chunk(OLD, new, common, min_length=8) == expected


def test_no_chunk_is_planned_when_reuse_is_off_or_nothing_follows() -> None:
    assert plan_chunk(OLD, [*OLD[:10], 1, *OLD[10:]], 10, min_length=0) is None
    assert plan_chunk(OLD, OLD, len(OLD), min_length=8) is None


# -- the real default model ------------------------------------------------------------------------------

FILES = {
    name: "".join(f"def {name}_{i}(value):\n    return value * {i} + {len(name)}\n\n\n" for i in range(14))
    for name in ("alpha", "beta", "gamma")
}


@pytest.fixture(scope="module")
def engine_backend() -> Any:
    """Its own engine: the tests count slot saves and restores from a known start."""
    backend = EmbeddedBackend(resolve_model(TEST_MODEL), n_ctx=2048, n_threads=2, prefill_chunk=64, min_chunk=16)
    yield backend
    run(backend.aclose())


def generate(backend: EmbeddedBackend, text: str, owner: str = "t") -> tuple[Any, str]:
    texts: list[str] = []

    def work(engine: LlamaEngine) -> Any:
        request = GenerationRequest(Prompt((text,)), max_tokens=8, cache_owner=owner)
        return engine.run(request, lambda e: texts.append(e.text) if isinstance(e, TokenEvent) else None, 0.0)

    return run(backend.call(work)), "".join(texts)


def counters(backend: EmbeddedBackend) -> Any:
    return run(backend.call(lambda engine: engine.slots.counters))


@pytest.mark.model
def test_interleaved_files_each_come_back_to_their_own_slot(engine_backend: EmbeddedBackend) -> None:
    run(engine_backend.call(lambda engine: engine.reset()))
    cold = {name: generate(engine_backend, text) for name, text in FILES.items()}
    for name, text in FILES.items():  # every file again, after the others evicted it from the live state
        stats, _output = generate(engine_backend, text + "# ")
        assert stats.cached_tokens >= 0.9 * stats.prompt_tokens, name
        assert generate(engine_backend, text)[1] == cold[name][1]  # a restored slot answers as a cold prompt
    assert counters(engine_backend).restored >= 3


@pytest.mark.model
def test_another_owner_never_restores_a_slot(engine_backend: EmbeddedBackend) -> None:
    generate(engine_backend, FILES["alpha"], owner="tenant-a")
    generate(engine_backend, FILES["beta"], owner="tenant-a")  # alpha is now a saved slot of tenant-a
    stats, _ = generate(engine_backend, FILES["alpha"], owner="tenant-b")
    assert stats.cached_tokens == 0


@pytest.mark.model
def test_an_edit_earlier_in_the_file_moves_the_cached_rest(engine_backend: EmbeddedBackend) -> None:
    text = FILES["gamma"]
    generate(engine_backend, text)
    before = counters(engine_backend).chunk_reuses
    edited = text.replace("return value * 2 + 5", "return (value - 1) * 2 + 5")
    stats, output = generate(engine_backend, edited)
    assert counters(engine_backend).chunk_reuses == before + 1
    assert stats.cached_tokens >= stats.prompt_tokens - 40
    assert output  # the moved state still decodes


@pytest.mark.model
def test_a_zero_budget_keeps_no_slot_and_stays_correct() -> None:
    backend = EmbeddedBackend(resolve_model(TEST_MODEL), n_ctx=1024, n_threads=2, prefill_chunk=64, slot_bytes=0)
    try:
        generate(backend, FILES["alpha"])
        generate(backend, FILES["beta"])
        stats, _ = generate(backend, FILES["alpha"])
        assert stats.cached_tokens < 0.5 * stats.prompt_tokens
        assert counters(backend).saved == 0
        assert run(backend.call(lambda engine: len(engine.slots))) == 0
    finally:
        run(backend.aclose())
