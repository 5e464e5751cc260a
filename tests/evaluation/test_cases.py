"""The regression cases are data: annotated source files, parsed strictly, and run through the real service.

Each case is held (a failure is a regression) on the models its header names; the suite runs them on the test
model here, and on Qwen2.5-Coder in `tests/models/test_qwen.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from keystroke.evaluation.cases import CASES, format_cases, load_cases, parse_case, run_cases
from keystroke.services.completion import CompletionService
from tests.conftest import TEST_MODEL, run


def test_a_case_is_the_code_with_its_completion_marked() -> None:
    case = parse_case("# case: mode=inline check=exact models=a,b\ndef f():\n    return ⟪1⟫\n", "python/f.py.case")
    assert (case.prefix, case.expected, case.suffix) == ("def f():\n    return ", "1", "\n")
    assert (case.language, case.mode, case.check, case.models) == ("python", "inline", "exact", ("a", "b"))
    assert case.passes(" 1 ")
    assert not case.passes("12")
    plain = parse_case("x = ⟪1⟫\n", "python/x.py.case")  # no header: the defaults
    assert (plain.mode, plain.check, plain.models) == ("auto", "prefix", ())
    assert plain.passes("1 + 2")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("x = 1\n", "mark the completion once"),
        ("x = ⟪1⟫ + ⟪2⟫\n", "mark the completion once"),
        ("x = ⟫1⟪\n", "mark the completion once"),
        ("# case: colour=red\nx = ⟪1⟫\n", "unknown case field"),
        ("# case: mode=sideways\nx = ⟪1⟫\n", "mode must be one of"),
    ],
)
def test_a_bad_annotation_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_case(text, "python/bad.py.case")


def test_the_shipped_cases_load_and_name_their_language(tmp_path: Path) -> None:
    cases = load_cases()
    assert len(cases) >= 8
    assert {case.language for case in cases} >= {"python", "javascript", "go"}
    assert all(case.name.endswith(".case") for case in cases)
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / "one.py.case").write_text("y = ⟪2⟫\n")
    assert [case.name for case in load_cases(tmp_path)] == ["python/one.py.case"]
    assert CASES.is_dir()


@pytest.mark.model
def test_the_cases_held_on_the_test_model_pass(service: CompletionService) -> None:
    cases = [case for case in load_cases() if case.held_on(TEST_MODEL)]
    assert cases, f"no case is held on {TEST_MODEL}"
    results = run(run_cases(service, cases, TEST_MODEL))
    assert not [r for r in results if r.regressed], format_cases(results)
