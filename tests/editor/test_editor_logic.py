"""The editor side's pure logic: trigger classes and debounce, routing, staleness, buffer words, typo fixes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keystroke.domain.editor.router import route
from keystroke.domain.editor.session import DocumentSession
from keystroke.domain.editor.triggers import DebounceSettings, Rhythm, Trigger, classify
from keystroke.domain.editor.words import complete_word, edit_distance, near_miss, partial_word, words_of


@pytest.mark.parametrize(
    ("inserted", "trigger"),
    [
        (".", Trigger.IMMEDIATE),
        ("(", Trigger.IMMEDIATE),
        ("\n    ", Trigger.IMMEDIATE),
        ("x", Trigger.TYPING),
        ("", Trigger.TYPING),
        (" ", Trigger.TYPING),
        ("foo.bar", Trigger.TYPING),
    ],
)
def test_trigger_classes(inserted: str, trigger: Trigger) -> None:
    assert classify(inserted) is trigger
    assert classify(inserted, invoked=True) is Trigger.INVOKED


def test_debounce_is_immediate_after_a_trigger_character_and_adapts_to_the_rhythm() -> None:
    rhythm = Rhythm()
    assert rhythm.delay_ms(Trigger.IMMEDIATE) == 0
    assert rhythm.delay_ms(Trigger.TYPING) == 150  # no rhythm yet
    for n in range(6):
        rhythm.keystroke(n * 0.060)  # a fast typist: 60 ms between keys
    assert rhythm.delay_ms(Trigger.TYPING) == 100  # floor
    slow = Rhythm()
    for n in range(6):
        slow.keystroke(n * 0.200)
    assert slow.delay_ms(Trigger.TYPING) == pytest.approx(250)
    slow.keystroke(100.0)  # a long pause is not an interval of typing
    assert slow.delay_ms(Trigger.TYPING) == pytest.approx(250)
    crawl = Rhythm(DebounceSettings(max_ms=300))
    for n in range(6):
        crawl.keystroke(n * 0.900)
    assert crawl.delay_ms(Trigger.TYPING) == 300


@pytest.mark.parametrize(
    ("before", "after", "previous", "lane", "reason"),
    [
        ("    x = self.", "", "", "local", "after a member access"),
        ("    x = self.na", ")", "", "local", "after a member access"),
        ("    print(", ")", "", "local", "inside a call's open parenthesis"),
        ("    total = price * ", "", "", "inline", "end of a line"),
        ("    total = ", " + 1", "", "inline", "middle of a line"),
        ("def area(r: float) -> float:", "", "", "multiline", "after a block opener"),
        ("    ", "", "def area(r: float) -> float:", "multiline", "first line of a new block"),
        ("    ", "", "    x = 1", "multiline", "empty line inside a block"),
        ("", "", "", "inline", "empty line"),
        ("    ", "", "", "inline", "empty line"),
    ],
)
def test_router(before: str, after: str, previous: str, lane: str, reason: str) -> None:
    chosen = route(before, after, previous)
    assert (chosen.lane, chosen.reason) == (lane, reason)


def test_only_the_newest_request_for_the_current_version_and_cursor_is_current() -> None:
    doc = DocumentSession("file:///a.py", version=1)
    first = doc.ticket((3, 4))
    assert doc.is_current(first)
    second = doc.ticket((3, 5))
    assert second.request_id > first.request_id
    assert not doc.is_current(first)  # superseded
    assert doc.is_current(second)
    doc.changed(2)
    assert not doc.is_current(second)  # computed for version 1
    third = doc.ticket((3, 6))
    doc.position = (4, 0)  # the cursor moved away
    assert not doc.is_current(third)
    assert doc.superseded == 2


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3)), max_size=30))
def test_a_result_is_current_only_for_the_state_it_was_asked_in(events: list[tuple[bool, int]]) -> None:
    doc = DocumentSession("file:///b.py")
    tickets = []
    version = 0
    for edit, column in events:
        if edit:
            version += 1
            doc.changed(version)
        tickets.append(doc.ticket((0, column)))
    for ticket in tickets[:-1]:
        assert not doc.is_current(ticket)
    if tickets:
        assert doc.is_current(tickets[-1])


def test_a_request_only_follows_the_cursor_when_nothing_was_typed_since_the_last_one() -> None:
    doc = DocumentSession("file:///c.py", version=1)
    assert not doc.moved((0, 3))  # the first request of a document
    doc.ticket((0, 3))
    assert not doc.moved((0, 3))  # asked again where it was
    assert doc.moved((5, 0))  # a click elsewhere
    doc.ticket((5, 0))
    assert doc.moved((0, 3))  # and back
    doc.changed(2)
    assert not doc.moved((0, 4))  # typing moves the cursor too: that is an edit


def test_buffer_words_complete_the_partial_word() -> None:
    vocabulary = words_of(["total_price = unit_price * quantity\nprint(total_price)", "def total_tax(): ..."])
    assert partial_word("    x = tot") == "tot"
    assert complete_word("tot", vocabulary) == ["total_price", "total_tax"]
    assert complete_word("", vocabulary) == []
    assert complete_word("zzz", vocabulary) == []


@pytest.mark.parametrize(
    ("word", "fixed"),
    [
        ("pritn", "print"),
        ("prnt", "print"),
        ("pprint", None),
        ("lenght", "length"),
        ("print", None),
        ("xy", None),
        ("quantiyt", "quantity"),
        ("qunatity", "quantity"),
        ("rpint", None),
    ],
)
def test_near_miss(word: str, fixed: str | None) -> None:
    assert near_miss(word, ["print", "length", "quantity", "pprint"]) == fixed


@given(st.text("abc", max_size=7), st.text("abc", max_size=7))
def test_edit_distance_is_symmetric_and_bounded(a: str, b: str) -> None:
    limit = 2
    d = edit_distance(a, b, limit)
    assert d == edit_distance(b, a, limit)
    assert (d == 0) == (a == b)
    assert d <= max(len(a), len(b)) or d == limit + 1
