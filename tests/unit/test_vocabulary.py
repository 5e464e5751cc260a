from keystroke.domain.engines.vocabulary import Vocabulary


def make() -> Vocabulary:
    pieces = [b"\n", b"\n   ", b"\n       ", b" for", b" f", b"f", b"or", b"", b" fo", b" ", b"x"]
    return Vocabulary(pieces, {"<|endoftext|>": 7}, frozenset({7}))


def test_consistent_ids_are_tokens_that_continue_or_complete_the_forced_text() -> None:
    vocab = make()
    assert sorted(vocab.consistent_ids(b"\n").tolist()) == [0, 1, 2]
    assert sorted(vocab.consistent_ids(b" fo").tolist()) == [3, 4, 8, 9]
    assert vocab.consistent_ids(b"zz").tolist() == []


def test_a_forced_line_end_is_never_finished_by_a_token_that_adds_a_blank_line() -> None:
    vocab = Vocabulary([b":\n", b":\n\n", b":\n   ", b":", b"\n", b"\n\n", b":\r\n"], {}, frozenset())
    assert sorted(vocab.consistent_ids(b":\n").tolist()) == [0, 2, 3]
    assert sorted(vocab.consistent_ids(b"\n").tolist()) == [4]
    assert sorted(vocab.consistent_ids(b":").tolist()) == [0, 1, 2, 3, 6]  # not a line end: anything goes


def test_special_tokens_never_count_as_text() -> None:
    assert 7 not in make().consistent_ids(b"").tolist()


def test_fingerprint_changes_with_the_vocabulary() -> None:
    other = Vocabulary([b"a", b"b"], {}, frozenset())
    assert make().fingerprint != other.fingerprint
    assert make().fingerprint == make().fingerprint
