"""Context benchmark: type one function of a real file and time context assembly, keystroke by keystroke.

The workspace is indexed (warm from its cache), then the function's body is typed character by character
(Enter brings the next line's indentation) with inter-key intervals drawn, with a fixed seed, from a typing
rhythm: mostly 60-140 ms, and at word and line ends sometimes a short (300 ms) or a long (800 ms) pause. The
intervals drive an injected clock, so the typing model decides depth exactly as it would live; what is timed
is real: the context service (sources, budget fill) plus prompt assembly. The floor beside it is prompt
assembly alone, with the same snippets, in the same run.

For every keystroke the prompt is tokenized with the model's tokenizer and compared with the previous
keystroke's: the shared-prefix ratio is how much of the prompt the KV cache can keep.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from keystroke.benchmarks.typing import keystroke_offsets
from keystroke.config import Settings
from keystroke.domain.context.index import RepositoryIndex
from keystroke.domain.context.languages import language_of
from keystroke.domain.context.parsing import summarize
from keystroke.domain.engines.base import Prompt
from keystroke.domain.engines.kv_slots import common_prefix_length
from keystroke.domain.prompt.assembly import PrefixCutMemo, PromptInput, Snippet, assemble
from keystroke.domain.prompt.profiles import ModelProfile
from keystroke.domain.statistics import percentiles
from keystroke.services.context import ContextService
from keystroke.testing import ManualClock

Progress = Callable[[int], None]
Encoder = Callable[[Prompt], list[int]]


@dataclass
class ContextKeystroke:
    offset: int
    interval_ms: float
    depth: str
    context_ms: float
    floor_ms: float
    sources: dict[str, float]
    timeouts: list[str]
    snippets: int
    prompt_tokens: int
    shared_tokens: int


@dataclass
class ContextReport:
    workspace: str
    file: str
    function: str
    index_files: int
    index_seconds: float
    keystrokes: list[ContextKeystroke] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        keys = self.keystrokes[1:]  # the first keystroke has no previous prompt to share with
        by_depth = {d: [k for k in keys if k.depth == d] for d in ("light", "refresh", "full")}
        sources = sorted({name for k in keys for name in k.sources})
        total = sum(k.prompt_tokens for k in keys)
        return {
            "workspace": self.workspace,
            "file": self.file,
            "function": self.function,
            "index": {"files": self.index_files, "seconds": self.index_seconds},
            "keystrokes": len(keys),
            "context_ms": percentiles([k.context_ms for k in keys]),
            "floor_ms": percentiles([k.floor_ms for k in keys]),
            "depths": {
                d: {"count": len(g), "context_ms": percentiles([k.context_ms for k in g])} for d, g in by_depth.items()
            },
            "sources_ms": {s: percentiles([k.sources[s] for k in keys if s in k.sources]) for s in sources},
            "timeouts": {s: sum(s in k.timeouts for k in keys) for s in sources},
            "shared_prefix_ratio": sum(k.shared_tokens for k in keys) / total if total else None,
            "shared_prefix_per_keystroke": percentiles([k.shared_tokens / k.prompt_tokens for k in keys], (5, 50)),
            "snippets": percentiles([float(k.snippets) for k in keys], (50,)),
        }

    def as_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "keystrokes": [asdict(k) for k in self.keystrokes]}


def intervals(text: str, seed: int = 7) -> list[float]:
    """Milliseconds before each character of `text`: a typing rhythm with occasional pauses."""
    rng = random.Random(seed)
    out = []
    for previous in " " + text[:-1]:
        pause = 0.0
        if previous in " \n(.:" and rng.random() < 0.12:
            pause = 800.0 if rng.random() < 0.35 else 300.0
        out.append(pause or rng.uniform(60.0, 140.0))
    return out


def pick_function(text: str, language: str, name: str | None) -> tuple[str, int, int]:
    """(name, start offset, end offset) of the named top-level function or method, else the longest one."""
    lines = text.split("\n")
    spans = []
    definitions = [d for d in summarize(text, language).definitions if d.kind in ("function", "method")]
    for definition in definitions:
        start = definition.line
        indent = len(lines[start]) - len(lines[start].lstrip())
        end = start + 1
        while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent):
            end += 1
        spans.append((definition.qualified, start, end))
    chosen = [s for s in spans if name in (s[0], s[0].rsplit(".", 1)[-1])] if name else spans
    if not chosen:
        raise ValueError(f"no function {name!r} in the file" if name else "the file has no function")
    qualified, first, last = max(chosen, key=lambda s: s[2] - s[1])
    offset = sum(len(line) + 1 for line in lines[:first])
    return qualified, offset, offset + len("\n".join(lines[first:last]))


def run_context(
    context: ContextService,
    clock: ManualClock,
    profile: ModelProfile,
    encode: Encoder,
    settings: Settings,
    relpath: str,
    function: str | None,
    progress: Progress | None = None,
) -> ContextReport:
    index: RepositoryIndex = context.engine.index
    text = index.read(relpath)
    if text is None:
        raise ValueError(f"{relpath} is not indexed in {index.root}")
    language = language_of(relpath) or "plaintext"
    name, start, end = pick_function(text, language, function)
    summary = index.last_summary
    report = ContextReport(str(index.root), relpath, name, len(index.files), summary.seconds if summary else 0.0)
    body, outside = text[start:end], text[end:]
    previous: list[int] = []
    ours, floor = PrefixCutMemo(), PrefixCutMemo()  # each path keeps its own, as a service would
    for offset, interval in zip(keystroke_offsets(body, 0, len(body)), intervals(body), strict=False):
        clock.tick(interval / 1000)
        prefix = text[:start] + body[:offset]
        began = time.perf_counter()
        outcome = context.snippets_for(
            filepath=relpath, prefix=prefix, suffix=outside, language=language, session_id="bench"
        )
        prompt = _assemble(profile, settings, context, prefix, outside, language, relpath, outcome.snippets, ours)
        context_ms = (time.perf_counter() - began) * 1000
        began = time.perf_counter()
        _assemble(profile, settings, context, prefix, outside, language, relpath, outcome.snippets, floor)
        floor_ms = (time.perf_counter() - began) * 1000
        tokens = encode(prompt)
        shared = common_prefix_length(previous, tokens)
        previous = tokens
        report.keystrokes.append(
            ContextKeystroke(
                offset=start + offset,
                interval_ms=interval,
                depth=outcome.depth.name.lower() if outcome.depth is not None else "none",
                context_ms=context_ms,
                floor_ms=floor_ms,
                sources={r.source: r.ms for r in outcome.reports},
                timeouts=[r.source for r in outcome.reports if r.status == "timeout"],
                snippets=len(outcome.snippets),
                prompt_tokens=len(tokens),
                shared_tokens=shared,
            )
        )
        if progress:
            progress(1)
    return report


def format_context(report: ContextReport) -> str:
    s = report.summary()
    rows = [
        f"context replay: {s['file']} · {s['function']} · {s['keystrokes']} keystrokes · "
        f"index {s['index']['files']} files",
        f"{'':34}{'p50':>9}{'p95':>9}{'p99':>9}",
        _row("context assembly ms (ours)", s["context_ms"]),
        _row("prompt assembly alone ms (floor)", s["floor_ms"]),
    ]
    for depth, group in s["depths"].items():
        rows.append(_row(f"  {depth} ({group['count']} keystrokes) ms", group["context_ms"]))
    for source, values in s["sources_ms"].items():
        rows.append(_row(f"  source {source} ms", values) + f"   timeouts {s['timeouts'][source]}")
    ratio = s["shared_prefix_ratio"]
    per = s["shared_prefix_per_keystroke"]
    rows.append(
        f"  shared prompt prefix between consecutive keystrokes: {ratio:.3f} of prompt tokens "
        f"(per keystroke p5 {per['p5']:.3f}, p50 {per['p50']:.3f}) · snippets p50 {s['snippets']['p50']:.0f}"
    )
    return "\n".join(rows)


def _row(label: str, values: dict[str, float | None]) -> str:
    cells = "".join(f"{v:9.2f}" if v is not None else f"{'-':>9}" for v in values.values())
    return f"  {label:32}{cells}"


def _assemble(
    profile: ModelProfile,
    settings: Settings,
    context: ContextService,
    prefix: str,
    suffix: str,
    language: str,
    relpath: str,
    snippets: tuple[Snippet, ...],
    memo: PrefixCutMemo,
) -> Prompt:
    prompt = settings.prompt
    return assemble(
        profile,
        PromptInput(prefix, suffix, language, relpath, snippets),
        context.tokenizer,
        budget_tokens=prompt.budget_tokens,
        suffix_share=prompt.suffix_share,
        heal=True,
        context_tokens=prompt.context_tokens,
        memo=memo,
    ).prompt
