"""`keystroke eval compare`: the code benchmarks across models in one table."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import click

from keystroke.transports.cli.evaluate import Job, models_option, run_tasks
from keystroke.transports.cli.main import settings_from
from keystroke.transports.cli.reporting import publish, report_option

T = TypeVar("T")

SETS = {
    "humaneval-single": ("human-eval-infilling", "HumanEval single-line", False),
    "humaneval-multi": ("human-eval-infilling", "HumanEval multi-line", True),
    "santacoder": ("santacoder-fim", "SantaCoder-FIM", False),
}


@click.command("compare")
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="The folder that holds human-eval-infilling/ and santacoder-fim/ (here: ../shared/eval-data).",
)
@models_option
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    default=("auto",),
    show_default=True,
    help="A prompt profile to measure each model with (repeat), e.g. qwen2.5-coder:psm and qwen2.5-coder:spm; "
    "'auto': the one detected from the model's vocabulary.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    type=click.Choice(sorted(SETS)),
    default=tuple(SETS),
    show_default=True,
    help="A benchmark (repeat).",
)
@click.option(
    "--decoding",
    "decodings",
    multiple=True,
    type=click.Choice(["greedy", "ranked"]),
    default=("greedy", "ranked"),
    show_default=True,
    help="greedy: the line typing gets; ranked: what an explicit request gets (repeat).",
)
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N tasks of each benchmark.")
@click.option(
    "--every",
    type=click.IntRange(min=1),
    default=1,
    help="Only every Nth task of each benchmark, a sample spread over all its problems (e.g. --every 25 for "
    "multi-line's 5,815 holes); applied before --limit.",
)
@click.option("--threads", type=int, help="CPU threads for llama.cpp (default: all cores).")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), help="TOML configuration file.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@report_option
def compare(
    data: Path,
    models: tuple[str, ...],
    profiles: tuple[str, ...],
    sets: tuple[str, ...],
    decodings: tuple[str, ...],
    limit: int | None,
    every: int,
    threads: int | None,
    config: Path | None,
    json_out: Path | None,
) -> None:
    """Every benchmark x decoding on every model (x profile), one table: exact match, edit similarity, pass@1, tasks
    answered with nothing (abstained; the reasons are in --json), tasks cancelled (should be none), first action
    and prompt tokens. Each model is loaded once; its tasks run one at a time with serving's deadlines lifted.

    \b
    Example (the first 200 tasks of each benchmark, the default model and SmolLM2-135M):
      keystroke eval compare --data ../shared/eval-data --limit 200 --json compare.json
    Example (Qwen's two prompt orders on every 25th multi-line hole, greedy):
      keystroke eval compare --data ../shared/eval-data --model qwen2.5-coder-0.5b --profile qwen2.5-coder:psm \\
        --profile qwen2.5-coder:spm --set humaneval-multi --decoding greedy --every 25
    """
    from keystroke.evaluation import humaneval, santacoder
    from keystroke.evaluation.humaneval import NO_DEADLINES

    jobs = []
    for name in sets:
        folder, label, multiline = SETS[name]
        if name == "santacoder":
            tasks = santacoder.load_tasks(data / folder)
        else:
            tasks = humaneval.load_tasks(data / folder, "multi-line" if multiline else "single-line")
        tasks = sample(tasks, every, limit)
        jobs += [Job(label, tasks, multiline, decoding) for decoding in decodings]  # type: ignore[arg-type]
    summaries = []
    for model in models:
        for profile in profiles:
            click.echo(f"keystroke: {model} ({profile} profile) ...", err=True)
            chosen = None if profile == "auto" else profile
            overrides = {"engine.model": model, "engine.profile": chosen, "engine.n_threads": threads, **NO_DEADLINES}
            settings = settings_from({"config": config}, **overrides)
            summaries += [report.summary() for report in run_tasks(settings, jobs)]
    publish(format_table(summaries), {"summaries": summaries, "every": every, "limit": limit}, json_out)


def sample(tasks: list[T], every: int, limit: int | None) -> list[T]:
    """Every `every`th task from the first (spread over the whole benchmark), then at most `limit` of them."""
    return tasks[::every][:limit]


def format_table(summaries: list[dict[str, Any]]) -> str:
    head = (
        f"{'model':<28} {'profile':<18} {'benchmark':<22} {'decoding':<8} {'tasks':>5} {'EM':>6} {'ES':>6} "
        f"{'pass@1':>6} {'abstain':>7} {'cancel':>6} {'first action p50/p95 ms':>24} {'prompt tok':>10}"
    )
    rows = [head, "-" * len(head)]
    for s in summaries:
        first = s["first_action_ms"]
        latency = "/".join("-" if first.get(k) is None else f"{first[k]:.0f}" for k in ("p50", "p95"))
        rows.append(
            f"{s['model'][:28]:<28} {s['profile']:<18} {s['split']:<22} {s['decoding']:<8} {s['tasks']:>5} "
            f"{s['exact_match']:>6.3f} {s['edit_similarity']:>6.3f} {s['pass_at_1']:>6.3f} "
            f"{sum(s.get('abstained', {}).values()):>7} {s['cancelled']:>6} "
            f"{latency:>24} {s['prompt_tokens_mean']:>10.0f}"
        )
    return "\n".join(rows)
