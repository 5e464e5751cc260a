"""Speculative decoding benchmark: plain decoding, prompt-lookup drafts and draft-model drafts, per lane, side by
side in one run.

At each of `positions` cursor positions in a real file, per lane (inline: the rest of the line; multi-line:
a block), the prompt is first evaluated once, by the model and by the draft model (so every arm starts from
the same warm KV caches, as while typing), then the
completion runs once per arm, in an order that rotates with the position: plain decoding, drafts by prompt
lookup, and (when the engine has a draft model, `engine.draft_model`) drafts by the draft model. Reported per
lane and arm: the mean accepted draft length (tokens per verification batch), decode milliseconds per token,
the gain over plain decoding, first-action latency, and the rollout gate's decision under the configured
thresholds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from keystroke.benchmarks.typing import typing_plan
from keystroke.domain.engines.embedded import EmbeddedBackend
from keystroke.domain.engines.llama_draft import ModelDrafter
from keystroke.domain.engines.llama_engine import LlamaEngine
from keystroke.domain.engines.speculation import SpeculationGate
from keystroke.domain.postprocess.shaping import Mode
from keystroke.domain.statistics import percentiles
from keystroke.services.completion import CompletionService
from keystroke.services.types import CompletionRequest

Progress = Callable[[int], None]
LANES: tuple[Mode, ...] = ("inline", "multiline")
LANGUAGE = "python"
WARM_UP_LANGUAGE = "warm-up"  # a key of its own, so warming the cache is not measured as either arm


ARMS = ("plain", "lookup", "draft")


@dataclass
class SpeculativeReport:
    file: str
    model: str
    draft_model: str | None
    thresholds: dict[str, float]
    arms: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # arm -> gate key -> figures
    first_action_ms: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # lane -> arm -> ms

    def summary(self) -> dict[str, Any]:
        lanes: dict[str, Any] = {}
        for lane in LANES:
            key = f"{LANGUAGE}/{lane}"
            plain = self.arms.get("plain", {}).get(key, {}).get("plain_ms_per_token")
            figures: dict[str, Any] = {}
            for arm, first in self.first_action_ms.get(lane, {}).items():
                gate = self.arms.get(arm, {}).get(key, {})
                ms = gate.get("plain_ms_per_token") if arm == "plain" else gate.get("speculative_ms_per_token")
                accepted = None if arm == "plain" else gate.get("mean_accepted")
                gain = plain / ms if plain and ms else None
                keep = arm != "plain" and _passes(accepted, gain, self.thresholds)
                figures[arm] = {
                    "mean_accepted": accepted,
                    "ms_per_token": ms,
                    "gain": gain,
                    "first_action_ms": percentiles(first),
                    "gate": None if arm == "plain" else keep,
                }
            lanes[lane] = figures
        return {
            "file": self.file,
            "model": self.model,
            "draft_model": self.draft_model,
            "thresholds": self.thresholds,
            "lanes": lanes,
        }

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "first_action_ms": self.first_action_ms}


async def run_speculative(
    service: CompletionService, backend: EmbeddedBackend, file: Path, positions: int, progress: Progress | None = None
) -> SpeculativeReport:
    text = file.read_text(encoding="utf-8")
    offsets = typing_plan(text, positions * 40)[::40][:positions]
    configured: SpeculationGate = await backend.call(lambda engine: engine.gate)
    drafter: ModelDrafter | None = await backend.call(lambda engine: engine.drafter)
    arms = [arm for arm in ARMS if arm != "draft" or drafter is not None]
    gates = {arm: SpeculationGate("off" if arm == "plain" else "on", configured.samples) for arm in arms}
    report = SpeculativeReport(
        file.name,
        backend.info.name,
        drafter.name if drafter else None,
        {"min_accept": configured.min_accept, "min_gain": configured.min_gain},
    )
    try:
        for lane in LANES:
            first: dict[str, list[float]] = {arm: [] for arm in arms}
            for index, offset in enumerate(offsets):
                request = CompletionRequest(prefix=text[:offset], suffix=text[offset:], mode=lane, trigger="automatic")
                await backend.call(partial(_use, gate=gates["plain"], drafter=drafter))
                await service.complete(_with_language(request, WARM_UP_LANGUAGE, max_tokens=1))
                await backend.call(lambda engine: engine.warm_drafter())  # every arm starts equally warm
                for arm in arms[index % len(arms) :] + arms[: index % len(arms)]:
                    await backend.call(partial(_use, gate=gates[arm], drafter=drafter if arm == "draft" else None))
                    result = await service.complete(_with_language(request, LANGUAGE))
                    if result.timings.first_action_ms is not None:
                        first[arm].append(result.timings.first_action_ms)
                if progress:
                    progress(1)
            report.first_action_ms[lane] = first
    finally:
        await backend.call(lambda engine: _use(engine, configured, drafter))
    report.arms = {arm: gate.report() for arm, gate in gates.items()}
    return report


def _use(engine: LlamaEngine, gate: SpeculationGate, drafter: ModelDrafter | None) -> None:
    engine.gate, engine.drafter = gate, drafter


def _passes(accepted: float | None, gain: float | None, thresholds: dict[str, float]) -> bool:
    """The rollout gate's decision on these figures: both thresholds cleared."""
    if accepted is None or gain is None:
        return False
    return accepted >= thresholds["min_accept"] and gain >= thresholds["min_gain"]


def _with_language(request: CompletionRequest, language: str, max_tokens: int | None = None) -> CompletionRequest:
    return replace(request, language=language, max_tokens=max_tokens)


def format_speculative(summary: dict[str, Any]) -> str:
    thresholds = summary["thresholds"]
    draft = f" · draft model {summary['draft_model']}" if summary["draft_model"] else " · no draft model"
    lines = [
        f"speculative decoding: {summary['file']} · model {summary['model']}{draft}",
        f"gate: on where mean accepted >= {thresholds['min_accept']} tokens and gain >= {thresholds['min_gain']}x",
        f"  {'lane':<10}{'arm':<8}{'accepted':>9}{'ms/token':>10}{'gain':>7}{'first p50':>10}{'first p95':>10}  gate",
    ]

    def cell(value: float | None, width: int, digits: int = 1) -> str:
        return f"{'-' if value is None else f'{value:.{digits}f}':>{width}}"

    for lane, arms in summary["lanes"].items():
        for arm, part in arms.items():
            first = part["first_action_ms"]
            gate = "" if part["gate"] is None else ("on" if part["gate"] else "off")
            lines.append(
                f"  {lane:<10}{arm:<8}{cell(part['mean_accepted'], 9, 2)}{cell(part['ms_per_token'], 10)}"
                f"{cell(part['gain'], 7, 2)}{cell(first['p50'], 10, 0)}{cell(first['p95'], 10, 0)}  {gate}"
            )
    return "\n".join(lines)
