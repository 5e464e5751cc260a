"""Quantize a GGUF file with llama.cpp's own quantizer (`llama_model_quantize`, exposed by llama-cpp-python).

Why it is here: on a CPU the weight format decides the speed more than anything keystroke does. llama.cpp
repacks Q4_0 and IQ4_NL weights at load time into interleaved layouts its AVX2/AVX-512 kernels read fastest,
so a Q4_0 copy of the shipped Q4_K_M file prefills and decodes about 1.6x faster here (docs/measurements.md,
"Quantization variants"). The catalog offers such variants as files derived on this machine from a verified
base file (`catalog.DerivedFile`); `model_cache.derive` stamps the result with its recipe.

Requantizing an already quantized file (`allow_requantize`) loses a little more than quantizing the original
weights would; the catalog's variants state their measured exact match beside the base's.

The quantizer has no progress callback: `quantize_file` runs it on a thread and reports the output file's
growth against the expected size.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from keystroke.errors import ModelLoadError

Progress = Callable[[int, int], None]  # (bytes written, bytes expected)
POLL_S = 0.2

# llama.cpp's `enum llama_ftype` values for the formats keystroke offers (stable across llama.cpp versions).
FORMATS: dict[str, int] = {
    "q4_0": 2,
    "q4_1": 3,
    "q5_0": 8,
    "q8_0": 7,
    "q4_k_s": 14,
    "q4_k_m": 15,
    "q5_k_m": 17,
    "q6_k": 18,
    "iq4_nl": 25,
    "iq4_xs": 30,
}


def quantize_file(
    source: Path,
    target: Path,
    quantization: str,
    *,
    expected_bytes: int,
    threads: int | None = None,
    progress: Progress | None = None,
) -> None:
    """Write `source` quantized to `quantization` (a key of FORMATS) at `target`; ModelLoadError if llama.cpp
    refuses. `target` is removed when the quantizer fails or is interrupted."""
    if quantization not in FORMATS:
        raise ModelLoadError(f"unknown quantization {quantization!r}; known: {', '.join(sorted(FORMATS))}")
    import llama_cpp

    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)  # its per-tensor chatter would break the bar
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FORMATS[quantization]
    params.allow_requantize = True
    params.nthread = threads or os.cpu_count() or 1
    outcome: list[int | BaseException] = []

    def work() -> None:
        try:
            outcome.append(llama_cpp.llama_model_quantize(bytes(source), bytes(target), ctypes.byref(params)))
        except BaseException as exc:  # reported on the caller's thread
            outcome.append(exc)

    worker = threading.Thread(target=work, name="keystroke-quantize", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(POLL_S)
            if progress:
                progress(min(_size(target), expected_bytes), expected_bytes)
    except BaseException:
        worker.join()  # llama.cpp cannot be stopped midway: let it finish, then throw its output away
        target.unlink(missing_ok=True)
        raise
    result = outcome[0] if outcome else RuntimeError("the quantizer thread ended without a result")
    if result != 0:
        target.unlink(missing_ok=True)
        raise ModelLoadError(f"llama.cpp could not quantize {source.name} to {quantization} ({result})")
    if progress:
        progress(_size(target), _size(target))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
