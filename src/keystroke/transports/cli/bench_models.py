"""`keystroke bench quantization`: weight formats of one model side by side, measured in one run."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import click

from keystroke.transports.cli.reporting import publish, report_option

QUANTIZATION_DEFAULTS = ("qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b-q4_0", "qwen2.5-coder-0.5b-iq4_nl")


@click.command("quantization")
@click.option(
    "--model",
    "models",
    multiple=True,
    default=QUANTIZATION_DEFAULTS,
    show_default=True,
    help="A model to measure (repeat): a catalog name (variants are quantized here on first use), a .gguf path.",
)
@click.option(
    "--file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Source file to prefill and type (default: Python's own textwrap.py).",
)
@click.option("--keystrokes", type=click.IntRange(min=10), default=100, show_default=True, help="Typed per model.")
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The folder that holds human-eval-infilling/ (here: ../shared/eval-data): adds exact match and pass@1.",
)
@click.option(
    "--every",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="With --data: every Nth HumanEval single-line task (4: 259 of 1,033).",
)
@click.option("--threads", type=int, help="CPU threads for llama.cpp (default: all cores).")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), help="TOML configuration file.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@report_option
def quantization_bench(
    models: tuple[str, ...],
    file: Path | None,
    keystrokes: int,
    data: Path | None,
    every: int,
    threads: int | None,
    config: Path | None,
    json_out: Path | None,
) -> None:
    """Weight formats side by side: file size, resident memory, raw llama.cpp prefill and decode tokens/s, warm
    first action while typing (beside its floor) and, with --data, HumanEval single-line exact match.

    \b
    Each model is loaded in turn with the same engine settings; measure on an idle machine, and compare rows
    of one run only. Example (the shipped Q4_K_M and two variants made from it, quality on every 4th task):
      keystroke bench quantization --data ../shared/eval-data --json quantization.json
    """
    from keystroke.benchmarks.quantization import format_quantization, rows_json
    from keystroke.evaluation.humaneval import NO_DEADLINES
    from keystroke.transports.cli.main import prepare_model, settings_from

    source = file or Path(textwrap.__file__)
    rows = []
    for model in models:
        click.echo(f"keystroke: {model} ...", err=True)
        settings = settings_from({"config": config}, **settings_overrides(model, threads))
        prepare_model(settings)
        row = _measure(settings, source, keystrokes)
        if data is not None:
            lifted = settings_from({"config": config}, **settings_overrides(model, threads), **NO_DEADLINES)
            row.exact_match, row.pass_at_1, row.tasks = _quality(lifted, data, every)
        rows.append(row)
    publish(format_quantization(rows), rows_json(rows), json_out)


def _measure(settings: Any, source: Path, keystrokes: int) -> Any:
    """One model's row without quality: file size, memory gained, raw speed, warm typing."""
    from keystroke.benchmarks.quantization import VariantRow, engine_speed, resident_mb
    from keystroke.benchmarks.typing import run_typing
    from keystroke.domain.engines.model_source import resolve_model
    from keystroke.transports.cli.bench import on_embedded

    text = source.read_text(encoding="utf-8")
    before = resident_mb()
    loaded: dict[str, Any] = {}

    async def work(service: Any, backend: Any, progress: Any) -> Any:
        loaded["speed"] = await backend.call(lambda engine: engine_speed(engine, text))
        typing = await run_typing(service, backend, source, keystrokes, 0, progress)
        loaded["memory"] = resident_mb() - before
        return typing

    typing = on_embedded(settings, keystrokes, "typing", "key", work)
    size = resolve_model(settings.engine.model).path.stat().st_size / 1e6
    return VariantRow(settings.engine.model, size, loaded["memory"], loaded["speed"], typing.summary())


def settings_overrides(model: str, threads: int | None) -> dict[str, Any]:
    return {"engine.model": model, "engine.n_threads": threads}


def _quality(settings: Any, data: Path, every: int) -> tuple[float, float, int]:
    """Greedy HumanEval single-line on every `every`th task: (exact match, pass@1, tasks)."""
    from keystroke.evaluation import humaneval
    from keystroke.transports.cli.evaluate import Job, run_tasks

    tasks = humaneval.load_tasks(data / "human-eval-infilling", "single-line")[::every]
    (report,) = run_tasks(settings, [Job("HumanEval single-line", tasks, False, "greedy")])
    summary = report.summary()
    return summary["exact_match"], summary["pass_at_1"], len(tasks)
