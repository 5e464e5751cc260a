"""Completion regression cases as data: annotated source files, shared by the tests and `keystroke eval cases`
(which runs them through the completion service as an editor asks while typing, timing each first action).

A case is a source file as it reads once the completion is typed, with the completion marked: `⟪` is the cursor
and the text up to `⟫` is what a good suggestion there starts with (the expected text); the rest of the file
is the code around it. An optional first line, in the file's own comment syntax, says more::

    # case: mode=inline check=prefix models=qwen2.5-coder-0.5b,default
    def add(a, b):
        return ⟪a + b⟫

- `mode`: the request's mode (inline, multiline, auto; default auto);
- `check`: how an answer is judged against the expected text: `prefix` (the answer starts with it; the
  default), `exact` (equal, surrounding whitespace aside) or `contains`;
- `models`: the catalog models the case is known to pass on (a regression on them is a failure); others
  are measured but not held to it. Hold a case on the tiny test model (smollm2-135m) only where its answer
  is firm: its greedy choice can differ from machine to machine (llama.cpp is built for each machine's CPU),
  as `main_guard` and `sort_by_length` showed (passing on one machine, failing on another); the code models
  hold those.

Files live in `cases/` next to this module, one folder per language, named `NAME.EXT.case` (the `.case` keeps
tools from reading them as code); the language is the one `EXT` says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from keystroke.domain.context.languages import language_of
from keystroke.domain.postprocess.modes import RequestedMode
from keystroke.services.completion import CompletionService
from keystroke.services.types import CompletionRequest

CASES = Path(__file__).parent / "cases"
CURSOR, END = "⟪", "⟫"
Check = Literal["prefix", "exact", "contains"]
_HEADER = re.compile(r"^\s*(?:#|//|--|;)\s*case:(?P<fields>.*)$")
_MODES = ("inline", "multiline", "auto")
_CHECKS = ("prefix", "exact", "contains")


@dataclass(frozen=True)
class Case:
    name: str  # the file's path under the cases folder, e.g. "python/loop_body.py.case"
    language: str | None
    prefix: str
    suffix: str
    expected: str
    mode: RequestedMode = "auto"
    check: Check = "prefix"
    models: tuple[str, ...] = ()

    def passes(self, answer: str) -> bool:
        """Whether `answer` is what this case expects."""
        if self.check == "exact":
            return answer.strip() == self.expected.strip()
        if self.check == "contains":
            return self.expected in answer
        return answer.startswith(self.expected)

    def held_on(self, model: str) -> bool:
        """Whether a failure on `model` is a regression (the case is known to pass on it)."""
        return model in self.models


def parse_case(text: str, name: str) -> Case:
    """The case a file's text describes; ValueError saying what is wrong with the annotation."""
    fields: dict[str, str] = {}
    first, _, rest = text.partition("\n")
    header = _HEADER.match(first)
    if header is not None:
        text = rest
        for part in header.group("fields").split():
            key, sep, value = part.partition("=")
            if not sep or key not in ("mode", "check", "models"):
                raise ValueError(f"{name}: unknown case field {part!r} (mode=, check=, models=)")
            fields[key] = value
    if text.count(CURSOR) != 1 or text.count(END) != 1 or text.index(CURSOR) > text.index(END):
        raise ValueError(f"{name}: mark the completion once, as {CURSOR}expected text{END}")
    prefix, _, marked = text.partition(CURSOR)
    expected, _, suffix = marked.partition(END)
    mode, check = fields.get("mode", "auto"), fields.get("check", "prefix")
    if mode not in _MODES or check not in _CHECKS:
        raise ValueError(f"{name}: mode must be one of {_MODES} and check one of {_CHECKS}")
    models = tuple(filter(None, fields.get("models", "").split(",")))
    language = language_of(name.removesuffix(".case"))
    return Case(name, language, prefix, suffix, expected, mode, check, models)  # type: ignore[arg-type]


def load_cases(root: Path = CASES) -> list[Case]:
    """Every case under `root`, in name order."""
    files = sorted(root.rglob("*.case"))
    return [parse_case(path.read_text(encoding="utf-8"), path.relative_to(root).as_posix()) for path in files]


@dataclass(frozen=True)
class CaseResult:
    case: Case
    model: str
    answer: str
    first_action_ms: float | None

    @property
    def passed(self) -> bool:
        return self.case.passes(self.answer)

    @property
    def regressed(self) -> bool:
        """Failed on a model the case is held to."""
        return not self.passed and self.case.held_on(self.model)


async def run_cases(service: CompletionService, cases: list[Case], model: str) -> list[CaseResult]:
    """Each case through `service` as an editor asks while typing (trigger automatic), one at a time."""
    results = []
    for case in cases:
        request = CompletionRequest(case.prefix, case.suffix, case.language, case.name.removesuffix(".case"),
                                    mode=case.mode, trigger="automatic")  # fmt: skip
        result = await service.complete(request)
        results.append(CaseResult(case, model, result.text, result.timings.first_action_ms))
    return results


def format_cases(results: list[CaseResult]) -> str:
    """A table: case, model, pass (or REGRESSED), first action ms, expected and answer."""
    rows = [f"{'case':36} {'model':28} {'result':10} {'ms':>7}  expected -> answer"]
    for r in results:
        verdict = "pass" if r.passed else "REGRESSED" if r.regressed else "fail"
        ms = f"{r.first_action_ms:7.1f}" if r.first_action_ms is not None else "      -"
        answer = r.answer.split("\n")[0][:40]
        rows.append(f"{r.case.name:36} {r.model:28} {verdict:10} {ms}  {r.case.expected!r} -> {answer!r}")
    for model in dict.fromkeys(r.model for r in results):
        mine = [r for r in results if r.model == model]
        rows.append(f"{model}: {sum(r.passed for r in mine)}/{len(mine)} pass, "
                    f"{sum(r.regressed for r in mine)} regressed")  # fmt: skip
    return "\n".join(rows)
