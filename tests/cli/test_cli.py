"""The `keystroke` command as a user runs it: a subprocess, its output and exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keystroke.domain.engines.model_source import resolve_model
from tests.conftest import TEST_MODEL


def keystroke(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keystroke", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_help_teaches_the_commands() -> None:
    result = keystroke("--help")
    assert result.returncode == 0
    for command in ("serve", "complete", "models", "eval", "bench"):
        assert command in result.stdout
    serve = keystroke("serve", "--help").stdout
    assert "--port" in serve
    assert "/v1/completions" in serve
    assert "KEYSTROKE_SECTION__FIELD" in serve


@pytest.mark.model
def test_complete_prints_the_suggestion_and_its_timings(tmp_path: Path) -> None:
    source = tmp_path / "shapes.py"
    source.write_text("import math\n\n\ndef circle_area(radius):\n    return \n")
    result = keystroke("complete", str(source), "--line", "5", "--column", "12", "--threads", "2")
    assert result.returncode == 0, result.stderr
    assert "math" in result.stdout or "radius" in result.stdout
    assert "first action" in result.stderr
    assert "cached" in result.stderr
    as_json = keystroke("complete", str(source), "-l", "5", "-c", "12", "--json", "--threads", "2")
    assert json.loads(as_json.stdout)["mode"] == "inline"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--line", "99", "--column", "1"], "outside the file"),
        (["--line", "1", "--column", "80"], "outside line 1"),
    ],
)
def test_complete_rejects_a_cursor_outside_the_file(tmp_path: Path, args: list[str], message: str) -> None:
    source = tmp_path / "one.py"
    source.write_text("x = 1\n")
    result = keystroke("complete", str(source), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_model_file_says_what_to_pass(tmp_path: Path) -> None:
    source = tmp_path / "one.py"
    source.write_text("x = 1\n")
    result = keystroke("complete", str(source), "-l", "1", "-c", "1", "--model", str(tmp_path / "none.gguf"))
    assert result.returncode == 2
    assert "no file at" in result.stderr
    assert ".gguf" in result.stderr


def test_a_file_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"not a model")
    result = keystroke("models", "--model", str(fake))
    assert "not a GGUF file" in result.stdout


def test_an_hf_reference_offline_fails_with_the_command_that_fixes_it(tmp_path: Path) -> None:
    source = tmp_path / "one.py"
    source.write_text("x = 1\n")
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    result = keystroke(
        "complete", str(source), "-l", "1", "-c", "1", "--model", "hf:someone/some-repo/model.gguf", env=env
    )
    assert result.returncode == 2
    assert "could not download model.gguf" in result.stderr
    assert "huggingface-cli download someone/some-repo model.gguf" in result.stderr


def test_a_malformed_hf_reference_shows_the_right_spelling() -> None:
    result = keystroke("models", "--model", "hf:just-a-name")
    assert "hf:OWNER/REPO/FILE.gguf" in result.stdout


@pytest.mark.model
def test_models_lists_the_default_model_and_its_profile() -> None:
    result = keystroke("models")
    assert result.returncode == 0
    assert "smollm2-135m" in result.stdout
    assert "qwen2.5-coder-0.5b-q4_0 (also default)" in result.stdout
    assert "profile: l2r" in result.stdout
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in result.stdout


@pytest.mark.model
def test_eval_humaneval_infill_scores_a_few_tasks(eval_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "he.json"
    data = eval_data / "human-eval-infilling"
    result = keystroke(
        "eval", "humaneval-infill", "--data", str(data), "--limit", "4", "--json", str(out), "--threads", "2"
    )
    assert result.returncode == 0, result.stderr
    assert "exact match" in result.stdout
    assert "pass@1" in result.stdout
    report = json.loads(out.read_text())
    assert report["summary"]["tasks"] == 4
    assert len(report["results"]) == 4
    assert all(r["execution"] for r in report["results"])


def test_eval_without_the_data_says_where_to_get_it(tmp_path: Path) -> None:
    result = keystroke("eval", "humaneval-infill", "--data", str(tmp_path))
    assert result.returncode == 2
    assert "HumanEval-SingleLineInfilling.jsonl" in result.stderr
    assert "github.com/openai/human-eval-infilling" in result.stderr


@pytest.mark.model
def test_bench_typing_prints_our_latency_beside_the_floor(tmp_path: Path) -> None:
    out = tmp_path / "typing.json"
    result = keystroke(
        "bench", "typing", "--keystrokes", "6", "--cold-every", "3", "--json", str(out), "--threads", "2"
    )
    assert result.returncode == 0, result.stderr
    assert "warm first action ms" in result.stdout
    assert "warm floor ms" in result.stdout
    summary = json.loads(out.read_text())["summary"]
    assert summary["cold"]["keystrokes"] == 2
    assert summary["warm"]["keystrokes"] == 4, "typing asks as an editor does (automatic): nothing is ranked"
    assert summary["ranked"]["keystrokes"] == 0


@pytest.mark.model
def test_bench_typing_types_with_more_models_in_the_same_run(tmp_path: Path) -> None:
    out = tmp_path / "typing.json"
    same_file = str(resolve_model(TEST_MODEL).path)  # the suite's model again, by its path: a second run
    args = ["--keystrokes", "3", "--cold-every", "0", "--beside", same_file, "--json", str(out), "--threads", "2"]
    result = keystroke("bench", "typing", *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("typing replay:") == 2
    reports = json.loads(out.read_text())
    assert [report["summary"]["warm"]["keystrokes"] for report in reports] == [2, 2]  # the first is cold


@pytest.mark.model
def test_bench_speculative_puts_a_draft_model_beside_lookup_and_plain(tmp_path: Path) -> None:
    out = tmp_path / "speculative.json"
    itself = str(resolve_model(TEST_MODEL).path)  # the model drafting for itself
    args = ["--positions", "2", "--draft", itself, "--json", str(out), "--threads", "2"]
    result = keystroke("bench", "speculative", *args)
    assert result.returncode == 0, result.stderr
    lanes = json.loads(out.read_text())["summary"]["lanes"]
    assert set(lanes) == {"inline", "multiline"}
    for arms in lanes.values():
        assert set(arms) == {"plain", "lookup", "draft"}
        assert arms["plain"]["gate"] is None
        assert arms["plain"]["ms_per_token"] is not None
    assert lanes["multiline"]["draft"]["mean_accepted"] >= 1.5, "the model drafting for itself is believed"
    assert "draft model" in result.stdout


@pytest.mark.model
def test_bench_quantization_prints_speed_memory_and_latency_per_model(tmp_path: Path) -> None:
    out = tmp_path / "quantization.json"
    args = ["--model", "smollm2-135m", "--keystrokes", "10", "--threads", "2", "--json", str(out)]
    result = keystroke("bench", "quantization", *args)
    assert result.returncode == 0, result.stderr
    assert "prefill tok/s" in result.stdout
    (row,) = json.loads(out.read_text())
    assert row["speed"]["prefill_tokens_per_s"] > row["speed"]["decode_tokens_per_s"] > 0
    assert row["file_mb"] == pytest.approx(98.4, abs=0.1)
    assert row["memory_mb"] > 0
    assert row["typing"]["warm"]["keystrokes"] == 9  # the first keystroke finds no cache
    assert row["exact_match"] is None


@pytest.mark.parametrize("args", [[], ["--embedded", "--gateway", "http://127.0.0.1:8765"]])
def test_lsp_needs_exactly_one_lane(args: list[str]) -> None:
    result = keystroke("lsp", *args, timeout=60)
    assert result.returncode == 2
    assert "exactly one of --gateway URL or --embedded" in result.stderr
