"""KV benchmark: interleaved editing of several files, with KV slots and chunk reuse on and off, in one run.

A user types in one file for a few keystrokes, moves to the next file, and so on round the files; on coming
back to a file they first change a line higher up (an edit earlier in the file), then type on where they
left off. Every keystroke is a completion request through the completion service, one session per file.
The same keystrokes run once per configuration on one engine, emptied before each:
- `slots+chunks`: saved KV slots per file, and cached runs moved after the earlier edit (the default);
- `slots`: saved slots, no chunk moving (after the earlier edit, everything from it is evaluated again);
- `live only`: neither (one KV state, what the engine did before slots).

Speculative decoding is off in every configuration (it is measured by `bench speculative`).

Reported per configuration, over warm keystrokes (all but each file's very first): the share of prompt tokens
served from the KV cache, split into keystrokes that come back to a file (`return`) and keystrokes typed in
place (`typing`), with first-action latency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from keystroke.benchmarks.typing import typing_plan
from keystroke.domain.engines.embedded import EmbeddedBackend
from keystroke.domain.engines.llama_engine import LlamaEngine
from keystroke.domain.engines.speculation import SpeculationGate
from keystroke.domain.statistics import percentiles
from keystroke.services.completion import CompletionService
from keystroke.services.types import CompletionRequest

Progress = Callable[[int], None]
EDIT_LINES_ABOVE = 25
EDIT_TEXT = "# revisited\n"
CONFIGURATIONS: dict[str, tuple[bool, bool]] = {  # name: (slots, chunks)
    "slots+chunks": (True, True),
    "slots": (True, False),
    "live only": (False, False),
}


@dataclass
class KvKeystroke:
    configuration: str
    file: str
    kind: str  # "first" (the file's first request), "return" (back to the file) or "typing"
    prompt_tokens: int
    cached_tokens: int
    first_action_ms: float | None
    total_ms: float


@dataclass
class KvReport:
    model: str
    files: list[str]
    keystrokes: list[KvKeystroke] = field(default_factory=list)
    engine: dict[str, dict[str, int]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "files": self.files, "configurations": {}}
        for name in CONFIGURATIONS:
            rows = [k for k in self.keystrokes if k.configuration == name]
            part: dict[str, Any] = {"engine": self.engine.get(name, {})}
            for label, kinds in (("warm", ("return", "typing")), ("return", ("return",)), ("typing", ("typing",))):
                group = [k for k in rows if k.kind in kinds]
                part[label] = {
                    "keystrokes": len(group),
                    "kv_reuse": sum(k.cached_tokens for k in group) / max(sum(k.prompt_tokens for k in group), 1),
                    "first_action_ms": percentiles([k.first_action_ms for k in group if k.first_action_ms]),
                    "total_ms": percentiles([k.total_ms for k in group]),
                }
            out["configurations"][name] = part
        return out

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "keystrokes": [asdict(k) for k in self.keystrokes]}


@dataclass
class ScriptedFile:
    """One file being edited: its text as typed so far, and where the typing goes next."""

    name: str
    text: str
    end: int  # the typed region ends here; what follows is the suffix
    offsets: list[int]
    shift: int = 0  # characters inserted above the cursor by earlier edits
    visits: int = 0

    def request(self, offset: int) -> CompletionRequest:
        cursor = offset + self.shift
        return CompletionRequest(
            prefix=self.text[:cursor],
            suffix=self.text[self.end + self.shift :],
            language="python",
            filepath=self.name,
            mode="inline",
            session_id=f"kv-{self.name}",
            trigger="automatic",
        )

    def edit_above(self, offset: int) -> None:
        """Insert a comment line `EDIT_LINES_ABOVE` lines above the cursor (an edit earlier in the file)."""
        cursor = offset + self.shift
        line_start = cursor
        for _ in range(EDIT_LINES_ABOVE):
            line_start = self.text.rfind("\n", 0, max(line_start - 1, 0)) + 1
        self.text = self.text[:line_start] + EDIT_TEXT + self.text[line_start:]
        self.shift += len(EDIT_TEXT)


async def run_kv(
    service: CompletionService,
    backend: EmbeddedBackend,
    files: list[Path],
    visits: int,
    keys_per_visit: int,
    progress: Progress | None = None,
) -> KvReport:
    report = KvReport(backend.info.name, [f.name for f in files])
    slot_bytes, min_chunk, gate = await backend.call(lambda e: (e.slots.budget_bytes, e.min_chunk, e.gate))
    for name, (slots, chunks) in CONFIGURATIONS.items():

        def configure(engine: LlamaEngine, slots: bool = slots, chunks: bool = chunks) -> None:
            engine.reset()
            engine.gate = SpeculationGate("off")
            engine.slots.budget_bytes = slot_bytes if slots else 0
            engine.min_chunk = min_chunk if chunks else 0
            engine.slots.counters = type(engine.slots.counters)()

        await backend.call(configure)
        editors = [scripted_file(path, visits * keys_per_visit) for path in files]
        for visit in range(visits):
            for editor in editors:
                await _visit(service, editor, visit, keys_per_visit, name, report)
                if progress:
                    progress(keys_per_visit)
        report.engine[name] = await backend.call(lambda engine: asdict(engine.slots.counters))
    await backend.call(lambda engine: _restore(engine, slot_bytes, min_chunk, gate))
    return report


def scripted_file(path: Path, keystrokes: int) -> ScriptedFile:
    text = path.read_text(encoding="utf-8")
    offsets = typing_plan(text, keystrokes, start_fraction=0.5)
    return ScriptedFile(path.name, text, offsets[-1], offsets)


async def _visit(
    service: CompletionService, editor: ScriptedFile, visit: int, keys: int, configuration: str, report: KvReport
) -> None:
    for index, offset in enumerate(editor.offsets[visit * keys : (visit + 1) * keys]):
        if index == 0 and editor.visits > 0:
            editor.edit_above(offset)
        kind = "typing" if index else ("return" if editor.visits else "first")
        result = await service.complete(editor.request(offset))
        report.keystrokes.append(
            KvKeystroke(
                configuration,
                editor.name,
                kind,
                result.usage.prompt_tokens,
                result.usage.cached_tokens,
                result.timings.first_action_ms,
                result.timings.total_ms,
            )
        )
    editor.visits += 1


def _restore(engine: LlamaEngine, slot_bytes: int, min_chunk: int, gate: SpeculationGate) -> None:
    engine.reset()
    engine.slots.budget_bytes, engine.min_chunk, engine.gate = slot_bytes, min_chunk, gate


def format_kv(summary: dict[str, Any]) -> str:
    lines = [f"interleaved editing of {len(summary['files'])} files ({', '.join(summary['files'])})"]
    lines.append(f"model {summary['model']}")
    header = f"  {'configuration':<14}{'rows':<8}{'keys':>6}{'KV reuse':>10}{'p50 ms':>9}{'p95 ms':>9}"
    lines.append(header + "   first action")
    for name, part in summary["configurations"].items():
        for label in ("warm", "return", "typing"):
            row = part[label]
            p = row["first_action_ms"]
            cells = "".join(f"{'-' if p[q] is None else f'{p[q]:.0f}':>9}" for q in ("p50", "p95"))
            lines.append(f"  {name:<14}{label:<8}{row['keystrokes']:>6}{row['kv_reuse']:>10.3f}{cells}")
        counters = part["engine"]
        lines.append(
            f"  {'':<14}slots saved {counters.get('saved', 0)}, restored {counters.get('restored', 0)}, "
            f"evicted {counters.get('evicted', 0)}; chunks moved {counters.get('chunk_reuses', 0)} "
            f"({counters.get('chunk_tokens', 0)} tokens)"
        )
    return "\n".join(lines)
