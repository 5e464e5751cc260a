import pytest

from keystroke.domain.cursor import CursorContext
from keystroke.domain.postprocess.modes import resolve_mode
from keystroke.domain.postprocess.shaping import shape

FUNCTION = "def total(items):\n    result = 0\n"


def inline(raw: str, prefix: str = FUNCTION, suffix: str = "", tail: str = "open"):  # type: ignore[no-untyped-def]
    return shape(raw, CursorContext(prefix, suffix), "inline", tail=tail)  # type: ignore[arg-type]


def test_inline_waits_for_the_newline_then_stops_with_the_first_line() -> None:
    assert not inline("    for item in it").complete
    shaped = inline("    for item in items:\n        result")
    assert shaped.complete
    assert shaped.text == "    for item in items:"


def test_inline_line_ended_by_the_model_counts_when_the_generation_is_over() -> None:
    assert inline("    return result", tail="complete").text == "    return result"


def test_a_line_cut_by_the_token_cap_is_not_shown() -> None:
    shaped = inline("    return some_very_long", tail="truncated")
    assert (shaped.text, shaped.abstain) == ("", "truncated")


def test_completion_that_starts_on_the_next_line_keeps_one_newline() -> None:
    shaped = inline("\n    return 1\n", prefix="def f():")
    assert shaped.text == "\n    return 1"


def test_on_an_empty_line_a_leading_newline_moves_the_line_up() -> None:
    assert inline("\n    return result\n").text == "    return result"  # cursor in column 0
    indented = shape("\n    return result\n", CursorContext(FUNCTION + "    ", ""), "inline")
    assert indented.text == "return result"  # the line already has its indentation
    shallower = shape("\n  x = 1\n", CursorContext(FUNCTION + "    ", ""), "inline")
    assert shallower.text == "\n  x = 1"  # cannot move up without deleting: stays a new line


def test_only_blank_lines_abstain() -> None:
    assert inline("\n\n").abstain == "blank_lines"
    assert inline("", tail="complete").abstain == "empty"


def test_repeating_the_line_above_abstains() -> None:
    assert inline("    result = 0\n").abstain == "repeats_previous_line"


def test_writing_the_code_that_already_follows_abstains() -> None:
    shaped = inline("    return result\n", suffix="    return result\n")
    assert shaped.abstain == "duplicates_suffix"


def test_inline_never_repeats_the_rest_of_the_line() -> None:
    shaped = inline("x))\n", prefix="print(foo(", suffix="))\nnext()")
    assert shaped.text == "x"


MULTI_PREFIX = "def f(items):\n"


def multi(raw: str, suffix: str = "", tail: str = "open", max_lines: int = 10):  # type: ignore[no-untyped-def]
    return shape(raw, CursorContext(MULTI_PREFIX, suffix), "multiline", tail=tail, max_lines=max_lines)  # type: ignore[arg-type]


def test_multiline_ends_at_a_dedent() -> None:
    shaped = multi("    a = 1\n    return a\ndef g():\n")
    assert shaped.complete
    assert shaped.text == "    a = 1\n    return a"


def test_multiline_ends_at_a_blank_line() -> None:
    assert multi("    a = 1\n\n    b = 2\n").text == "    a = 1"


def test_multiline_stops_where_the_suffix_continues() -> None:
    shaped = multi("    a = 1\n    return a\n", suffix="    return a\n")
    assert shaped.text == "    a = 1"


def test_multiline_keeps_a_closing_bracket_line_and_respects_the_line_cap() -> None:
    closing = shape("    x = [\n        1,\n]\nmore\n", CursorContext(MULTI_PREFIX, ""), "multiline", max_lines=10)
    assert closing.text == "    x = [\n        1,\n]"
    assert multi("    a = 1\n    b = 2\n    c = 3\n", max_lines=2).text == "    a = 1\n    b = 2"


def test_multiline_streams_line_by_line_and_drops_a_truncated_last_line() -> None:
    partial = multi("    a = 1\n    b = 2\n    c")
    assert not partial.complete
    assert partial.text == "    a = 1\n    b = 2"
    assert multi("    a = 1\n    b = 2\n    c", tail="truncated").text == "    a = 1\n    b = 2"
    assert multi("    a = 1\n    b = 2", tail="complete").text == "    a = 1\n    b = 2"


@pytest.mark.parametrize(
    ("prefix", "suffix", "mode"),
    [
        ("def f():\n    ", "", "multiline"),  # an empty line
        ("def f():", "", "multiline"),  # after a block opener
        ("x = compute(", ")", "inline"),  # mid-line
        ("x = ", "", "inline"),
    ],
)
def test_auto_mode(prefix: str, suffix: str, mode: str) -> None:
    assert resolve_mode("auto", CursorContext(prefix, suffix)) == mode
    assert resolve_mode("inline", CursorContext(prefix, suffix)) == "inline"
