"""What of a document goes to the model: bounded by the prompt budget, and stable while the user types."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from keystroke.domain.editor.window import upload_window, window_chars

LINES = st.lists(st.text(alphabet="abc =()\t", max_size=30), max_size=400).map("\n".join)


@given(LINES, LINES, st.integers(min_value=8, max_value=2000))
def test_the_window_is_the_end_of_the_prefix_and_the_start_of_the_suffix(prefix: str, suffix: str, limit: int) -> None:
    sent_prefix, sent_suffix = upload_window(prefix, suffix, limit)
    assert prefix.endswith(sent_prefix)
    assert suffix.startswith(sent_suffix)
    assert len(sent_prefix) <= limit
    assert len(sent_suffix) <= limit
    if len(prefix) > limit:
        assert len(sent_prefix) >= limit // 2 - 1 or "\n" not in prefix[-limit:]
    if len(suffix) <= limit:
        assert sent_suffix == suffix


def test_the_start_of_the_window_moves_once_per_quarter_window_typed() -> None:
    text = "".join(f"line {n} = {n} * 2\n" for n in range(5000))
    limit = 2000
    moves, last, start = [], None, 0
    for typed in range(0, 3000, 7):
        prefix = text + ("value = value + 1\n" * 200)[:typed]
        sent, _ = upload_window(prefix, "", limit)
        start = len(prefix) - len(sent)
        assert prefix[start - 1] == "\n"  # always at a line start
        if last is not None and start != last:
            moves.append(typed)
        last = start
    assert 5 <= len(moves) <= 7
    assert all(later - earlier >= limit // 4 - 40 for earlier, later in itertools.pairwise(moves))


def test_the_window_for_the_default_budget() -> None:
    assert window_chars(1024) == 16384
    six_mb = "x = 1\n" * 1_000_000
    sent_prefix, sent_suffix = upload_window(six_mb, six_mb, window_chars(1024))
    assert 8192 <= len(sent_prefix) <= 16384
    assert 8192 <= len(sent_suffix) <= 16384
