from hypothesis import given
from hypothesis import strategies as st

from keystroke.domain.prompt.boundary import _LAST_PIECE, MAX_HEAL_CHARS, split_boundary


def test_a_prompt_ending_on_a_newline_gives_the_newline_back_to_the_model() -> None:
    assert split_boundary("def f():\n") == ("def f():", "\n")


def test_indentation_after_the_newline_is_healed_with_it() -> None:
    assert split_boundary("def f():\n    ") == ("def f():", "\n    ")


def test_a_partial_word_is_healed_with_its_leading_space() -> None:
    assert split_boundary("    return sor") == ("    return", " sor")


def test_punctuation_runs_and_words_after_punctuation() -> None:
    assert split_boundary("print(") == ("print", "(")
    assert split_boundary("x = a ==") == ("x = a", " ==")
    assert split_boundary("x.y") == ("x.", "y")


def test_empty_prefix_and_overlong_tails_are_left_alone() -> None:
    assert split_boundary("") == ("", "")
    long_word = "a" * (MAX_HEAL_CHARS + 1)
    assert split_boundary("x = " + long_word) == ("x = " + long_word, "")


@given(st.text(max_size=200))
def test_the_split_always_reassembles_the_prefix(prefix: str) -> None:
    kept, heal = split_boundary(prefix)
    assert kept + heal == prefix
    assert len(heal) <= MAX_HEAL_CHARS


@given(st.text(alphabet=" \n\tab_:(.", max_size=80))
def test_searching_only_the_tail_agrees_with_searching_everything(prefix: str) -> None:
    match = _LAST_PIECE.search(prefix)
    expected = (
        (prefix, "")
        if match is None or len(match.group()) > MAX_HEAL_CHARS
        else (
            prefix[: match.start()],
            match.group(),
        )
    )
    assert split_boundary(prefix) == expected
