"""Run a candidate program with its tests in a separate, resource-limited Python process.

The program runs with `python -I` (isolated: no user site, no environment-driven imports) in an empty
temporary directory, with a wall-clock timeout and rlimits on CPU seconds, address space, file size and
open files. This contains mistakes of a code model (endless loops, runaway memory, stray files); it is not a
sandbox for hostile code.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

TIMEOUT_S = 10.0
MEMORY_BYTES = 1 << 30
FILE_BYTES = 1 << 20


@dataclass(frozen=True)
class Outcome:
    passed: bool
    detail: str


def run_program(source: str, timeout: float = TIMEOUT_S) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="keystroke-exec-") as folder:
        path = Path(folder) / "candidate.py"
        path.write_text(source, encoding="utf-8")
        try:
            completed = subprocess.run(
                [sys.executable, "-I", str(path)],
                cwd=folder,
                capture_output=True,
                timeout=timeout,
                preexec_fn=_limit,
                env={"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "0"},
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Outcome(False, f"timed out after {timeout:.0f} s")
    if completed.returncode == 0:
        return Outcome(True, "passed")
    last = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit {completed.returncode}"]
    return Outcome(False, last[0][:200])


def _limit() -> None:
    seconds = int(TIMEOUT_S) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
