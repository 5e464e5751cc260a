from keystroke.domain.cursor import CursorContext, indent_width


def test_lines_around_the_cursor() -> None:
    ctx = CursorContext("a = 1\n\n    b = 2\n    c", "d = 3\n\n  e\nf")
    assert ctx.line_prefix == "    c"
    assert ctx.line_suffix == "d = 3"
    assert ctx.previous_line == "    b = 2"
    assert ctx.next_line == "d = 3"


def test_next_line_skips_blank_lines_and_previous_line_skips_blank_lines() -> None:
    ctx = CursorContext("x = 1\n\n\n", "\n\n    y = 2\n")
    assert ctx.previous_line == "x = 1"
    assert ctx.next_line == "    y = 2"
    assert ctx.at_blank_line


def test_top_of_file_and_end_of_file() -> None:
    ctx = CursorContext("", "")
    assert (ctx.line_prefix, ctx.line_suffix, ctx.previous_line, ctx.next_line) == ("", "", "", "")


def test_block_opener() -> None:
    assert CursorContext("def f():", "").after_block_opener
    assert not CursorContext("x = 1", "").after_block_opener
    assert not CursorContext("def f():", " pass").after_block_opener


def test_indent_width_counts_tabs_as_four() -> None:
    assert indent_width("\t  x") == 6
    assert indent_width("x") == 0
    assert indent_width("    ") == 4
