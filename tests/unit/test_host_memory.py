"""The engine's large buffers go back to the system: malloc's mmap threshold is fixed once per process."""

from __future__ import annotations

import os
import subprocess
import sys


def _in_fresh_process(code: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_threshold_is_set_once_and_a_users_own_setting_is_kept() -> None:
    code = "from keystroke.domain.engines.host_memory import keep_large_buffers_mapped as k; print(k(), k())"
    assert _in_fresh_process(code) == "True True"  # glibc (Linux), as everywhere keystroke is tested
    assert _in_fresh_process(code, {**os.environ, "MALLOC_MMAP_THRESHOLD_": "4194304"}) == "False False"
