"""HumanEval infilling (Bavarian et al. 2022; single-line and multi-line from Fried et al. 2022).

Each task is a Python function with one span cut out: `prompt` (before), `suffix` (after),
`canonical_solution` (the span, whole lines ending with a newline) and `test`. Every task goes through the
same `CompletionService` the gateway uses (inline mode for single-line, multiline for multi-line), in dataset
order, so consecutive tasks of one problem share a prompt prefix exactly as consecutive keystrokes would.
The completion fills the span as whole lines (a newline is added after it), and:
- exact match: its lines equal the reference's (trailing whitespace ignored, indentation counts);
- edit similarity: 1 - Levenshtein / longer length;
- pass@1: prompt + completion + suffix + the tests run in a resource-limited subprocess (`execution.py`),
  after all generation, so test processes never compete with the model for the CPU.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from keystroke.domain.statistics import percentiles
from keystroke.errors import ConfigError
from keystroke.evaluation.execution import run_program
from keystroke.evaluation.metrics import edit_similarity, exact_match
from keystroke.services.completion import CompletionService
from keystroke.services.types import CompletionRequest

Split = Literal["single-line", "multi-line"]
Decoding = Literal["greedy", "ranked"]
# What an evaluation does not want from serving: admission's queue deadlines and the request deadline exist so
# a busy engine drops stale work, but a task dropped that way says nothing about the model. Evaluations run one
# task at a time with these deadlines lifted (ten minutes), and still report any task cancelled on its own line.
NO_DEADLINES = {
    "admission.inline_queue_ms": 600_000.0,
    "admission.multiline_queue_ms": 600_000.0,
    "admission.request_timeout_ms": 600_000.0,
}
SOURCE_URL = "https://github.com/openai/human-eval-infilling/tree/master/data"
FILES: dict[Split, str] = {
    "single-line": "HumanEval-SingleLineInfilling.jsonl",
    "multi-line": "HumanEval-MultiLineInfilling.jsonl",
}
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Task:
    task_id: str
    prompt: str
    suffix: str
    reference: str
    test: str
    entry_point: str

    def program(self, completion: str) -> str:
        """The code with `completion` in the hole, then the tests (`check(entry_point)`, unless the tests call
        themselves: `entry_point` empty)."""
        middle = completion + "\n" if completion else ""
        call = f"check({self.entry_point})\n" if self.entry_point else ""
        return f"{self.prompt}{middle}{self.suffix}\n{self.test}\n{call}"


@dataclass
class TaskResult:
    task_id: str
    completion: str
    abstain_reason: str | None
    exact_match: bool
    edit_similarity: float
    first_action_ms: float | None
    total_ms: float
    prompt_tokens: int
    cached_tokens: int
    passed: bool = False
    execution: str = ""


@dataclass
class Report:
    split: str
    model: str
    profile: str
    decoding: Decoding = "ranked"
    results: list[TaskResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        done = self.results
        count = max(len(done), 1)
        first = [r.first_action_ms for r in done if r.first_action_ms is not None]
        totals = [r.total_ms for r in done]
        return {
            "split": self.split,
            "model": self.model,
            "profile": self.profile,
            "decoding": self.decoding,
            "tasks": len(done),
            "cancelled": sum(r.abstain_reason == "cancelled" for r in done),
            "exact_match": sum(r.exact_match for r in done) / count,
            "edit_similarity": sum(r.edit_similarity for r in done) / count,
            "pass_at_1": sum(r.passed for r in done) / count,
            "abstained": dict(Counter(r.abstain_reason for r in done if r.abstain_reason)),
            "first_action_ms": percentiles(first),
            "total_ms": percentiles(totals),
            "cached_token_ratio": sum(r.cached_tokens for r in done) / max(sum(r.prompt_tokens for r in done), 1),
            "prompt_tokens_mean": sum(r.prompt_tokens for r in done) / count,
            "evaluated_tokens_mean": sum(r.prompt_tokens - r.cached_tokens for r in done) / count,
        }

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "results": [asdict(r) for r in self.results]}


def data_file(path: Path, split: Split) -> Path:
    """The split's file inside `path` (a folder), or `path` itself; .jsonl or .jsonl.gz."""
    candidates = [path] if path.is_file() else [path / FILES[split], path / (FILES[split] + ".gz")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"no {FILES[split]}(.gz) at {path}; pass --data with the folder that holds the HumanEval infilling "
        f"files (in this workspace: ../shared/eval-data/human-eval-infilling), downloaded from {SOURCE_URL}"
    )


def load_tasks(path: Path, split: Split, limit: int | None = None) -> list[Task]:
    def task(record: dict[str, Any]) -> Task:
        return Task(
            task_id=record["task_id"],
            prompt=record["prompt"],
            suffix=record["suffix"],
            reference=record["canonical_solution"],
            test=record["test"],
            entry_point=record["entry_point"],
        )

    return read_tasks(data_file(path, split), task, limit, "a HumanEval infilling task")


def read_tasks(file: Path, make: Callable[[dict[str, Any]], Task], limit: int | None, kind: str) -> list[Task]:
    """The first `limit` tasks of a JSON-lines file (.jsonl or .jsonl.gz), one record each; ConfigError names
    the first line that is not `kind`."""
    opener = gzip.open if file.suffix == ".gz" else open
    tasks: list[Task] = []
    with opener(file, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if limit is not None and len(tasks) >= limit:
                break
            try:
                tasks.append(make(json.loads(line)))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ConfigError(f"{file} line {number} is not {kind}: {exc!r}") from exc
    return tasks


async def generate(
    service: CompletionService,
    tasks: Sequence[Task],
    split: str,
    progress: Progress | None = None,
    *,
    multiline: bool | None = None,
    decoding: Decoding = "ranked",
) -> Report:
    """Complete every task in order. `multiline` defaults to the split's kind; `decoding`: "greedy" asks as
    typing does (the greedy line, `trigger="automatic"`), "ranked" as an explicit request (alternatives ranked)."""
    many = split == "multi-line" if multiline is None else multiline
    mode: Literal["inline", "multiline"] = "multiline" if many else "inline"
    trigger: Literal["automatic", "invoked"] = "automatic" if decoding == "greedy" else "invoked"
    report = Report(split, service.backend.info.name, service.profile.label, decoding)
    for task in tasks:
        result = await service.complete(
            CompletionRequest(prefix=task.prompt, suffix=task.suffix, language="python", mode=mode, trigger=trigger)
        )
        report.results.append(
            TaskResult(
                task_id=task.task_id,
                completion=result.text,
                abstain_reason=result.abstain_reason,
                exact_match=exact_match(result.text, task.reference),
                edit_similarity=edit_similarity(result.text, task.reference),
                first_action_ms=result.timings.first_action_ms,
                total_ms=result.timings.total_ms,
                prompt_tokens=result.usage.prompt_tokens,
                cached_tokens=result.usage.cached_tokens,
            )
        )
        if progress:
            progress(1)
    return report


def execute(report: Report, tasks: Sequence[Task], workers: int = 2, progress: Progress | None = None) -> None:
    """Fill in pass@1 by running every task's tests against its completion."""
    by_id = {task.task_id: task for task in tasks}

    def check(result: TaskResult) -> None:
        outcome = run_program(by_id[result.task_id].program(result.completion))
        result.passed, result.execution = outcome.passed, outcome.detail
        if progress:
            progress(1)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(check, report.results))
