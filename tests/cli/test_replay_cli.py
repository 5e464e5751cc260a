"""`keystroke bench replay` end to end: a real gateway, the real language server, a simulated typist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import keystroke

pytestmark = pytest.mark.model

CODE = """def total(values):
    running = 0
    for value in values:
        running = running + value
    return running
"""


def test_bench_replay_prints_the_editor_side_table(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "sums.py").write_text(CODE)
    out = tmp_path / "replay.json"
    result = keystroke(
        "bench", "replay", "--repo", str(tmp_path / "repo"), "--keystrokes", "40", "--threads", "2",
        "--json", str(out), "--report", str(tmp_path / "report"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "stale suggestions shown" in result.stdout
    summary = json.loads(out.read_text())["summary"]
    assert 0 < summary["keystrokes"] <= 40  # the one function may be finished sooner by accepted suggestions
    assert summary["stale_shown"] == 0
    assert summary["requests"] >= summary["keystrokes"]
    assert summary["errors"] == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "keystroke bench replay" in report
    assert "stale suggestions shown" in report  # the printed table
    assert "![First action per lane](first_action.png)" in report
    assert (tmp_path / "report" / "first_action.png").read_bytes().startswith(b"\x89PNG")


def test_bench_replay_without_functions_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = keystroke("bench", "replay", "--repo", str(tmp_path / "empty"))
    assert result.returncode == 2
    assert "no Python function" in result.stderr


def test_bench_replay_puts_setups_side_by_side_on_the_same_tasks(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "sums.py").write_text(CODE)
    config = tmp_path / "no-prefetch.toml"
    config.write_text("[editor]\nprefetch = false\n")
    out = tmp_path / "replay.json"
    result = keystroke(
        "bench", "replay", "--repo", str(tmp_path / "repo"), "--keystrokes", "25", "--threads", "2",
        "--setup", "default", "--setup", str(config), "--json", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "setups side by side" in result.stdout
    setups = json.loads(out.read_text())
    assert set(setups) == {"default", "no-prefetch"}
    for setup in setups.values():
        summary = setup["summary"]
        assert summary["stale_shown"] == 0
        assert 0 <= summary["correct_on_screen_share"] <= 1
        assert summary["chars_saved_per_100_typed"] >= 0
        assert setup["cpu_seconds"] > 0
    assert setups["no-prefetch"]["summary"]["prefetch"]["prefetch_started"] == 0


def test_bench_replay_refuses_a_missing_setup_file(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "sums.py").write_text(CODE)
    result = keystroke("bench", "replay", "--repo", str(tmp_path / "repo"), "--setup", str(tmp_path / "gone.toml"))
    assert result.returncode == 2
    assert "no configuration file" in result.stderr
