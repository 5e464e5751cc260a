"""`keystroke eval ...`: quality on public benchmarks, through the same service as the gateway."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from keystroke.domain.context.items import PRIORITY
from keystroke.transports.cli.main import engine_options, prepare_model, settings_from
from keystroke.transports.cli.reporting import publish, report_option

if TYPE_CHECKING:
    from keystroke.evaluation.humaneval import Decoding

EVAL_SOURCE_MS = 1000.0


@click.group("eval")
def eval_group() -> None:
    """Measure completion quality on public benchmarks."""


def models_option(function: Any) -> Any:
    """`--model` (repeatable): the models a comparison runs on, the default and the small one unless named."""
    return click.option(
        "--model",
        "models",
        multiple=True,
        default=("default", "smollm2-135m"),
        show_default=True,
        help="A model to measure (repeat): a catalog name, a .gguf path or hf:... (see `keystroke models`).",
    )(function)


def decoding_option(function: Any) -> Any:
    return click.option(
        "--decoding",
        type=click.Choice(["greedy", "ranked"]),
        default="ranked",
        show_default=True,
        help="greedy: the line typing gets (no alternatives); ranked: what an explicit request gets (alternatives "
        "ranked against the code below).",
    )(function)


@eval_group.command("humaneval-infill")
@click.option(
    "--data",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="Folder with HumanEval-SingleLineInfilling.jsonl / HumanEval-MultiLineInfilling.jsonl (or one file).",
)
@click.option("--split", type=click.Choice(["single-line", "multi-line"]), default="single-line", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N tasks.")
@decoding_option
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@report_option
@engine_options
def humaneval_infill(
    data: Path, split: str, limit: int | None, decoding: Decoding, json_out: Path | None, **options: Any
) -> None:
    """HumanEval infilling: exact match, edit similarity, pass@1 and latency.

    Tasks run one at a time with serving's queue and request deadlines lifted, so none is dropped for time;
    any that still is shows on its own line ("cancelled").

    \b
    Example (all 1,033 single-line tasks, about 5 minutes on 2 cores with the default model):
      keystroke eval humaneval-infill --data ../shared/eval-data/human-eval-infilling --json he.json
    """
    from keystroke.evaluation import humaneval

    tasks = humaneval.load_tasks(data, split, limit)  # type: ignore[arg-type]
    settings = settings_from(options, **humaneval.NO_DEADLINES)
    report = run_tasks(settings, [Job(f"HumanEval {split}", tasks, split == "multi-line", decoding)])[0]
    publish(format_summary(report.summary()), report.to_json(), json_out)


@eval_group.command("santacoder-fim")
@click.option(
    "--data",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="Folder with santacoder-fim-task.python.jsonl (or the file).",
)
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N tasks.")
@decoding_option
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@report_option
@engine_options
def santacoder_fim(data: Path, limit: int | None, decoding: Decoding, json_out: Path | None, **options: Any) -> None:
    """SantaCoder-FIM, Python (1,043 single-line holes; "HumanEval-FIM" in the Qwen2.5-Coder report): exact
    match, edit similarity, pass@1 and latency, as `humaneval-infill` measures them.

    \b
    Example:
      keystroke eval santacoder-fim --data ../shared/eval-data/santacoder-fim --model qwen2.5-coder-0.5b
    """
    from keystroke.evaluation import humaneval, santacoder

    tasks = santacoder.load_tasks(data, limit)
    settings = settings_from(options, **humaneval.NO_DEADLINES)
    report = run_tasks(settings, [Job("SantaCoder-FIM", tasks, False, decoding)])[0]
    publish(format_summary(report.summary()), report.to_json(), json_out)


@dataclass(frozen=True)
class Job:
    """One benchmark run on one model: `label` (e.g. "HumanEval single-line"), its tasks, mode and decoding."""

    label: str
    tasks: Sequence[Any]
    multiline: bool
    decoding: Decoding


def run_tasks(settings: Any, jobs: Sequence[Job]) -> list[Any]:
    """Each job's Report on the model of `settings`: generation first (the model loaded once, tasks one at a
    time), then every job's tests, so test processes never compete with the model for the CPU."""
    from tqdm import tqdm

    from keystroke.evaluation import humaneval
    from keystroke.services.factory import build_service

    prepare_model(settings)

    async def generate() -> list[humaneval.Report]:
        service = build_service(settings)
        reports = []
        try:
            for job in jobs:
                with tqdm(total=len(job.tasks), desc=f"{job.label} {job.decoding}", unit="task", disable=None) as bar:
                    report = await humaneval.generate(
                        service, job.tasks, job.label, bar.update, multiline=job.multiline, decoding=job.decoding
                    )
                reports.append(report)
        finally:
            await service.aclose()
        return reports

    reports = asyncio.run(generate())
    for job, report in zip(jobs, reports, strict=True):
        with tqdm(total=len(job.tasks), desc="execute", unit="task", disable=None) as bar:
            humaneval.execute(report, job.tasks, progress=bar.update)
    return reports


def format_summary(summary: dict[str, Any]) -> str:
    def ms(values: dict[str, float | None]) -> str:
        return " / ".join("-" if v is None else f"{v:.0f}" for v in values.values())

    abstained = ", ".join(f"{k} {v}" for k, v in sorted(summary["abstained"].items())) or "none"
    rows = [
        f"{summary['split']}: {summary['tasks']} tasks · model {summary['model']} · profile {summary['profile']} · "
        f"{summary['decoding']}",
        f"  exact match          {summary['exact_match']:.3f}",
        f"  edit similarity      {summary['edit_similarity']:.3f}",
        f"  pass@1               {summary['pass_at_1']:.3f}",
        f"  abstained            {abstained}",
        f"  cancelled            {summary['cancelled']}  (dropped by a deadline or admission; should be 0)",
        f"  first action ms      {ms(summary['first_action_ms'])}  (p50 / p95 / p99)",
        f"  total ms             {ms(summary['total_ms'])}  (p50 / p95 / p99)",
        f"  cached prompt tokens {summary['cached_token_ratio']:.2f}",
    ]
    return "\n".join(rows)


@eval_group.command("repo")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Cases per repository.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the case order.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@report_option
@engine_options
def repo(paths: tuple[Path, ...], limit: int, seed: int, json_out: Path | None, **options: Any) -> None:
    """Cross-file context on real repositories: exact match and edit similarity with and without it.

    \b
    Cases are lines of each PATH's Python files that use a name imported from another file of that PATH, cut
    where that file's API comes next, as CrossCodeEval does: after `Name.` (member cases) or after `name(`
    (call cases). Each is completed with no context and with context collected from PATH's index (every
    source is given 1 s, so the score does not depend on how busy the machine is). With several PATHs, each
    gets its table, then all cases together.
    Example: keystroke eval repo ~/src/httpx/httpx ~/src/click/src/click --limit 100 --json repo.json
    """
    from keystroke.evaluation.humaneval import NO_DEADLINES
    from keystroke.evaluation.repo import RepoReport, format_repo

    sources = {f"context.{source}_ms": EVAL_SOURCE_MS for source in PRIORITY}
    settings = settings_from(options, **sources, **NO_DEADLINES)
    reports = [_evaluate_repository(path, limit, seed, settings) for path in paths]
    tables = [format_repo(report.summary()) for report in reports]
    pooled = RepoReport(f"{len(reports)} repositories", reports[0].model, [r for rep in reports for r in rep.results])
    body = reports[0].to_json()
    if len(reports) > 1:
        tables.append(format_repo(pooled.summary()))
        body = {"summary": pooled.summary(), "repositories": [report.to_json() for report in reports]}
    publish("\n".join(tables), body, json_out)


def _evaluate_repository(path: Path, limit: int, seed: int, settings: Any) -> Any:
    """Index PATH, cut its cases and complete each with and without context: its RepoReport."""
    from tqdm import tqdm

    from keystroke.evaluation.repo import evaluate, find_cases
    from keystroke.services.completion import CompletionService
    from keystroke.services.factory import build_service
    from keystroke.services.workspace import Workspace, open_workspace
    from keystroke.transports.progress import indexing_bar

    click.echo(f"indexing {path} ...", err=True)
    with indexing_bar() as progress:
        index = open_workspace(settings, progress, root=path)
    cases = find_cases(index, limit, seed)
    if not cases:
        index.close()
        raise click.UsageError(f"no line in {path} uses a name imported from another file of it")

    prepare_model(settings)

    async def run() -> Any:
        plain = build_service(settings)
        workspace = Workspace.over(index, plain.backend.tokenizer, settings, owns_index=True)
        helped = CompletionService(plain.backend, plain.profile, settings, workspace=workspace)
        try:
            with tqdm(total=2 * len(cases), desc=path.name, unit="case", disable=None) as bar:
                return await evaluate(plain, helped, cases, str(path), bar.update)
        finally:
            workspace.close()
            await plain.aclose()

    try:
        return asyncio.run(run())
    finally:
        index.close()
