from keystroke.domain.cursor import CursorContext
from keystroke.domain.engines.base import Candidate
from keystroke.domain.postprocess.ranking import choose, following_text, rank_plan

PREFIX = "def count(items):\n    total = 0\n"
SUFFIX = "        total += item\n    return total\n"


def test_ranking_is_planned_only_for_an_untouched_line_with_code_after_it() -> None:
    assert rank_plan(CursorContext(PREFIX, SUFFIX), "inline", alternatives=4, lines=2) is not None
    assert rank_plan(CursorContext(PREFIX + "    fo", SUFFIX), "inline", alternatives=4, lines=2) is None
    assert rank_plan(CursorContext(PREFIX, ""), "inline", alternatives=4, lines=2) is None
    assert rank_plan(CursorContext(PREFIX, SUFFIX), "multiline", alternatives=4, lines=2) is None
    assert rank_plan(CursorContext(PREFIX, SUFFIX), "inline", alternatives=0, lines=2) is None


def test_the_continuation_is_the_code_that_will_follow_the_inserted_line() -> None:
    assert following_text(CursorContext(PREFIX, SUFFIX), 1) == "\n        total += item"
    assert following_text(CursorContext("x = 1\n    ", "\n    y = 2\n    z"), 1) == "\n    y = 2"


def test_the_plan_accepts_shown_text_and_drops_duplicates_of_the_suffix() -> None:
    plan = rank_plan(CursorContext(PREFIX, SUFFIX), "inline", alternatives=2, lines=2)
    assert plan is not None
    assert plan.accept("    for item in items:\n") == "    for item in items:"
    assert plan.accept("        total += item\n") is None


def test_choose_prefers_code_that_compiles_then_the_score() -> None:
    ctx = CursorContext(PREFIX, SUFFIX)
    breaking = Candidate("    total = 1", score=-1.0)
    opening = Candidate("    for item in items:", score=-9.0)
    other_opening = Candidate("    for item in sorted(items):", score=-12.0)
    assert choose([breaking, opening, other_opening], ctx, python=True) == opening
    assert choose([breaking, opening], ctx, python=False) == breaking
    assert choose([], ctx, python=True) is None
