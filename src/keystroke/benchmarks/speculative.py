"""Speculative decoding benchmark: prompt-lookup drafts on and off, per lane, side by side in one run.

At each of `positions` cursor positions in a real file, per lane (inline: the rest of the line; multi-line:
a block), the prompt is first evaluated once (so both arms start from the same warm KV cache), then the
completion runs with speculation on and with it off, alternating which goes first. Reported per lane: the
mean accepted draft length (tokens per verification batch), decode milliseconds per token each way, the
gain (plain / speculative), first-action latency each way, and the rollout gate's decision under the
configured thresholds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from keystroke.benchmarks.typing import typing_plan
from keystroke.domain.engines.embedded import EmbeddedBackend
from keystroke.domain.engines.llama_engine import LlamaEngine
from keystroke.domain.engines.speculation import GateMode, SpeculationGate
from keystroke.domain.postprocess.shaping import Mode
from keystroke.domain.statistics import percentiles
from keystroke.services.completion import CompletionService
from keystroke.services.types import CompletionRequest

Progress = Callable[[int], None]
LANES: tuple[Mode, ...] = ("inline", "multiline")
LANGUAGE = "python"
WARM_UP_LANGUAGE = "warm-up"  # a key of its own, so warming the cache is not measured as either arm


@dataclass
class SpeculativeReport:
    file: str
    model: str
    thresholds: dict[str, float]
    gate: dict[str, dict[str, Any]] = field(default_factory=dict)
    first_action_ms: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        lanes: dict[str, Any] = {}
        for lane in LANES:
            figures = dict(self.gate.get(f"{LANGUAGE}/{lane}", {}))
            first = self.first_action_ms.get(lane, {})
            figures["first_action_ms"] = {arm: percentiles(values) for arm, values in first.items()}
            lanes[lane] = figures
        return {"file": self.file, "model": self.model, "thresholds": self.thresholds, "lanes": lanes}

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "first_action_ms": self.first_action_ms}


async def run_speculative(
    service: CompletionService, backend: EmbeddedBackend, file: Path, positions: int, progress: Progress | None = None
) -> SpeculativeReport:
    text = file.read_text(encoding="utf-8")
    offsets = typing_plan(text, positions * 40)[::40][:positions]
    configured: SpeculationGate = await backend.call(lambda engine: engine.gate)
    gate = SpeculationGate("on", configured.samples, configured.min_accept, configured.min_gain)
    await backend.call(lambda engine: _use(engine, gate))
    report = SpeculativeReport(
        file.name,
        backend.info.name,
        {"min_accept": gate.min_accept, "min_gain": gate.min_gain},
    )
    try:
        for lane in LANES:
            arms: dict[str, list[float]] = {"speculative": [], "plain": []}
            for index, offset in enumerate(offsets):
                request = CompletionRequest(prefix=text[:offset], suffix=text[offset:], mode=lane, trigger="automatic")
                await service.complete(_with_language(request, WARM_UP_LANGUAGE, max_tokens=1))
                order: tuple[GateMode, GateMode] = ("on", "off") if index % 2 == 0 else ("off", "on")
                for mode in order:
                    gate.mode = mode
                    result = await service.complete(_with_language(request, LANGUAGE))
                    if result.timings.first_action_ms is not None:
                        arms["speculative" if mode == "on" else "plain"].append(result.timings.first_action_ms)
                if progress:
                    progress(1)
            report.first_action_ms[lane] = arms
    finally:
        await backend.call(lambda engine: _use(engine, configured))
    report.gate = _decisions(gate)
    return report


def _use(engine: LlamaEngine, gate: SpeculationGate) -> None:
    engine.gate = gate


def _with_language(request: CompletionRequest, language: str, max_tokens: int | None = None) -> CompletionRequest:
    return replace(request, language=language, max_tokens=max_tokens)


def _decisions(gate: SpeculationGate) -> dict[str, dict[str, Any]]:
    """The gate's figures per key, each with the decision its thresholds give on them."""
    report = gate.report()
    for key, state in gate.keys.items():
        report[key]["decision"] = gate.passes(state)
    return report


def format_speculative(summary: dict[str, Any]) -> str:
    thresholds = summary["thresholds"]
    lines = [
        f"speculative decoding (prompt lookup): {summary['file']} · model {summary['model']}",
        f"gate: on where mean accepted >= {thresholds['min_accept']} tokens and gain >= {thresholds['min_gain']}x",
        f"  {'lane':<10}{'accepted':>9}{'spec ms/tok':>12}{'plain ms/tok':>13}{'gain':>7}"
        f"{'spec p50':>10}{'plain p50':>10}  gate",
    ]
    for lane, part in summary["lanes"].items():
        first = part.get("first_action_ms", {})

        def cell(value: float | None, width: int, digits: int = 1) -> str:
            return f"{'-' if value is None else f'{value:.{digits}f}':>{width}}"

        lines.append(
            f"  {lane:<10}{cell(part.get('mean_accepted'), 9, 2)}{cell(part.get('speculative_ms_per_token'), 12)}"
            f"{cell(part.get('plain_ms_per_token'), 13)}{cell(part.get('gain'), 7, 2)}"
            f"{cell(first.get('speculative', {}).get('p50'), 10, 0)}{cell(first.get('plain', {}).get('p50'), 10, 0)}"
            f"  {'on' if part.get('decision') else 'off'}"
        )
    return "\n".join(lines)
