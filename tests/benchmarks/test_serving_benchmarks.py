"""The serving benchmarks' own logic: the naive client's prompt, the comparison's ratios, the load verdict."""

from __future__ import annotations

from keystroke.benchmarks.load import TARGET_P95_MS, format_load, largest_within_target
from keystroke.benchmarks.naive import NAIVE_PREFIX_LINES, SideReport, compare, format_naive, naive_prompt
from keystroke.benchmarks.replay import ReplayReport, Shown


def test_the_naive_prompt_is_whole_lines_before_the_cursors_line_and_that_line_up_to_the_cursor() -> None:
    text = "".join(f"line {i}\n" for i in range(100)) + "    return va"
    prompt = naive_prompt(text, len(text) - 2)
    assert prompt.endswith("    return ")
    assert prompt.count("\n") == NAIVE_PREFIX_LINES
    assert prompt.startswith(f"line {100 - NAIVE_PREFIX_LINES}\n")
    assert naive_prompt("a\nb", 3) == "a\nb"


def test_the_naive_prompt_window_moves_only_with_the_line() -> None:
    text = "".join(f"line {i}\n" for i in range(100)) + "x = compute(1, 2)"
    line_start = text.rfind("\n") + 1
    windows = {naive_prompt(text, cursor)[:20] for cursor in range(line_start, len(text))}
    assert len(windows) == 1  # typing along one line keeps the prompt's start: the server's prefix cache holds


def side(latencies: list[float], cpu: float, decoded: int, shown_tokens: int) -> SideReport:
    report = ReplayReport(keystrokes=100, requests=50)
    report.shown = [Shown("inline", ms, 5, text="x") for ms in latencies]
    return SideReport(report, cpu, decoded, shown_tokens)


def test_the_comparison_reports_speedups_cpu_per_shown_and_waste() -> None:
    naive = side([600.0, 700.0, 800.0], cpu=30.0, decoded=500, shown_tokens=30)
    ours = side([100.0, 150.0, 200.0, 250.0], cpu=8.0, decoded=120, shown_tokens=40)
    result = compare(naive, ours)
    assert result["speedup"]["p50"] == 700.0 / 175.0
    assert result["cpu_per_shown_ratio"] == (30.0 / 3) / (8.0 / 4)
    assert result["naive"]["wasted_decode_tokens"] == 470
    assert result["speedup_vs_lone_p50"] is None  # no lone-request figures were measured
    assert result["keystroke"]["wasted_decode_tokens"] == 80
    assert "faster at p50" in format_naive(result)


def test_nothing_shown_gives_no_ratio_rather_than_a_wrong_one() -> None:
    result = compare(side([], cpu=30.0, decoded=50, shown_tokens=0), side([100.0], cpu=1.0, decoded=5, shown_tokens=5))
    assert result["speedup"]["p50"] is None
    assert result["cpu_per_shown_ratio"] is None
    assert "-x faster" in format_naive(result)


def level(editors: int, p95: float | None, refused: int = 0) -> dict[str, object]:
    return {
        "editors": editors,
        "requests": 10,
        "outcomes": {"shown": 5, "refused (429)": refused},
        "first_action_ms": {"p50": 100.0, "p95": p95, "p99": p95},
        "within_target": p95 is not None and p95 <= TARGET_P95_MS,
        "refusal_examples": [{"status": 429, "retry_after_ms": 1500, "message": "overloaded: x"}] if refused else [],
    }


def test_the_load_verdict_is_the_largest_n_within_the_target() -> None:
    levels = [level(1, 120.0), level(2, 250.0), level(4, 420.0, refused=3), level(8, None, refused=9)]
    assert largest_within_target(levels) == 2
    table = format_load(levels)
    assert "largest N within the target: 2" in table
    assert "Retry-After 2 s" in table
    assert largest_within_target([level(1, 900.0)]) is None


def test_the_naive_floor_ratio_uses_a_lone_warm_request_plus_the_debounce() -> None:
    naive = side([600.0], cpu=3.0, decoded=50, shown_tokens=5)
    naive.extra = {
        "lone": {"cold_ms": 4000.0, "warm_ms": {"p50": 150.0, "p95": 160.0, "p99": 170.0}, "debounce_ms": 150.0}
    }
    result = compare(naive, side([20.0, 30.0], cpu=1.0, decoded=5, shown_tokens=5))
    assert result["speedup_vs_lone_p50"] == 300.0 / 25.0
    assert "12.00x faster than that" in format_naive(result)
