import pytest

from keystroke.benchmarks.typing import typing_plan

SOURCE = "import os\n\n\ndef f(x):\n    if x:\n        return 1\n    return 0\n"


def test_each_keystroke_is_one_character_and_enter_brings_the_indentation() -> None:
    offsets = typing_plan(SOURCE, 100, start_fraction=0.0)
    typed = [SOURCE[a:b] for a, b in zip([0, *offsets], offsets, strict=False)]  # starts at offset 0
    assert typed[:3] == ["i", "m", "p"]
    assert "\n    " in typed  # Enter plus the auto-indent of "    if x:"
    assert "\n        " in typed
    assert "".join(typed) == SOURCE
    assert offsets == sorted(set(offsets))


def test_typing_starts_at_a_line_start_and_stops_at_the_requested_count() -> None:
    offsets = typing_plan(SOURCE, 5, start_fraction=0.5)
    assert len(offsets) == 5
    start = offsets[0] - 1
    assert SOURCE[start] != " "
    assert SOURCE[:start].rstrip(" ").endswith("\n")


def test_an_empty_file_cannot_be_typed() -> None:
    with pytest.raises(ValueError, match="empty"):
        typing_plan("  \n", 5)
