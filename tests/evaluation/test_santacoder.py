"""SantaCoder-FIM (Python) as tasks for the HumanEval harness: the hole's line between the lines around it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keystroke.errors import ConfigError
from keystroke.evaluation.execution import run_program
from keystroke.evaluation.santacoder import load_tasks


def test_loads_every_python_task(eval_data: Path) -> None:
    tasks = load_tasks(eval_data / "santacoder-fim")
    assert len(tasks) == 1043
    assert len({task.task_id for task in tasks}) == 1043
    assert all(task.prompt.endswith("\n") and task.reference.count("\n") == 1 for task in tasks)


def test_reference_lines_pass_their_tests_and_a_wrong_line_fails(eval_data: Path) -> None:
    tasks = load_tasks(eval_data / "santacoder-fim")[::40]  # 27 tasks across the 153 problems
    for task in tasks:
        outcome = run_program(task.program(task.reference.rstrip("\n")))
        assert outcome.passed, (task.task_id, outcome.detail)
    broken = [run_program(task.program("    raise SystemExit(3)")).passed for task in tasks]
    assert not any(broken)


def test_a_record_without_its_fields_is_reported_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "santacoder-fim-task.python.jsonl"
    bad.write_text(json.dumps({"name": "x", "prompt": "", "suffix": ""}) + "\n")
    with pytest.raises(ConfigError, match="line 1 is not a SantaCoder-FIM task"):
        load_tasks(tmp_path)
    with pytest.raises(ConfigError, match=r"santacoder-fim-task\.python\.jsonl"):
        load_tasks(tmp_path / "elsewhere")
