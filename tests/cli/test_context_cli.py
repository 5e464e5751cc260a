"""`keystroke index`, `keystroke bench context` and `keystroke eval repo` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import keystroke
from tests.fixtures.workspace import INDEXED, write_workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return write_workspace(tmp_path / "ws")


def test_index_builds_then_reuses_and_prints_a_summary(workspace: Path, tmp_path: Path) -> None:
    env = {"KEYSTROKE_CACHE_DIR": str(tmp_path / "cache")}
    first = keystroke("index", str(workspace), "--json", str(tmp_path / "index.json"), env=env)
    assert first.returncode == 0, first.stderr
    assert f"indexed {len(INDEXED)} files ({len(INDEXED)} parsed, 0 reused, 0 removed)" in first.stdout
    assert "snippet windows (rebuilt)" in first.stdout
    summary = json.loads((tmp_path / "index.json").read_text())
    assert summary["files"] == len(INDEXED)
    assert summary["symbols"] > 10
    second = keystroke("index", str(workspace), env=env)
    assert f"(0 parsed, {len(INDEXED)} reused, 0 removed)" in second.stdout
    assert "(loaded)" in second.stdout
    cleared = keystroke("index", str(workspace), "--clear", env=env)
    assert "(rebuilt)" in cleared.stdout


def test_index_takes_extra_exclusions(workspace: Path, tmp_path: Path) -> None:
    env = {"KEYSTROKE_CACHE_DIR": str(tmp_path / "cache")}
    result = keystroke("index", str(workspace), "--exclude", "web/", env=env)
    assert f"indexed {len(INDEXED) - 1} files" in result.stdout


def test_index_of_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = keystroke("index", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr


@pytest.mark.model
def test_bench_context_reports_sources_and_the_shared_prefix(workspace: Path, tmp_path: Path) -> None:
    env = {"KEYSTROKE_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "context.json"
    args = ["bench", "context", "--workspace", str(workspace), "--file", "shop/cart.py", "--function", "total"]
    result = keystroke(*args, "--threads", "2", "--json", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert "context assembly ms (ours)" in result.stdout
    assert "source retrieval ms" in result.stdout
    summary = json.loads(out.read_text())["summary"]
    assert summary["function"] == "Cart.total"
    assert summary["keystrokes"] > 50
    assert 0.5 < summary["shared_prefix_ratio"] <= 1.0
    assert summary["depths"]["light"]["count"] > summary["depths"]["full"]["count"]
    missing = keystroke(*args[:-2], "--function", "nope", "--threads", "2", env=env)
    assert missing.returncode == 2
    assert "no function 'nope'" in missing.stderr


@pytest.mark.model
def test_eval_repo_scores_with_and_without_context(workspace: Path, tmp_path: Path) -> None:
    env = {"KEYSTROKE_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "repo.json"
    result = keystroke("eval", "repo", str(workspace), "--limit", "5", "--threads", "2", "--json", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert "exact match" in result.stdout
    assert "with context" in result.stdout
    data = json.loads(out.read_text())
    # the only lines outside imports and signatures that use an API of another file of the workspace
    assert {(r["case"]["kind"], r["case"]["reference"]) for r in data["results"]} == {
        ("call", "self.subtotal(), discount_percent)"),
        ("call", "discounted)"),
        ("member", "with_tax(amount) - amount"),
    }
    assert data["summary"]["cases"] == 3
    assert data["summary"]["kinds"]["member"]["cases"] == 1
    assert "member cases (1)" in result.stdout
    member = next(r for r in data["results"] if r["case"]["kind"] == "member")
    assert member["case"]["prefix"].endswith("tax = pricing.")
    assert member["snippets"] >= 1  # the module's members were in the prompt


@pytest.mark.model
def test_eval_repo_pools_several_repositories(workspace: Path, tmp_path: Path) -> None:
    other = write_workspace(tmp_path / "other")
    env = {"KEYSTROKE_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "pooled.json"
    result = keystroke(
        "eval", "repo", str(workspace), str(other), "--limit", "2", "--threads", "2", "--json", str(out), env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("repository evaluation:") == 3  # each, then both together
    assert "2 repositories · 4 cases" in result.stdout
    data = json.loads(out.read_text())
    assert [r["summary"]["cases"] for r in data["repositories"]] == [2, 2]
    assert data["summary"]["cases"] == 4


def test_eval_repo_without_cross_file_lines_says_so(tmp_path: Path) -> None:
    (tmp_path / "solo").mkdir()
    (tmp_path / "solo" / "a.py").write_text("import os\n\nprint(os.getcwd())\n")
    result = keystroke("eval", "repo", str(tmp_path / "solo"), env={"KEYSTROKE_CACHE_DIR": str(tmp_path / "c")})
    assert result.returncode == 2
    assert "no line" in result.stderr
