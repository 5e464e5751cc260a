import pytest

from keystroke.domain.postprocess.overlap import trim_overlap


@pytest.mark.parametrize(
    ("completion", "line_prefix", "rest", "expected"),
    [
        ("x))", "print(foo(", "))", "x"),  # closes what the prefix opened: the editor already has it
        ("f(x)", "print(foo(", "))", "f(x)"),  # its own brackets stay
        (' world")', 'print("hello', '")', " world"),  # an auto-closed string
        ("a, b):", "def f(", "):", "a, b"),
        ("1", "x = ", "", "1"),  # nothing after the cursor
        ("value + 1", "y = ", "value + 1", ""),  # it only repeats the rest of the line
        ("a + b", "s = (", ")", "a + b"),
        ("items[0]", "x = ", "]", "items[0]"),  # ']' is matched inside the completion
        ("name  ", "x = ", "", "name"),  # trailing spaces go
    ],
)
def test_trim_overlap(completion: str, line_prefix: str, rest: str, expected: str) -> None:
    assert trim_overlap(completion, line_prefix, rest) == expected
