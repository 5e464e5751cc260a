"""`--report DIR` for `keystroke bench` and `keystroke eval`: the printed table, the JSON and the plots, in a folder.

The report is `DIR/report.md` (the command, the date, the table) with the dashboard's plots as PNG beside it
(`transports/plots.py`), drawn from the per-request records found in the results: records with a `lane` and a
`latency_ms` (what an editor showed), records with stage timings (`queue_ms`, `prompt_build_ms`,
`prefill_ms`, `first_token_ms`, `first_action_ms`), and prompt and cached token counts (the KV cache's hit
ratio). A benchmark whose results hold no such records gets the table alone, and the report says so.
"""

from __future__ import annotations

import functools
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from keystroke.services.dashboard import Panels
from keystroke.transports.plots import render_all

F = TypeVar("F", bound=Callable[..., Any])
REPORT = "keystroke.report"
_STAGES = (
    ("queue", "queue_ms"), ("context", "prompt_build_ms"), ("prefill", "prefill_ms"),
    ("first_token", "first_token_ms"), ("first_action", "first_action_ms"),
)  # fmt: skip
_TITLES = {
    "first_action": "First action per lane",
    "stages": "Serving stages",
    "over_time": "Acceptance and retention over time",
    "caches": "Cache hit ratios",
}


def report_option(function: F) -> F:
    """Add `--report DIR` to a command; `publish` then writes the report there."""

    @functools.wraps(function)
    def wrapper(*args: Any, report: Path | None, **kwargs: Any) -> Any:
        click.get_current_context().meta[REPORT] = report
        return function(*args, **kwargs)

    option = click.option(
        "--report",
        type=click.Path(file_okay=False, path_type=Path),
        help="Also write a markdown report with plots (PNG) into this folder (created if needed).",
    )
    return option(wrapper)  # type: ignore[return-value]


def publish(table: str, payload: Any, json_out: Path | None) -> None:
    """Print the table; write the JSON and the report when asked."""
    click.echo(table)
    if json_out is not None:
        json_out.write_text(json.dumps(payload, indent=1))
        click.echo(f"results written to {json_out}")
    folder = click.get_current_context().meta.get(REPORT)
    if folder is not None:
        written = write_report(folder, table, payload)
        click.echo(f"report written to {written}")


def write_report(folder: Path, table: str, payload: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    images = render_all(panels_from(payload), "png")
    for name, image in images.items():
        (folder / f"{name}.png").write_bytes(image)
    (folder / "results.json").write_text(json.dumps(payload, indent=1))
    command = " ".join(["keystroke", *sys.argv[1:]])
    lines = [
        f"# {command}",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Raw results: [results.json](results.json).",
        "",
        "```text",
        table.rstrip(),
        "```",
        "",
    ]
    if images:
        for name in images:
            lines += [f"## {_TITLES[name]}", "", f"![{_TITLES[name]}]({name}.png)", ""]
    else:
        lines += ["These results hold no per-request records (latencies, stage timings), so there are no plots.", ""]
    path = folder / "report.md"
    path.write_text("\n".join(lines))
    return path


def panels_from(payload: Any, default_lane: str = "model") -> Panels:
    """The plots' numbers, from the per-request records (dicts inside lists) anywhere in the results."""
    lanes: dict[str, list[float]] = defaultdict(list)
    stages: dict[str, list[float]] = defaultdict(list)
    prompt = cached = shown = from_cache = 0
    for record in _records(payload):
        if _number(record.get("latency_ms")) and isinstance(record.get("lane"), str):
            lanes[record["lane"]].append(float(record["latency_ms"]))
            shown += 1
            from_cache += record["lane"] == "cache"
        elif _number(record.get("first_action_ms")):
            lanes[default_lane].append(float(record["first_action_ms"]))
        nested = record.get("timings")
        timings: dict[str, Any] = nested if isinstance(nested, dict) else record
        for stage, key in _STAGES:
            if _number(timings.get(key)):
                stages[stage].append(float(timings[key]))
        if _number(record.get("prompt_tokens")) and _number(record.get("cached_tokens")):
            prompt += int(record["prompt_tokens"])
            cached += int(record["cached_tokens"])
    caches: dict[str, float | None] = {}
    if shown:
        caches["result cache"] = from_cache / shown
    if prompt:
        caches["KV cache"] = cached / prompt
    return Panels(dict(lanes), dict(stages), (), caches)


def _records(value: Any, inside_list: bool = False) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if inside_list:
            yield value
        for item in value.values():
            yield from _records(item)
    elif isinstance(value, list):
        for item in value:
            yield from _records(item, inside_list=True)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
