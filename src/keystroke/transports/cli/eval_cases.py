"""`keystroke eval cases`: the completion regression cases (`evaluation/cases/`) on one or more models."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from keystroke.transports.cli.evaluate import models_option
from keystroke.transports.cli.main import prepare_model, settings_from
from keystroke.transports.cli.reporting import publish, report_option


@click.command("cases")
@models_option
@click.option(
    "--cases",
    "folder",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder of annotated case files (default: the ones keystroke ships).",
)
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads for the engine (default: all cores).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@report_option
def cases(
    models: tuple[str, ...], folder: Path | None, threads: int | None, json_out: Path | None, **options: Any
) -> None:
    """Run the regression cases: each is a source file with the completion marked (`⟪expected⟫` at the
    cursor). Prints pass / fail per case and model with the first action's time, and exits 1 if a case
    fails on a model it is held to (`models=` in its header): a regression.

    \b
    Example:
      keystroke eval cases --model default --model smollm2-135m
    """
    from keystroke.evaluation.cases import CASES, format_cases, load_cases, run_cases
    from keystroke.evaluation.humaneval import NO_DEADLINES
    from keystroke.services.factory import build_service

    loaded = load_cases(folder or CASES)
    results = []
    for model in models:
        settings = settings_from({**options, "model": model, "threads": threads}, **NO_DEADLINES)
        prepare_model(settings)
        service = build_service(settings)
        try:
            results += asyncio.run(run_cases(service, loaded, model))
        finally:
            asyncio.run(service.aclose())
    data = [{**asdict(r.case), "model": r.model, "answer": r.answer, "passed": r.passed, "regressed": r.regressed,
             "first_action_ms": r.first_action_ms} for r in results]  # fmt: skip
    publish(format_cases(results), {"cases": data}, json_out)
    if any(r.regressed for r in results):
        sys.exit(1)
