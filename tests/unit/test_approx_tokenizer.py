"""The token estimate for remote models without a local vocabulary: over-counts, cuts on characters."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from keystroke.domain.engines.approx_tokenizer import ApproxTokenizer

TOKENIZER = ApproxTokenizer()


def test_three_bytes_count_as_one_token_rounded_up() -> None:
    assert TOKENIZER.count_tokens("") == 0
    assert TOKENIZER.count_tokens("abc") == 1
    assert TOKENIZER.count_tokens("abcd") == 2
    assert TOKENIZER.count_tokens("é") == 1  # two bytes


@given(st.text(max_size=200), st.integers(min_value=0, max_value=80))
def test_cuts_fit_the_budget_and_keep_as_much_as_fits(text: str, budget: int) -> None:
    tail = text[TOKENIZER.tail_start(text, budget) :]
    head = text[: TOKENIZER.head_end(text, budget)]
    assert TOKENIZER.count_tokens(tail) <= budget
    assert TOKENIZER.count_tokens(head) <= budget
    assert text.endswith(tail)
    assert text.startswith(head)
    if TOKENIZER.count_tokens(text) <= budget:
        assert tail == text
        assert head == text
