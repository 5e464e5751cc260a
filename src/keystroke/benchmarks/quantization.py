"""Quantization variants side by side: what each weight format costs and what it keeps.

For each model (a catalog variant such as `qwen2.5-coder-0.5b-q4_0`, or any GGUF), in one run, on the same
engine settings:
- **prefill and decode tokens/s** of raw llama.cpp (`engine_speed`): a `PREFILL_TOKENS`-token prompt from a
  real source file evaluated in one batch from an empty cache, then `DECODE_TOKENS` greedy tokens one by one;
  the best of `ROUNDS` rounds, since on a shared machine noise only ever adds time;
- **warm first action**: the typing benchmark's warm keystrokes (`typing.py`), p50/p95 beside the floor;
- **HumanEval single-line exact match** (when the evaluation data is given), greedy, on a sample;
- **file size** and **memory**: the resident memory the process gained by loading the model and serving a
  request (llama.cpp repacks Q4_0 and IQ4_NL weights into memory of its own, so this can exceed the file).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from keystroke.domain.engines.llama_engine import LlamaEngine

PREFILL_TOKENS = 256
DECODE_TOKENS = 32
ROUNDS = 3


@dataclass
class Speed:
    prefill_tokens_per_s: float
    decode_tokens_per_s: float


@dataclass
class VariantRow:
    model: str
    file_mb: float
    memory_mb: float
    speed: Speed
    typing: dict[str, Any]
    exact_match: float | None = None
    pass_at_1: float | None = None
    tasks: int = 0


def engine_speed(engine: LlamaEngine, text: str) -> Speed:
    """Raw llama.cpp prefill and decode speed on `engine` (run on its worker thread); leaves the cache empty."""
    import time

    tokens = engine.tokenize(text)[:PREFILL_TOKENS]
    if len(tokens) < PREFILL_TOKENS:
        raise ValueError(f"the text has {len(tokens)} tokens; the prefill measurement needs {PREFILL_TOKENS}")
    prefill = decode = float("inf")
    for _ in range(ROUNDS):
        engine.reset()
        started = time.perf_counter()
        logits = engine.raw_eval(tokens)
        prefill = min(prefill, time.perf_counter() - started)
        started = time.perf_counter()
        for _ in range(DECODE_TOKENS):
            logits = engine.raw_eval([int(np.argmax(logits))])
        decode = min(decode, time.perf_counter() - started)
    engine.reset()
    return Speed(PREFILL_TOKENS / prefill, DECODE_TOKENS / decode)


def resident_mb() -> float:
    """This process's resident memory now, in MB (Linux; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rows_json(rows: list[VariantRow]) -> list[dict[str, Any]]:
    return [asdict(row) for row in rows]


def format_quantization(rows: list[VariantRow]) -> str:
    head = (
        f"{'model':<30} {'file MB':>8} {'memory MB':>9} {'prefill tok/s':>13} {'decode tok/s':>12} "
        f"{'first action p50/p95 ms':>23} {'floor p50':>9} {'EM':>6} {'pass@1':>6}"
    )
    lines = ["quantization variants (one run, same engine settings)", head, "-" * len(head)]
    for row in rows:
        warm = row.typing["warm"]
        first, floor = warm["first_action_ms"], warm["floor_ms"]
        action = f"{_ms(first['p50'])} / {_ms(first['p95'])}"
        lines.append(
            f"{row.model:<30} {row.file_mb:>8,.0f} {row.memory_mb:>9,.0f} {row.speed.prefill_tokens_per_s:>13.1f} "
            f"{row.speed.decode_tokens_per_s:>12.1f} {action:>23} {_ms(floor['p50']):>9} "
            f"{_share(row.exact_match):>6} {_share(row.pass_at_1):>6}"
        )
    tasks = next((row.tasks for row in rows if row.tasks), 0)
    quality = f"HumanEval single-line, greedy, {tasks} tasks" if tasks else "quality not measured (no --data)"
    lines.append(f"  EM / pass@1: {quality}; first action: warm typing keystrokes, floor = raw llama.cpp")
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
