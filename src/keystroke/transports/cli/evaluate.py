"""`keystroke eval ...`: quality on public benchmarks, through the same service as the gateway."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from keystroke.transports.cli.main import engine_options, settings_from


@click.group("eval")
def eval_group() -> None:
    """Measure completion quality on public benchmarks."""


@eval_group.command("humaneval-infill")
@click.option(
    "--data",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="Folder with HumanEval-SingleLineInfilling.jsonl / HumanEval-MultiLineInfilling.jsonl (or one file).",
)
@click.option("--split", type=click.Choice(["single-line", "multi-line"]), default="single-line", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N tasks.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@engine_options
def humaneval_infill(data: Path, split: str, limit: int | None, json_out: Path | None, **options: Any) -> None:
    """HumanEval infilling: exact match, edit similarity, pass@1 and latency.

    \b
    Example (all 1,033 single-line tasks, about 5 minutes on 2 cores):
      keystroke eval humaneval-infill --data ../shared/eval-data/human-eval-infilling --json he.json
    """
    from tqdm import tqdm

    from keystroke.evaluation import humaneval
    from keystroke.services.factory import build_service

    tasks = humaneval.load_tasks(data, split, limit)  # type: ignore[arg-type]
    settings = settings_from(options)

    async def run() -> humaneval.Report:
        service = build_service(settings)
        try:
            with tqdm(total=len(tasks), desc="generate", unit="task", disable=None) as bar:
                return await humaneval.generate(service, tasks, split, bar.update)  # type: ignore[arg-type]
        finally:
            await service.backend.aclose()

    report = asyncio.run(run())
    with tqdm(total=len(tasks), desc="execute", unit="task", disable=None) as bar:
        humaneval.execute(report, tasks, progress=bar.update)
    summary = report.summary()
    click.echo(format_summary(summary))
    if json_out is not None:
        json_out.write_text(json.dumps(report.to_json(), indent=1))
        click.echo(f"results written to {json_out}")


def format_summary(summary: dict[str, Any]) -> str:
    def ms(values: dict[str, float | None]) -> str:
        return " / ".join("-" if v is None else f"{v:.0f}" for v in values.values())

    abstained = ", ".join(f"{k} {v}" for k, v in sorted(summary["abstained"].items())) or "none"
    rows = [
        f"HumanEval infilling, {summary['split']}: {summary['tasks']} tasks · model {summary['model']} · "
        f"profile {summary['profile']}",
        f"  exact match          {summary['exact_match']:.3f}",
        f"  edit similarity      {summary['edit_similarity']:.3f}",
        f"  pass@1               {summary['pass_at_1']:.3f}",
        f"  abstained            {abstained}",
        f"  first action ms      {ms(summary['first_action_ms'])}  (p50 / p95 / p99)",
        f"  total ms             {ms(summary['total_ms'])}  (p50 / p95 / p99)",
        f"  cached prompt tokens {summary['cached_token_ratio']:.2f}",
    ]
    return "\n".join(rows)
