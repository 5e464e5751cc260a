import pytest

from keystroke.domain.statistics import percentile, percentiles
from keystroke.evaluation.metrics import edit_similarity, exact_match, levenshtein


def test_exact_match_ignores_trailing_whitespace_but_not_indentation() -> None:
    assert exact_match("    return x  ", "    return x\n")
    assert not exact_match("return x", "    return x\n")
    assert exact_match("a\nb\n\n", "a\nb")


def test_edit_similarity() -> None:
    assert edit_similarity("abc", "abc") == 1.0
    assert edit_similarity("", "") == 1.0
    assert edit_similarity("abcd", "abcf") == pytest.approx(0.75)
    assert levenshtein("kitten", "sitting") == 3


def test_percentiles_interpolate() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 99) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentiles([1.0, 2.0, 3.0]) == {"p50": 2.0, "p95": pytest.approx(2.9), "p99": pytest.approx(2.98)}
