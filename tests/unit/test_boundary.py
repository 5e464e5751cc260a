import re

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


class MergingTokenizer:
    """Qwen-like: punctuation merges with the line ends after it (`:\n` is one token), words are tokens."""

    PIECE = re.compile(r"[ ]?[^\s\w]+\n*|\n+|[ ]?\w+|[ ]+(?=[ ][^ \n])|[ ]+")

    def tail_start(self, text: str, max_tokens: int) -> int:
        pieces = [m.start() for m in self.PIECE.finditer(text)]
        return pieces[-max_tokens] if len(pieces) > max_tokens else 0

    def count_tokens(self, text: str) -> int:
        return len(self.PIECE.findall(text))

    def head_end(self, text: str, max_tokens: int) -> int:
        raise NotImplementedError


def test_with_the_models_tokenizer_its_whole_last_token_is_taken_back() -> None:
    tokenizer = MergingTokenizer()
    assert split_boundary('    x\n    """\n\n', tokenizer) == ("    x\n   ", ' """\n\n')
    assert split_boundary("    for x in y:\n", tokenizer) == ("    for x in y", ":\n")
    # the last pre-token is still taken back when the tokenizer's last token is shorter
    assert split_boundary("def f():\n    ", tokenizer) == ("def f():", "\n    ")


def test_a_last_token_longer_than_the_limit_falls_back_to_the_pre_token() -> None:
    tokenizer = MergingTokenizer()
    prefix = "x = " + "(" * (MAX_HEAL_CHARS + 5)
    kept, heal = split_boundary(prefix, tokenizer)
    assert kept + heal == prefix
    assert heal == ""  # the punctuation run is the pre-token too, and too long for either


@given(st.text(max_size=200))
def test_the_split_always_reassembles_the_prefix(prefix: str) -> None:
    for tokenizer in (None, MergingTokenizer()):
        kept, heal = split_boundary(prefix, tokenizer)
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
