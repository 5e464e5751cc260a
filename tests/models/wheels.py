"""Carrier packages for tests: wheels that hold a file's pieces as data, like the registry packages that carry
real models (`{module}/data/partNN.bin`), written by hand into a folder pip can install from."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from keystroke.domain.engines.catalog import CatalogEntry, PackagePieces, Piece


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def write_wheel(folder: Path, package: str, version: str, files: dict[str, bytes]) -> Path:
    """A pure-Python wheel of `files` (path -> bytes), with the metadata pip needs."""
    stem = package.replace("-", "_")
    info = f"{stem}-{version}.dist-info"
    contents = {
        **files,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: keystroke-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [f"{path},{_record_hash(data)},{len(data)}" for path, data in contents.items()]
    contents[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    wheel = folder / f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in contents.items():
            archive.writestr(path, data)
    return wheel


def split_into_wheels(data: bytes, folder: Path, stem: str, version: str, count: int) -> PackagePieces:
    """`data` cut into `count` pieces, one wheel each (`{stem}1` ...), and the catalog source that names them."""
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-len(data) // count)
    pieces = []
    for number in range(1, count + 1):
        package = f"{stem}{number}"
        path = f"{package.replace('-', '_')}/data/part{number:02d}.bin"
        write_wheel(folder, package, version, {path: data[(number - 1) * size : number * size]})
        pieces.append(Piece(package, version, path))
    return PackagePieces(tuple(pieces))


def fixture_entry(source: PackagePieces, data: bytes, sha256: str | None = None, name: str = "fixture") -> CatalogEntry:
    return CatalogEntry(
        name=name,
        title="a random-weight fixture model",
        license="Apache-2.0",
        profile="qwen2.5-coder:spm",
        size_bytes=len(data),
        sha256=sha256 if sha256 is not None else hashlib.sha256(data).hexdigest(),
        source=source,
        file_name=f"{name}.gguf",
    )
