"""SantaCoder-FIM, Python (Allal et al. 2023; "HumanEval-FIM" in the Qwen2.5-Coder report, Table 7).

1,043 single-line holes in MultiPL-E's Python translations of HumanEval. A record's code was split on newlines
around one line: `prompt` is the lines before it joined by newlines (so without the newline that ends the
last of them), `canonical_solution` the line itself, `suffix` the lines after it (empty at the end of a
function), and `tests` a test program that calls itself. As tasks for the HumanEval harness (`humaneval.Task`):
the prefix gets back its newline, the cursor sits at the start of the hole's line, the suffix follows the
completed line, and the tests' own call runs them (`entry_point` empty).

Scored like HumanEval: exact match on lines (trailing whitespace ignored, indentation counts), edit
similarity, pass@1 by running the tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keystroke.errors import ConfigError
from keystroke.evaluation.humaneval import Task, read_tasks

FILE = "santacoder-fim-task.python.jsonl"
SOURCE_URL = "https://huggingface.co/datasets/bigcode/santacoder-fim-task"


def data_file(path: Path) -> Path:
    candidate = path if path.is_file() else path / FILE
    if not candidate.is_file():
        raise ConfigError(
            f"no {FILE} at {path}; pass --data with the folder that holds it (in this workspace: "
            f"../shared/eval-data/santacoder-fim), the Python rows of {SOURCE_URL}"
        )
    return candidate


def load_tasks(path: Path, limit: int | None = None) -> list[Task]:
    def task(record: dict[str, Any]) -> Task:
        return Task(
            task_id=f"SantaCoderFIM/{record['name']}",
            prompt=record["prompt"] + "\n",
            suffix=record["suffix"],
            reference=record["canonical_solution"] + "\n",
            test=record["tests"],
            entry_point="",
        )

    return read_tasks(data_file(path), task, limit, "a SantaCoder-FIM task")
