from keystroke.domain.cursor import CursorContext
from keystroke.domain.engines.base import Candidate, RankPlan
from keystroke.domain.postprocess.ranking import choose, following_text, keeps_compiling, rank_plan

PREFIX = "def count(items):\n    total = 0\n"
SUFFIX = "        total += item\n    return total\n"


def test_ranking_is_planned_for_an_inline_suggestion_on_an_untouched_line() -> None:
    def plan(prefix: str, suffix: str, mode: str = "inline", alternatives: int = 4) -> object:
        return rank_plan(CursorContext(prefix, suffix), mode, alternatives=alternatives, lines=2, python=True)  # type: ignore[arg-type]

    assert plan(PREFIX, SUFFIX).continuation == "\n        total += item\n    return total"  # type: ignore[attr-defined]
    assert plan(PREFIX + "    fo", SUFFIX) is None  # typing inside a line: greedy, at once
    assert plan(PREFIX, "").continuation == ""  # type: ignore[attr-defined]  # nothing follows: the line alone
    assert plan(PREFIX, SUFFIX, mode="multiline") is None
    assert plan(PREFIX, SUFFIX, alternatives=0) is None


def test_a_fim_plan_scores_the_whole_middle_and_its_end() -> None:
    def plan(suffix: str) -> RankPlan | None:
        return rank_plan(CursorContext(PREFIX, suffix), "inline", alternatives=2, lines=2, python=True, fim=True)

    before_code, on_empty_line = plan(SUFFIX), plan("\n" + SUFFIX)
    assert before_code is not None
    assert on_empty_line is not None
    assert (before_code.continuation, before_code.then_end) == ("\n", True)  # the line, then the suffix's line
    assert (on_empty_line.continuation, on_empty_line.then_end) == ("", True)  # the suffix brings its line end
    assert before_code.accept("        total += item\n") is None  # still no duplicate of the suffix


def test_the_continuation_is_the_code_that_will_follow_the_inserted_line() -> None:
    assert following_text(CursorContext(PREFIX, SUFFIX), 1) == "\n        total += item"
    assert following_text(CursorContext("x = 1\n    ", "\n    y = 2\n    z"), 1) == "\n    y = 2"


def test_the_plan_accepts_shown_text_and_drops_duplicates_of_the_suffix() -> None:
    plan = rank_plan(CursorContext(PREFIX, SUFFIX), "inline", alternatives=2, lines=2, python=True)
    assert plan is not None
    assert plan.accept("    for item in items:\n") == "    for item in items:"
    assert plan.accept("        total += item\n") is None
    assert plan.contenders(["    total = 1", "    for item in items:"]) == ["    for item in items:"]


def test_only_code_that_keeps_compiling_contends_unless_none_does() -> None:
    ctx = CursorContext(PREFIX, SUFFIX)
    assert keeps_compiling(["    total = 1", "    for item in items:"], ctx) == ["    for item in items:"]
    assert keeps_compiling(["    total = 1", "    x = 2"], ctx) == ["    total = 1", "    x = 2"]


def test_choose_takes_the_best_score_and_a_lone_contender_unscored() -> None:
    low, high = Candidate("    a = 1", score=-9.0), Candidate("    b = 2", score=-3.0)
    assert choose([low, high]) == high
    assert choose([Candidate("    only = 1", score=None)]) == Candidate("    only = 1", score=None)
    assert choose([]) is None
