"""`keystroke eval compare` prints one table across models, benchmarks and decodings, and cancels nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keystroke.transports.cli.eval_compare import format_table, sample


@pytest.mark.model
@pytest.mark.slow
def test_compare_runs_each_benchmark_and_decoding_on_the_model(eval_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "compare.json"
    command = [
        sys.executable, "-m", "keystroke", "eval", "compare", "--data", str(eval_data), "--model", "smollm2-135m",
        "--set", "humaneval-single", "--set", "santacoder", "--decoding", "greedy", "--decoding", "ranked",
        "--every", "2", "--limit", "3", "--threads", "2", "--json", str(out),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    written = json.loads(out.read_text())
    assert (written["every"], written["limit"]) == (2, 3)
    summaries = written["summaries"]
    assert [(s["split"], s["decoding"]) for s in summaries] == [
        ("HumanEval single-line", "greedy"), ("HumanEval single-line", "ranked"),
        ("SantaCoder-FIM", "greedy"), ("SantaCoder-FIM", "ranked"),
    ]  # fmt: skip
    assert all(s["tasks"] == 3 and s["cancelled"] == 0 and s["profile"] == "l2r" for s in summaries)
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["model", "profile", "benchmark", "decoding"]
    assert sum("SantaCoder-FIM" in line for line in lines) == 2


def test_the_table_has_a_row_per_summary_with_the_scores() -> None:
    summary = {
        "model": "m", "profile": "qwen2.5-coder:psm", "split": "SantaCoder-FIM", "decoding": "greedy", "tasks": 10,
        "exact_match": 0.5, "edit_similarity": 0.75, "pass_at_1": 0.6, "cancelled": 0,
        "abstained": {"duplicates_suffix": 2, "repeats_previous_line": 1},
        "first_action_ms": {"p50": 120.0, "p95": None, "p99": None}, "prompt_tokens_mean": 151.2,
    }  # fmt: skip
    table = format_table([summary])
    row = table.splitlines()[2].split()
    assert row == [
        "m",
        "qwen2.5-coder:psm",
        "SantaCoder-FIM",
        "greedy",
        "10",
        "0.500",
        "0.750",
        "0.600",
        "3",
        "0",
        "120/-",
        "151",
    ]


def test_a_sample_takes_every_nth_task_from_the_first_then_the_limit() -> None:
    tasks = list(range(10))
    assert sample(tasks, 1, None) == tasks
    assert sample(tasks, 3, None) == [0, 3, 6, 9]
    assert sample(tasks, 3, 2) == [0, 3]
    assert sample(tasks, 20, None) == [0]
