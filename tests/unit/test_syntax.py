from keystroke.domain.cursor import CursorContext
from keystroke.domain.postprocess.syntax import breaks_python, is_python

PREFIX = "import os\n\n\ndef count(items):\n    total = 0\n"
SUFFIX = "        total += item\n    return total\n\n\ndef other():\n    pass\n"


def test_a_line_that_opens_the_block_the_suffix_needs_compiles() -> None:
    assert not breaks_python(CursorContext(PREFIX, SUFFIX), "    for item in items:")


def test_a_line_that_leaves_the_suffix_wrongly_indented_is_blamed() -> None:
    assert breaks_python(CursorContext(PREFIX, SUFFIX), "    total = 1")


def test_an_error_far_from_the_cursor_is_not_blamed_on_the_suggestion() -> None:
    broken_later = SUFFIX.replace("    return total", "    return total\n    x = (")
    assert not breaks_python(CursorContext(PREFIX, broken_later), "    for item in items:")


def test_no_code_after_the_cursor_means_no_verdict() -> None:
    assert not breaks_python(CursorContext(PREFIX, ""), "    for item in items:")


def test_mid_line_completion_is_checked_in_place_with_the_rest_of_the_line() -> None:
    ctx = CursorContext("def f(x):\n    return g(x, ", ")\n\nprint(f(1))\n")
    assert not breaks_python(ctx, "1")
    assert breaks_python(ctx, "1))")


def test_python_is_recognised_by_language_or_path() -> None:
    assert is_python("python", None)
    assert is_python(None, "pkg/mod.py")
    assert not is_python("rust", "main.rs")
