"""Typing benchmark: type a real source file character by character and time every suggestion.

A keystroke is one character, except that Enter brings the next line's indentation with it, as editors
auto-indent. For each keystroke the completion service runs exactly as the gateway would run it for an editor
(inline mode, trigger "automatic", one session: the inline lane), and then, on the same engine thread and in
the same run, the *floor* is timed: raw llama.cpp evaluating the same prompt delta on the same cached prefix
and decoding the same number of tokens as the shown line, with none of keystroke's logic. Every
`cold_every`-th keystroke (and the first) starts from an empty KV cache and is reported as cold.

With `completion.rank_automatic` on, keystrokes that start a line are ranked (several candidates are decoded
and scored, see `domain/postprocess/ranking.py`): that is more work than the floor's single line, so they are
reported on their own rows, beside the floor of the line they show; the ratio to the floor is over the other
keystrokes.
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
    ranked: bool
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
        groups = {
            "warm": [k for k in self.keystrokes if not k.cold and not k.ranked],
            "cold": [k for k in self.keystrokes if k.cold],
            "ranked": [k for k in self.keystrokes if not k.cold and k.ranked],
        }
        for label, group in groups.items():
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


def typing_plan(text: str, keystrokes: int, start_fraction: float = 0.3) -> list[int]:
    """Cursor offsets after each keystroke, typing from the start of a line's code about `start_fraction` into
    `text`; a newline and the indentation after it are one keystroke."""
    if not text.strip():
        raise ValueError("the file to type is empty")
    offset = text.rfind("\n", 0, int(len(text) * start_fraction)) + 1
    while offset < len(text) and text[offset] in " \t":  # the line's indentation is already there
        offset += 1
    return keystroke_offsets(text, offset, keystrokes)


def keystroke_offsets(text: str, offset: int, keystrokes: int) -> list[int]:
    """Cursor offsets after each of up to `keystrokes` keystrokes typing `text` from `offset`; Enter brings
    the next line's indentation with it, as editors auto-indent."""
    offsets: list[int] = []
    while len(offsets) < keystrokes and offset < len(text):
        offset += 1
        if text[offset - 1] == "\n":
            while offset < len(text) and text[offset] in " \t":
                offset += 1
        offsets.append(offset)
    return offsets


async def run_typing(
    service: CompletionService,
    backend: EmbeddedBackend,
    file: Path,
    keystrokes: int,
    cold_every: int,
    progress: Progress | None = None,
) -> TypingReport:
    text = file.read_text(encoding="utf-8")
    offsets = typing_plan(text, keystrokes)
    end = offsets[-1]
    report = TypingReport(file.name, f"{backend.info.source} ({backend.info.name})", service.profile.label)
    for index, offset in enumerate(offsets):
        cold = index == 0 or (cold_every > 0 and index % cold_every == 0)  # the first prompt finds no cache
        if cold:
            await backend.call(lambda engine: engine.reset())
        result = await service.complete(
            CompletionRequest(
                prefix=text[:offset],
                suffix=text[end:],
                language="python",
                filepath=file.name,
                mode="inline",
                trigger="automatic",
                session_id="bench-typing",
            )
        )
        usage = result.usage
        ranked = usage.candidates > 1
        shown_tokens = backend.tokenizer.count_tokens(result.text) if ranked else usage.completion_tokens
        floor = await backend.call(partial(_floor, cached=usage.cached_tokens, decoded=max(shown_tokens, 1)))
        report.keystrokes.append(
            Keystroke(
                offset=offset,
                cold=cold,
                ranked=ranked,
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
    for label in ("warm", "cold", "ranked"):
        part = summary[label]
        if not part["keystrokes"]:
            continue  # none of this kind in this run (no cold restarts, nothing ranked)
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
