"""Applying an editor's changes where it says they are: positions in UTF-16, UTF-8 or code points, several
changes of one keystroke in order, whole texts compared; and the document's rhythm that follows keystrokes."""

from __future__ import annotations

import pytest

from keystroke.domain.context.typing_rate import Depth
from keystroke.domain.editor.edits import Change, TextEdit, apply_edit, offset_at, text_change
from keystroke.domain.editor.triggers import DebounceSettings, Rhythm, Trigger
from keystroke.domain.privacy.exclusion import ExclusionRules
from keystroke.services.context import typing_thresholds
from keystroke.services.editor.documents import Documents
from tests.conftest import make_settings

EMOJI = "x = '😀'; y"  # the emoji is 2 UTF-16 code units, 4 UTF-8 bytes, 1 code point


@pytest.mark.parametrize(
    ("text", "position", "units", "offset"),
    [
        ("ab\ncd", (1, 1), "utf-16", 4),
        ("ab\r\ncd", (1, 2), "utf-16", 6),
        ("ab\rcd\nef", (2, 1), "utf-16", 7),  # a lone carriage return ends a line too
        ("ab\ncd", (0, 99), "utf-16", 2),  # past the line's end: the end of the line
        ("ab\ncd", (7, 0), "utf-16", 5),  # past the last line: the end of the text
        (EMOJI, (0, 8), "utf-16", 7),  # after the emoji and its closing quote: 8 UTF-16 units, 7 code points
        (EMOJI, (0, 10), "utf-8", 7),
        (EMOJI, (0, 7), "utf-32", 7),
    ],
)
def test_offset_of_a_position_in_the_clients_units(
    text: str, position: tuple[int, int], units: str, offset: int
) -> None:
    assert offset_at(text, position, units) == offset  # type: ignore[arg-type]


def test_an_edit_is_applied_where_the_editor_says_and_reports_what_changed() -> None:
    text, change = apply_edit("def f():\n    return 1\n", TextEdit((1, 11), (1, 12), "42"))
    assert text == "def f():\n    return 42\n"
    assert change == Change(20, "1", "42")
    assert change.cursor == 22


def test_an_edit_the_comparison_would_misplace_is_placed_exactly() -> None:
    # typing "a" after "aa": comparing texts puts the insertion at the end of the run, the editor says where
    text, change = apply_edit("aa", TextEdit((0, 0), (0, 0), "a"))
    assert (text, change.start) == ("aaa", 0)
    assert text_change("aa", "aaa").start == 2


def test_the_document_applies_several_changes_of_one_keystroke_in_order() -> None:
    settings = make_settings()
    documents = Documents(ExclusionRules(), None, DebounceSettings(), typing_thresholds(settings.context))
    document = documents.open("file:///a.py", "x = 1\ny = 2\n", 1, None, "/a.py")
    assert document.language == "python"  # from the file name
    change = document.apply(2, [TextEdit((0, 4), (0, 5), "10"), TextEdit((1, 4), (1, 5), "20")], at=1.0)
    assert document.text == "x = 10\ny = 20\n"
    assert (change.start, change.removed, change.inserted) == (5, "\ny = 2", "0\ny = 20")  # the two, as one
    assert document.session.version == 2
    document.apply(3, ["x = 10\ny = 20\nz = ("], at=1.1)  # a whole new text, compared
    assert document.trigger is Trigger.IMMEDIATE


def test_the_rhythm_picks_context_depth_from_keystrokes_and_pauses() -> None:
    rhythm = Rhythm(DebounceSettings(), typing_thresholds(make_settings().context))
    assert rhythm.depth(0.0) is Depth.FULL  # nothing typed yet
    for i in range(5):
        rhythm.keystroke(10.0 + i * 0.08, 1)  # 80 ms between keys
    assert rhythm.depth(10.40) is Depth.LIGHT  # asked right after a fast keystroke
    assert rhythm.depth(10.65) is Depth.REFRESH  # 330 ms since the last key
    assert rhythm.depth(11.50) is Depth.FULL  # a real pause
    rhythm.keystroke(12.0, 500)  # a paste
    assert rhythm.depth(12.1) is Depth.LIGHT
