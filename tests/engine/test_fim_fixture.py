"""FIM profiles on tiny random-weight GGUFs written by a fixture and loaded by the real llama.cpp."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keystroke.config import Settings
from keystroke.domain.engines.embedded import EmbeddedBackend
from keystroke.domain.engines.llama_vocabulary import read_model_card
from keystroke.domain.engines.model_source import resolve_model
from keystroke.domain.prompt.profiles import detect_profile
from keystroke.services.completion import CompletionService
from keystroke.services.types import CompletionRequest
from tests.conftest import make_settings, run

FAMILIES: dict[str, tuple[list[str], str]] = {
    "qwen": (
        ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|fim_pad|>", "<|file_sep|>"],
        "qwen2.5-coder:spm",
    ),
    "starcoder2": (["<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<fim_pad>", "<file_sep>"], "starcoder:spm"),
    "santacoder": (["<fim-prefix>", "<fim-suffix>", "<fim-middle>", "<fim-pad>"], "santacoder:spm"),
    "deepseek": (["<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", "<｜end▁of▁sentence｜>"], "deepseek-coder:psm"),
    "codellama": (["▁<PRE>", "▁<SUF>", "▁<MID>", "▁<EOT>"], "codellama:spm"),
    "codestral": (["[PREFIX]", "[SUFFIX]", "[MIDDLE]"], "codestral:native"),
    "codegemma": (["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_separator|>"], "codegemma:spm"),
    "plain": (["<|im_start|>", "<|im_end|>"], "l2r"),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_profile_is_detected_from_a_real_gguf_vocabulary(tiny_gguf: Any, family: str) -> None:
    tokens, label = FAMILIES[family]
    path: Path = tiny_gguf(family, tokens)
    name, special = read_model_card(resolve_model(str(path)))
    assert name == family
    assert detect_profile(special).label == label


def tiny_service(path: Path, profile: str | None = None, min_chunk: int = 32) -> CompletionService:
    settings: Settings = make_settings(**{"engine.n_ctx": 512, "engine.model": str(path)})
    backend = EmbeddedBackend(resolve_model(str(path)), n_ctx=512, n_threads=2, prefill_chunk=64, min_chunk=min_chunk)
    return CompletionService(backend, detect_profile(backend.info.special_tokens, profile), settings)


def prompt_ids(service: CompletionService) -> list[int]:
    assert isinstance(service.backend, EmbeddedBackend)
    return run(service.backend.call(lambda engine: list(engine.last_prompt)))


PREFIX = "def add(a, b):\n    return a"
SUFFIX = "\n\nprint(add(1, 2))\n"


def segments(service: CompletionService) -> list[str]:
    """The last prompt as marker names and decoded text runs, in order."""
    assert isinstance(service.backend, EmbeddedBackend)
    ids = prompt_ids(service)
    vocabulary = run(service.backend.call(lambda engine: engine.vocabulary))
    names = {token: text for text, token in vocabulary.special.items()}
    out: list[str] = []
    run_bytes = b""
    for token in ids:
        if token in names:
            if run_bytes:
                out.append(run_bytes.decode())
                run_bytes = b""
            out.append(names[token])
        else:
            run_bytes += vocabulary.pieces[token]
    return [*out, run_bytes.decode()] if run_bytes else out


@pytest.mark.parametrize(
    ("profile", "layout"),
    [
        (None, ["<fim_prefix>", "<fim_suffix>", SUFFIX, "<fim_middle>", "PREFIX"]),  # StarCoder's default: SPM
        ("starcoder:psm", ["<fim_prefix>", "PREFIX", "<fim_suffix>", SUFFIX, "<fim_middle>"]),
    ],
)
def test_fim_prompt_follows_the_profile_order(tiny_gguf: Any, profile: str | None, layout: list[str]) -> None:
    tokens, _ = FAMILIES["starcoder2"]
    service = tiny_service(tiny_gguf("starcoder2-order", tokens), profile)
    try:
        result = run(service.complete(CompletionRequest(prefix=PREFIX, suffix=SUFFIX, mode="inline")))
        kept = PREFIX.removesuffix(" a")  # the last pre-token is healed: generated, not in the prompt
        assert segments(service) == [kept if part == "PREFIX" else part for part in layout]
        assert result.usage.prompt_tokens == len(prompt_ids(service))
        assert result.finish_reason in ("stop", "eos", "length")
    finally:
        run(service.backend.aclose())


@pytest.mark.parametrize(
    ("profile", "min_chunk", "recomputed_at_least"),
    [("starcoder:spm", 0, 0), ("starcoder:psm", 0, 40), ("starcoder:psm", 16, 0)],
)
def test_a_keystroke_recomputes_only_the_prompts_tail(
    tiny_gguf: Any, profile: str, min_chunk: int, recomputed_at_least: int
) -> None:
    """SPM puts the suffix before the prefix: a typed character leaves the suffix's KV state in place. PSM
    puts it after: without chunk reuse the whole suffix is evaluated again; with it, the suffix's cached run
    is moved behind the typed character."""
    tokens, _ = FAMILIES["starcoder2"]
    service = tiny_service(tiny_gguf("starcoder2-typing", tokens), profile, min_chunk)
    suffix = "\n\n" + "".join(f"print(add({i}, {i}))\n" for i in range(6))
    try:
        run(service.complete(CompletionRequest(prefix="def add(a, b):\n    return a +", suffix=suffix, mode="inline")))
        typed = run(service.complete(CompletionRequest(prefix="def add(a, b):\n    return a + b", suffix=suffix)))
        recomputed = typed.usage.prompt_tokens - typed.usage.cached_tokens
        assert recomputed >= recomputed_at_least
        if recomputed_at_least == 0:
            assert recomputed <= 4
    finally:
        run(service.backend.aclose())


def test_control_tokens_in_user_text_stay_text(tiny_gguf: Any) -> None:
    tokens, _ = FAMILIES["qwen"]
    service = tiny_service(tiny_gguf("qwen-injection", tokens))
    try:
        request = CompletionRequest(prefix="x = '<|fim_middle|>'\n", suffix="", mode="inline", max_tokens=2)
        run(service.complete(request))
        ids = prompt_ids(service)
        vocab = run(service.backend.call(lambda engine: engine.vocabulary.special))  # type: ignore[attr-defined]
        assert ids.count(vocab["<|fim_middle|>"]) == 1  # only the marker the template placed
    finally:
        run(service.backend.aclose())
