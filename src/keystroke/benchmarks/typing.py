"""Typing benchmark: type a real source file character by character and time every suggestion.

For each keystroke the completion service runs exactly as the gateway would run it (inline mode, one session),
and then, on the same engine thread and in the same run, the *floor* is timed: raw llama.cpp evaluating the
same prompt delta on the same cached prefix and decoding the same number of tokens, with none of keystroke's
logic. Every `cold_every`-th keystroke starts from an empty KV cache. Reported: first-action latency
percentiles warm and cold beside their floors, the ratio, and the share of prompt tokens served from cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from keystroke.domain.engines.embedded import EmbeddedBackend
from keystroke.domain.engines.llama_engine import LlamaEngine
from keystroke.domain.statistics import percentiles
from keystroke.services.completion import CompletionService
from keystroke.services.types import CompletionRequest

Progress = Callable[[int], None]


@dataclass
class Keystroke:
    offset: int
    cold: bool
    shown: bool
    answer_ms: float
    first_action_ms: float | None
    floor_ms: float
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    abstain_reason: str | None


@dataclass
class TypingReport:
    file: str
    model: str
    profile: str
    keystrokes: list[Keystroke] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "model": self.model, "profile": self.profile}
        for label, cold in (("warm", False), ("cold", True)):
            group = [k for k in self.keystrokes if k.cold == cold]
            shown = [k for k in group if k.first_action_ms is not None]
            ours = [k.first_action_ms for k in shown if k.first_action_ms is not None]
            floor = [k.floor_ms for k in shown]
            ours_p, floor_p = percentiles(ours), percentiles(floor)
            out[label] = {
                "keystrokes": len(group),
                "shown": len(shown),
                "first_action_ms": ours_p,
                "floor_ms": floor_p,
                "answer_ms": percentiles([k.answer_ms for k in group]),
                "ratio_p50": _ratio(ours_p["p50"], floor_p["p50"]),
                "ratio_p95": _ratio(ours_p["p95"], floor_p["p95"]),
                "cached_token_ratio": sum(k.cached_tokens for k in group) / max(sum(k.prompt_tokens for k in group), 1),
            }
        return out

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "keystrokes": [asdict(k) for k in self.keystrokes]}


def typing_plan(text: str, keystrokes: int, start_fraction: float = 0.3) -> tuple[int, int]:
    """(start offset, end offset): the stretch of `text` to type, from a line start about `start_fraction` in."""
    if not text.strip():
        raise ValueError("the file to type is empty")
    start = text.rfind("\n", 0, int(len(text) * start_fraction)) + 1
    return start, min(len(text), start + keystrokes)


async def run_typing(
    service: CompletionService,
    backend: EmbeddedBackend,
    file: Path,
    keystrokes: int,
    cold_every: int,
    progress: Progress | None = None,
) -> TypingReport:
    text = file.read_text(encoding="utf-8")
    start, end = typing_plan(text, keystrokes)
    report = TypingReport(file.name, backend.info.name, service.profile.label)
    for index, offset in enumerate(range(start + 1, end + 1)):
        cold = cold_every > 0 and index % cold_every == 0
        if cold:
            await backend.call(lambda engine: engine.reset())
        result = await service.complete(
            CompletionRequest(
                prefix=text[:offset],
                suffix=text[end:],
                language="python",
                filepath=file.name,
                mode="inline",
                session_id="bench-typing",
            )
        )
        usage = result.usage
        floor = await backend.call(partial(_floor, cached=usage.cached_tokens, decoded=usage.completion_tokens))
        report.keystrokes.append(
            Keystroke(
                offset=offset,
                cold=cold,
                shown=bool(result.text),
                answer_ms=result.timings.first_action_ms or result.timings.total_ms,
                first_action_ms=result.timings.first_action_ms,
                floor_ms=floor,
                prompt_tokens=usage.prompt_tokens,
                cached_tokens=usage.cached_tokens,
                completion_tokens=usage.completion_tokens,
                abstain_reason=result.abstain_reason,
            )
        )
        if progress:
            progress(1)
    return report


def format_typing(summary: dict[str, Any]) -> str:
    def row(label: str, values: dict[str, float | None]) -> str:
        cells = "".join(f"{'-' if v is None else f'{v:.1f}':>10}" for v in values.values())
        return f"  {label:<24}{cells}"

    lines = [f"typing replay: {summary['file']} · model {summary['model']} · profile {summary['profile']}"]
    lines.append(f"  {'':<24}{'p50':>10}{'p95':>10}{'p99':>10}")
    for label in ("warm", "cold"):
        part = summary[label]
        lines.append(row(f"{label} first action ms", part["first_action_ms"]))
        lines.append(row(f"{label} floor ms", part["floor_ms"]))
        ratio = " / ".join("-" if r is None else f"{r:.2f}x" for r in (part["ratio_p50"], part["ratio_p95"]))
        lines.append(
            f"  {label}: {part['shown']}/{part['keystrokes']} shown · ratio to floor p50 / p95 {ratio} · "
            f"cached prompt tokens {part['cached_token_ratio']:.2f}"
        )
    return "\n".join(lines)


def _floor(engine: LlamaEngine, cached: int, decoded: int) -> float:
    return engine.measure_floor(cached, decoded)


def _ratio(ours: float | None, floor: float | None) -> float | None:
    return None if ours is None or not floor else ours / floor
