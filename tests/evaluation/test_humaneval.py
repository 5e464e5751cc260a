"""The HumanEval infilling harness: task loading, program assembly, sandboxed execution."""

from __future__ import annotations

from pathlib import Path

import pytest

from keystroke.errors import ConfigError
from keystroke.evaluation.execution import run_program
from keystroke.evaluation.humaneval import Task, load_tasks


def test_loads_the_single_line_split(eval_data: Path) -> None:
    tasks = load_tasks(eval_data / "human-eval-infilling", "single-line")
    assert len(tasks) == 1033
    assert tasks[0].task_id == "SingleLineInfilling/HumanEval/0/L0"
    assert tasks[0].reference.endswith("\n")


def test_the_reference_solution_passes_its_tests(eval_data: Path) -> None:
    task = load_tasks(eval_data / "human-eval-infilling", "single-line", limit=1)[0]
    assert run_program(task.program(task.reference.rstrip("\n"))).passed
    assert not run_program(task.program("    pass")).passed


def test_a_task_file_that_is_not_humaneval_is_reported_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "HumanEval-SingleLineInfilling.jsonl"
    bad.write_text('{"task_id": "x"}\n')
    with pytest.raises(ConfigError, match="line 1"):
        load_tasks(tmp_path, "single-line")


def test_programs_that_hang_or_crash_fail_within_the_limits() -> None:
    assert not run_program("while True:\n    pass\n", timeout=1.0).passed
    assert "timed out" in run_program("while True:\n    pass\n", timeout=1.0).detail
    assert "MemoryError" in run_program("x = bytearray(4 << 30)\n").detail
    assert run_program("import os\nassert os.getcwd() != '/'\n").passed


def test_program_puts_the_completion_between_prompt_and_suffix() -> None:
    task = Task("t", "def f():\n", "    return x\n", "    x = 1\n", "def check(c):\n    assert c() == 1\n", "f")
    assert (
        task.program("    x = 1")
        == "def f():\n    x = 1\n    return x\n\ndef check(c):\n    assert c() == 1\n\ncheck(f)\n"
    )
