"""`--report DIR`: which plots come from which records, and the report for results without any."""

from __future__ import annotations

from pathlib import Path

from keystroke.transports.cli.reporting import panels_from, write_report

REPLAY_LIKE = {
    "summary": {"first_action_ms": {"p50": 10.0}},  # an aggregate, not a record: ignored
    "shown": [{"lane": "inline", "latency_ms": 120.0}, {"lane": "cache", "latency_ms": 2.0}],
}
EVAL_LIKE = {
    "results": [
        {"task_id": "a", "first_action_ms": 300.0, "prompt_tokens": 100, "cached_tokens": 25},
        {"task_id": "b", "first_action_ms": None, "prompt_tokens": 100, "cached_tokens": 75},
    ]
}


def test_editor_records_give_lanes_and_the_result_cache_ratio() -> None:
    panels = panels_from(REPLAY_LIKE)
    assert panels.first_action == {"inline": [120.0], "cache": [2.0]}
    assert panels.caches == {"result cache": 0.5}


def test_model_records_give_stages_and_the_kv_ratio() -> None:
    panels = panels_from(EVAL_LIKE)
    assert panels.first_action == {"model": [300.0]}
    assert panels.stages == {"first_action": [300.0]}
    assert panels.caches == {"KV cache": 0.5}


def test_results_without_records_get_the_table_and_say_so(tmp_path: Path) -> None:
    path = write_report(tmp_path / "r", "a table\n", {"summary": {"x": 1}})
    text = path.read_text()
    assert "a table" in text
    assert "no per-request records" in text
    assert not list((tmp_path / "r").glob("*.png"))
    assert (tmp_path / "r" / "results.json").exists()
